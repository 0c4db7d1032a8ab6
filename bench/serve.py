"""``bench serve``: a chat answer streamed through ``fimble serve`` and the openai client vs raw llama-cpp-python.

Fimble's side starts ``fimble serve --json`` on a free loopback port with the
starter model, reads its URL and token from the first line, and streams a
chat answer with the ``openai`` package, as an editor plugin would; tokens/s
runs from the first to the last content chunk the client receives. The raw
side generates the same number of tokens after the same prompt in a plain
llama-cpp-python loop in this process. Rounds alternate, one side at a time.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import raw_decode_rate

PROMPT = "Write a Python function that parses a CSV file and returns a list of dictionaries."


def run(quick: bool) -> dict:
    """Measure both sides; return the throughput ratio and both rates."""
    import llama_cpp
    import openai

    from app.core.models.starter import starter_model_path

    rounds, n_tokens = (2, 64) if quick else (5, 200)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = str(starter_model_path(folder))
        env = dict(os.environ, FIMBLE_HOME=str(folder / "home"))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--chat-model",
                model,
                "--completion-model",
                model,
                "--port",
                "0",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        try:
            assert server.stdout is not None
            first = json.loads(server.stdout.readline())
            client = openai.OpenAI(base_url=f"{first['url']}/v1", api_key=first["token"])
            model_id = client.models.list().data[0].id
            raw = llama_cpp.Llama(model_path=model, n_ctx=2048, verbose=False)
            prompt = raw.tokenize(PROMPT.encode(), add_bos=True)
            fimble_tps, raw_tps = [], []
            try:
                for _ in range(rounds):
                    fimble_tps.append(_served_rate(client, model_id, n_tokens))
                    raw_tps.append(raw_decode_rate(raw, prompt, n_tokens))
            finally:
                raw.close()
        finally:
            server.send_signal(signal.SIGINT)
            code = server.wait(timeout=60)
    fimble, baseline = statistics.median(fimble_tps), statistics.median(raw_tps)
    typing = _typing_figures(quick)
    return {
        "throughput_ratio": round(fimble / baseline, 3),
        "fimble_tokens_per_s": round(fimble, 2),
        "raw_tokens_per_s": round(baseline, 2),
        "rounds": rounds,
        "tokens_per_round": n_tokens,
        "serve_exit_code": code,
        "model": Path(model).name,
        **typing,
    }


def _typing_figures(quick: bool) -> dict:
    """Editor completions alone and under streaming API clients (``bench.serve_typing``)."""
    import inspect
    import queue as queue_module

    from PySide6.QtCore import QCoreApplication

    from bench.serve_typing import typing_under_api_load

    app = QCoreApplication.instance() or QCoreApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        return typing_under_api_load(app, folder, inspect.getsource(queue_module), quick)


def _served_rate(client, model_id: str, n_tokens: int) -> float:
    arrivals: list[float] = []
    stream = client.chat.completions.create(
        model=model_id,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=n_tokens,
        temperature=0.0,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter())
    if len(arrivals) < 2:
        raise RuntimeError("the server streamed fewer than two pieces")
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
