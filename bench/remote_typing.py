"""The FIM part of ``bench remote``: the typing session on a remote engine, then on a local engine host.

Both sides run the editor's path, ``CompletionService`` in front of an
``EngineController``, with the same tuning and the same keystroke bursts as
``bench fim``; only the engine behind it differs: ``RemoteEngine`` talking to
``python -m llama_cpp.server`` on 127.0.0.1, or the usual ``HostEngine``. The
server is stopped before the local host loads, so the two never compete for
the cores.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import wait_until as common_wait_until
from bench.fim import EDITS, _percentile, _typing_session
from bench.llama_server import LlamaServer

FIM_CTX = 4096
MAX_TOKENS = 24
# A Code Llama-vocabulary model with random weights, big enough that llama.cpp's work is not
# negligible next to the transport (about 37M parameters, F16): its FIM tokens are real
# control tokens on both sides, and its greedy answers are visible text.
FIM_SHAPE: dict[str, Any] = {"n_embd": 512, "n_layers": 12, "n_head": 8, "n_head_kv": 2, "n_ff": 1536}
# The edited file's most common words join the tiny vocabulary, so that the file tokenizes at
# about 3 characters a token, like a real code model: the remote engine cuts its window by
# characters at that rate, the local one by tokens, so both then send windows of a like size.
FILE_WORDS = 120


def wait_until(app, condition, timeout: float) -> None:
    """``bench.common.wait_until`` with a 100 ms tick: the figures are timed in the slots, not on wake-up."""
    common_wait_until(app, condition, timeout, tick_ms=100)


def fim_model(folder: Path, source: str) -> Path:
    """Write the FIM model used on both sides into ``folder``."""
    from app.selftest.tiny_gguf import write_tiny_gguf

    words = [word for word, _ in Counter(re.findall(r"[A-Za-z_]+", source)).most_common(FILE_WORDS)]
    return write_tiny_gguf(
        folder / "codellama-random-37m-F16.gguf",
        "codellama",
        file_type="F16",
        context_length=FIM_CTX,
        name="codellama random 37m",
        extra_words=words,
        **FIM_SHAPE,
    )


class _Typing:
    """One CompletionService over one engine, recording the time to the first shown suggestion."""

    def __init__(self, app, name: str, factory, model: str, threads: int) -> None:
        from app.core.models.load_params import LoadParams
        from app.services.completion_service import CompletionService
        from app.services.engine_worker import EngineController

        self.app = app
        self.controller = EngineController(name, factory)
        self.service = CompletionService(self.controller)
        self.service.tuning.max_tokens_block = MAX_TOKENS
        self.service.tuning.max_tokens_line = MAX_TOKENS
        self.latencies: list[float] = []
        self.shown: list[str] = []
        self._done = False
        self._first_at: float | None = None
        self._failure: str | None = None
        self.service.partial.connect(self._on_shown)
        self.service.suggestion.connect(self._on_suggestion)
        self.service.failed.connect(self._on_failed)
        self.controller.worker.loaded.connect(self._on_loaded)
        self.controller.worker.load_failed.connect(self._on_failed)
        self._loaded = False
        self.controller.load(model, LoadParams(n_ctx=FIM_CTX, n_threads=threads, n_gpu_layers=0))
        try:
            wait_until(app, lambda: self._loaded or self._failure, 120)
            if self._failure:
                raise RuntimeError(f"the FIM model did not load ({name}): {self._failure}")
            # The service learns the model from the same signal; wait until it has.
            wait_until(app, lambda: self.service.model_id != "", 30)
        except RuntimeError:
            self.close()
            raise

    def _on_loaded(self, loaded) -> None:
        self.loaded_model = loaded
        self._loaded = True

    def _on_shown(self, _job, _text) -> None:
        self._first_at = self._first_at or time.perf_counter()

    def _on_suggestion(self, _job, text, _stats) -> None:
        self._first_at = self._first_at or time.perf_counter()
        self.shown.append(text)
        self._done = True

    def _on_failed(self, message: str) -> None:
        self._failure = message

    def complete(self, prefix: str, suffix: str, record: bool = True) -> None:
        """Request a completion here, as the editor does after a burst, and wait for it to finish."""
        from app.services.completion_service import EditorSnapshot

        self._done, self._first_at = False, None
        started = time.perf_counter()
        self.service.request(EditorSnapshot("queue.py", prefix, suffix, "python"))
        wait_until(self.app, lambda: self._done or self._failure, 120)
        if self._failure:
            raise RuntimeError(f"a completion failed: {self._failure}")
        if record and self._first_at is not None:
            self.latencies.append((self._first_at - started) * 1000)

    def close(self) -> None:
        self.service.growth.stop()
        self.controller.shutdown(3000)


def _play(session: _Typing, points: list[tuple[str, str]]) -> _Typing:
    try:
        session.complete(*points[0], record=False)  # the first request also pays for warming up
        session.shown.clear()
        for prefix, suffix in points:
            session.complete(prefix, suffix)
    finally:
        session.close()
    return session


def _remote(base_url: str, role: str):
    from app.engine.remote.engine import RemoteEngine

    return RemoteEngine(role, base_url)


def _local(folder: Path, role: str):
    from app.engine.host_client import HostEngine

    return HostEngine(role, str(folder / f"{role}-local.log"))


def typing_figures(app, model: Path, folder: Path, source: str, quick: bool, threads: int) -> dict:
    """Type the session on the remote engine, stop the server, type it on a local host; return the figures."""
    import functools

    points = list(_typing_session(source, EDITS[:1] if quick else EDITS))
    with LlamaServer(model, alias="codellama-random", n_ctx=FIM_CTX, n_threads=threads) as server:
        remote = _play(
            _Typing(app, "bench-remote-fim", functools.partial(_remote, server.base_url), "codellama-random", threads),
            points,
        )
    local = _play(_Typing(app, "bench-local-fim", functools.partial(_local, folder), str(model), threads), points)
    p50, p50_local = statistics.median(remote.latencies), statistics.median(local.latencies)
    return {
        "typing_p50_ms": round(p50, 1),
        "typing_p95_ms": round(_percentile(remote.latencies, 0.95), 1),
        "typing_p50_ms_local": round(p50_local, 1),
        "typing_p95_ms_local": round(_percentile(local.latencies, 0.95), 1),
        "typing_ratio": round(p50 / p50_local, 3),
        "typing_requests": len(remote.latencies),
        "typing_requests_local": len(local.latencies),
        "typing_cache_hits": remote.service.cache.hits,
        "typing_cache_hits_local": local.service.cache.hits,
        "typing_nonempty": sum(bool(text) for text in remote.shown),
        "typing_nonempty_local": sum(bool(text) for text in local.shown),
        "typing_max_tokens": MAX_TOKENS,
    }
