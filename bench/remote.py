"""``bench remote``: a remote engine against a bare stream, and remote FIM typing against a local engine.

Two comparisons, each made in one run on one machine, one side after the
other (never two generations at once):

* **Chat throughput.** llama-cpp-python's OpenAI-compatible server
  (``bench/llama_server.py``) serves the starter model. A chat answer streams
  through the window's path, ``RemoteEngine`` in an ``EngineWorker`` thread,
  ``ChatService`` and the real chat pane, and is timed from the first to the
  last piece arriving on the GUI thread. The baseline sends the same body to
  the same server with a bare ``httpx2`` SSE loop and times the first to the
  last content delta. Rounds alternate; the figures are medians. Where it
  can (Linux, 2 cores or more), the server gets one core to itself and this
  process the others while the chat part runs, as if the server were another
  machine: otherwise the scheduler now and then runs the client's per-piece
  work (the worker's wake-up, the pane's rendering) on the server's core, and
  the server, not the client's path, slows by a few percent.
* **FIM typing.** The editor's path, ``CompletionService`` over an engine,
  replays the typing session of ``bench fim`` (bursts of keystrokes, then a
  request; the time to the first shown suggestion) on a remote engine, then
  on a local engine host, with the same FIM model file, threads and context.
  The starter model has no FIM tokens, so this part uses a generated
  random-weight Code Llama-vocabulary model (``remote_typing.fim_model``).

Keys: ``throughput_ratio`` (window path / bare loop, medians of tokens/s),
``pipeline_ratio`` (within each window answer: tokens/s shown on the GUI
thread / tokens/s the remote engine read off the socket; what the client's
own path costs, apart from how fast the server ran in that round),
``typing_p50_ms`` / ``typing_p50_ms_local`` and their ``typing_ratio``, p95s,
request counts, ``server``, ``chat_model`` (chat) and ``model`` (FIM), the
threads both sides use, and the load average before and after the run.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import queue as queue_module
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.llama_server import LlamaServer
from bench.remote_typing import fim_model, typing_figures, wait_until

if TYPE_CHECKING:
    from app.core.generation.contracts import GenerationStats

PROMPT = "Write a Python function that parses a CSV file and returns a list of dictionaries."
# With no system message the server's default chat format gets an empty answer from the starter model.
SYSTEM = "You are a helpful coding assistant."
CHAT_CTX = 2048
THREADS = 1  # llama.cpp threads on both sides; the other core is left to the client and the window
SERVER_KIND = "llama-cpp-python server"


def _core_split() -> tuple[set[int], set[int]] | None:
    """(the server's core, this process's cores), or None where cores cannot be set or there is one."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {cores[0]}, set(cores[1:])


def _remote_engine(base_url: str, role: str):
    from app.engine.remote.engine import RemoteEngine

    return RemoteEngine(role, base_url)


def run(quick: bool) -> dict:
    """Measure both comparisons; return one flat dict of figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.core.models.starter import starter_model_path

    app = QApplication.instance() or QApplication([])
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        starter = starter_model_path(folder)
        split = _core_split()
        own_cores = os.sched_getaffinity(0) if split else None
        try:
            if split:
                os.sched_setaffinity(0, split[1])  # threads started from now on keep to these cores
            with LlamaServer(
                starter, alias="gemma-3-270m", n_ctx=CHAT_CTX, n_threads=THREADS, cpus=split[0] if split else None
            ) as server:
                chat = _chat_figures(app, server.base_url, folder, quick)
        finally:
            if own_cores:
                os.sched_setaffinity(0, own_cores)
        source = inspect.getsource(queue_module)  # the file bench fim edits
        model = fim_model(folder, source)
        typing = typing_figures(app, model, folder, source, quick, THREADS)
    return {
        **chat,
        "chat_server_own_core": bool(split),
        **typing,
        "server": SERVER_KIND,
        "chat_model": starter.name,
        "model": model.name,
        "n_threads": THREADS,
        # Other programs compete for the cores: the 1-minute load average before and after.
        "load_average": [round(load_at_start[0], 2), round(os.getloadavg()[0], 2)],
        "cores": os.cpu_count(),
    }


def _chat_figures(app, base_url: str, folder: Path, quick: bool) -> dict:
    """Chat tokens/s through the window's path and through a bare SSE loop, alternating."""
    from app.core.chat.store import ChatStore
    from app.core.generation.contracts import ChatMessage, ChatRequest
    from app.core.models.load_params import LoadParams
    from app.engine.remote.engine import RemoteEngine
    from app.services.chat_service import ChatService
    from app.services.engine_worker import EngineController
    from app.ui.chat_pane import ChatPane

    rounds, n_tokens = (2, 48) if quick else (7, 200)
    store = ChatStore(folder / "chats.sqlite3")
    controller = EngineController("bench-remote-chat", functools.partial(_remote_engine, base_url))
    service = ChatService(controller, store)
    pane = ChatPane(service)
    pane.resize(700, 800)
    pane.show()
    loaded: list[object] = []
    failures: list[str] = []
    controller.worker.loaded.connect(loaded.append)
    controller.worker.load_failed.connect(failures.append)
    sampling = {"max_tokens": n_tokens, "temperature": 0.0}
    try:
        controller.load("gemma-3-270m", LoadParams(n_ctx=CHAT_CTX, n_threads=THREADS))
        wait_until(app, lambda: loaded or failures, 60)
        if failures:
            raise RuntimeError(f"the remote model did not load: {failures[0]}")
        _fresh_conversation(service, sampling)
        request = ChatRequest((ChatMessage("system", SYSTEM), ChatMessage("user", PROMPT)), service.sampling())
        engine = controller.worker.engine
        assert isinstance(engine, RemoteEngine)
        body = engine.body(request)
        _bare_round(base_url, body)  # the server evaluates the prompt once before the timed rounds
        window, bare = [], []
        for _ in range(rounds):
            _fresh_conversation(service, sampling)  # the same two messages as the bare side
            window.append(_window_round(app, service))
            bare.append(_bare_round(base_url, body))
    finally:
        service.shutdown()
        controller.shutdown(3000)
        store.close()
        pane.close()
    window_tps = statistics.median(rate for rate, _, _ in window)
    bare_tps = statistics.median(rate for rate, _ in bare)
    return {
        "throughput_ratio": round(window_tps / bare_tps, 3),
        "chat_tokens_per_s": round(window_tps, 2),
        "bare_tokens_per_s": round(bare_tps, 2),
        # The same answers as the remote engine read them off the stream, in the worker
        # thread: shown / read within one answer is what the client's path (the thread
        # hop, the service, the pane) costs, whatever the server's speed in that round.
        "chat_engine_tokens_per_s": round(statistics.median(engine for _, _, engine in window), 2),
        "pipeline_ratio": round(statistics.median(rate / engine for rate, _, engine in window), 3),
        "chat_tokens": [count for _, count, _ in window],
        "bare_tokens": [count for _, count in bare],
        "chat_rounds": rounds,
        "chat_max_tokens": n_tokens,
    }


def _fresh_conversation(service, sampling: dict) -> None:
    conversation = service.new_conversation()
    service.store.set_sampling(conversation.id, sampling)
    service.store.set_system_prompt(conversation.id, SYSTEM)


class _Answer:
    """Arrival times of one answer's pieces on the GUI thread (bound slots, not lambdas)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.stats: GenerationStats | None = None
        self.error: str | None = None

    def piece(self, _job: int, _text: str) -> None:
        self.arrivals.append(time.perf_counter())

    def finished(self, _job: int, stats: GenerationStats) -> None:
        self.stats = stats

    def failed(self, _job: int, message: str) -> None:
        self.error = message

    def done(self) -> bool:
        return self.stats is not None or self.error is not None


def _window_round(app, service) -> tuple[float, int, float]:
    """One answer in the chat pane's path.

    Returns:
        (tokens/s from the first to the last piece shown, tokens, tokens/s
        the remote engine measured reading the stream).
    """
    answer = _Answer()
    service.answer_piece.connect(answer.piece)
    service.answer_finished.connect(answer.finished)
    service.answer_failed.connect(answer.failed)
    try:
        service.send(PROMPT)
        wait_until(app, answer.done, 300)
    finally:
        service.answer_piece.disconnect(answer.piece)
        service.answer_finished.disconnect(answer.finished)
        service.answer_failed.disconnect(answer.failed)
    if answer.stats is None:
        raise RuntimeError(f"the remote answer failed: {answer.error}")
    tokens = answer.stats.generated_tokens
    return _rate(tokens, answer.arrivals), tokens, answer.stats.tokens_per_s


def _bare_round(base_url: str, body: dict) -> tuple[float, int]:
    """(tokens/s from the first to the last content delta, tokens) read by a plain SSE loop."""
    import httpx2

    arrivals: list[float] = []
    with (
        httpx2.Client(base_url=base_url, timeout=httpx2.Timeout(30.0)) as http,
        http.stream("POST", "/v1/chat/completions", json=dict(body, stream=True)) as response,
    ):
        response.raise_for_status()
        for event in httpx2.EventSource(response):
            data = event.data.strip()
            if data == "[DONE]":
                break
            if not data:
                continue
            choices = json.loads(data).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                arrivals.append(time.perf_counter())
    return _rate(len(arrivals), arrivals), len(arrivals)


def _rate(tokens: int, arrivals: list[float]) -> float:
    if tokens < 2 or len(arrivals) < 2 or arrivals[-1] <= arrivals[0]:
        raise RuntimeError(f"too short an answer to time ({tokens} tokens)")
    return (tokens - 1) / (arrivals[-1] - arrivals[0])
