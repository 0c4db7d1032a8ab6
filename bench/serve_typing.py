"""The typing part of ``bench serve``: editor completions alone, then while 4 API clients stream chat answers.

One process plays the window: a chat engine host (the starter model) and a
completion engine host (``bench remote``'s FIM model) behind their
``EngineController``s, the editor's ``CompletionService``, and the window's
local server (``ApiScheduler`` lanes under ``LocalServer``). The same typing
session runs twice: first with no API traffic, then while four ``openai``
clients on threads of their own stream chat answers through the server one
after another. The figure is the time to the first shown suggestion, as in
``bench fim``; the API side's streamed pieces count shows the load was real.
"""

from __future__ import annotations

import functools
import statistics
import threading
import time
from pathlib import Path

from bench.fim import EDITS, _percentile, _typing_session
from bench.remote_typing import _local, _Typing, fim_model, wait_until

API_CLIENTS = 4
API_MAX_TOKENS = 48
TOKEN = "bench-serve-token-0123456789"
CHAT_PROMPT = "Write a Python function that parses a CSV file and returns a list of dictionaries."


class _ApiLoad:
    """``API_CLIENTS`` openai clients, each streaming chat answers back to back until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.pieces = 0
        self.answers = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(API_CLIENTS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        import openai

        with openai.OpenAI(base_url=f"{self.url}/v1", api_key=TOKEN, max_retries=0, timeout=600) as client:
            while not self.stop.is_set():
                try:
                    stream = client.chat.completions.create(
                        model="chat",
                        messages=[{"role": "user", "content": CHAT_PROMPT}],
                        max_tokens=API_MAX_TOKENS,
                        stream=True,
                    )
                    for chunk in stream:
                        if chunk.choices and chunk.choices[0].delta.content:
                            with self._lock:
                                self.pieces += 1
                        if self.stop.is_set():
                            stream.close()
                            break
                    with self._lock:
                        self.answers += 1
                except Exception as exc:  # noqa: BLE001 - reported in the figures
                    if not self.stop.is_set():
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                        return

    def ended(self) -> bool:
        return all(not thread.is_alive() for thread in self._threads)


def _type(typing: _Typing, points: list[tuple[str, str]]) -> list[float]:
    """Play the session from an empty suggestion cache; return the latencies of this run."""
    typing.service.cache.clear()
    typing.latencies.clear()
    for prefix, suffix in points:
        typing.complete(prefix, suffix)
    return list(typing.latencies)


def typing_under_api_load(app, folder: Path, source: str, quick: bool) -> dict:
    """Type the session alone, then under four streaming API clients; return both medians and their ratio."""
    from app.core.models.load_params import LoadParams
    from app.core.models.starter import starter_model_path
    from app.server.runner import LocalServer
    from app.services.api_lanes import ApiScheduler
    from app.services.engine_worker import EngineController

    points = list(_typing_session(source, EDITS[:1] if quick else EDITS[:3]))
    model = fim_model(folder, source)
    typing = _Typing(app, "bench-serve-fim", functools.partial(_local, folder), str(model), None)
    chat = EngineController("bench-serve-chat", functools.partial(_local, folder))
    scheduler = ApiScheduler({"chat": chat, "completion": typing.controller})
    scheduler.models["completion"] = typing.loaded_model  # loaded before the scheduler listened
    server: LocalServer | None = None
    load: _ApiLoad | None = None
    try:
        chat.load(str(starter_model_path(folder)), LoadParams(n_ctx=2048, n_gpu_layers=0))
        wait_until(app, lambda: all(scheduler.models.values()), 120)
        server = LocalServer(scheduler.lanes(), token=TOKEN)
        server.start()
        typing.complete(*points[0], record=False)  # loads the file's prompt into the engine
        idle = _type(typing, points)
        load = _ApiLoad(server.url)
        load.start()
        wait_until(app, lambda: load.pieces > 0 or bool(load.errors), 120)  # the API load is streaming
        started, pieces_before = time.perf_counter(), load.pieces
        busy = _type(typing, points)
        api_rate = (load.pieces - pieces_before) / (time.perf_counter() - started)
        load.stop.set()
        scheduler.stop()  # ends the answers in flight, so the clients see their streams end
        wait_until(app, load.ended, 60)  # the GUI thread keeps relaying while the clients finish
    finally:
        if load is not None:
            load.stop.set()
        if server is not None:
            server.stop()
        typing.close()
        chat.shutdown(3000)
    if load.errors:
        raise RuntimeError(f"an API client failed: {load.errors[0]}")
    p50_idle, p50_busy = statistics.median(idle), statistics.median(busy)
    return {
        "typing_p50_ms": round(p50_idle, 1),
        "typing_p50_ms_under_api_load": round(p50_busy, 1),
        "typing_load_ratio": round(p50_busy / p50_idle, 3),
        "typing_p95_ms": round(_percentile(idle, 0.95), 1),
        "typing_p95_ms_under_api_load": round(_percentile(busy, 0.95), 1),
        "typing_requests": len(idle),
        "api_clients": API_CLIENTS,
        "api_answers": load.answers,
        "api_pieces_per_s_while_typing": round(api_rate, 2),
    }
