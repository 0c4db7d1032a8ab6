"""``bench fim``: a scripted typing session through CompletionService and an engine host.

A real ~300-line source file (the standard library's ``queue.py``) is edited
at several places; after each burst of keystrokes a completion is requested,
and the time until the first suggestion is shown is measured. The session runs
twice in the same process, one after the other on two engine hosts: one with
KV-cache reuse and the suggestion cache on, one with both off. It
uses the starter model (which has no FIM tokens, so its completions continue
the prefix); a second part counts evaluated prompt tokens for PSM and SPM
orders on a FIM model with CodeGemma's tokens.
"""

from __future__ import annotations

import inspect
import queue as queue_module
import statistics
import tempfile
import textwrap as textwrap_module
import time
from pathlib import Path

from bench.common import wait_until
from bench.fim_jumps import run_jumps

# (line to edit after, text typed there); each is typed one keystroke at a time.
EDITS = [
    (40, "    def peek(self):"),
    (95, "        if self.maxsize > 0:"),
    (150, "    def clear(self):"),
    (210, "        with self.mutex:"),
    (60, "    def drain(self):"),
    (260, "class BoundedQueue(Queue):"),
    (120, "        remaining = "),
    (300, "def make_queue(size):"),
]
BURST = 6  # keystrokes between completion requests


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class _Session:
    """One CompletionService over its own engine host, recording timings."""

    def __init__(self, app, model: str, folder: Path, reuse: bool, order: str, name: str) -> None:
        from app.core.models.load_params import LoadParams
        from app.engine.host_client import HostEngine
        from app.services.completion_service import CompletionService
        from app.services.engine_worker import EngineController

        self.app = app
        self.controller = EngineController(name, lambda role: HostEngine(role, str(folder / f"{role}.log")))
        self.service = CompletionService(self.controller)
        self.service.tuning.reuse_kv = reuse
        self.service.tuning.use_cache = reuse
        self.service.tuning.order = order
        self.service.tuning.max_tokens_block = 24
        self.service.tuning.max_tokens_line = 24
        self.latencies: list[float] = []
        self.evaluated: list[int] = []
        self.file_tokens = 0
        self._done = False
        self._first_at: float | None = None
        self._stats = None
        self.service.partial.connect(self._on_shown)
        self.service.suggestion.connect(self._on_suggestion)
        self.service.failed.connect(self._on_failed)
        loaded, failures = [], []
        self.controller.worker.loaded.connect(loaded.append)
        self.controller.worker.load_failed.connect(failures.append)
        self.controller.load(model, LoadParams(n_ctx=4096))
        try:
            self._wait(lambda: loaded or failures, 120)
            if failures:
                raise RuntimeError(f"the model did not load: {failures[0]}")
        except RuntimeError:
            self.close()
            raise

    def _wait(self, condition, timeout: float) -> None:
        wait_until(self.app, condition, timeout)

    def _on_shown(self, _job, _text) -> None:
        self._first_at = self._first_at or time.perf_counter()

    def _on_suggestion(self, _job, _text, stats) -> None:
        self._first_at = self._first_at or time.perf_counter()
        self._stats = stats
        self._done = True

    def _on_failed(self, message: str) -> None:
        raise RuntimeError(message)

    def complete(self, prefix: str, suffix: str, record: bool = True) -> None:
        """Request a completion at this point and wait until it has finished."""
        from app.services.completion_service import EditorSnapshot

        self._done, self._first_at, self._stats = False, None, None
        started = time.perf_counter()
        self.service.request(EditorSnapshot("queue.py", prefix, suffix, "python"))
        self._wait(lambda: self._done, 120)
        if record:
            self.latencies.append((self._first_at - started) * 1000)
            stats = self._stats
            self.evaluated.append(0 if stats is None else stats.prompt_tokens - stats.reused_tokens)

    def close(self) -> None:
        """Stop the engine host and its thread."""
        self.controller.shutdown(3000)


def _typing_session(source: str, edits: list[tuple[int, str]]):
    """Yield (prefix, suffix) after each burst, including a backspace-retype."""
    lines = source.splitlines(keepends=True)
    for line_no, typed in edits:
        head = "".join(lines[:line_no]) + "\n"
        tail = "".join(lines[line_no:])
        for end in range(BURST, len(typed) + BURST, BURST):
            yield head + typed[:end], tail
        # Backspace three characters, then type them again.
        yield head + typed[:-3], tail
        yield head + typed, tail


def run(
    quick: bool,
    file: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    jumps_only: bool = False,
) -> dict:
    """Run the typing session (KV reuse against none) and the jumping session; return the figures.

    Args:
        quick: Fewer edits and jumps.
        file: The source file to edit (default: Python's ``queue.py``); the
            jumping session also switches to Python's ``textwrap.py``.
        model: The GGUF to use (default: the starter model).
        seed: Seed of the jumping session's choice of lines (default 1).
        jumps_only: Run only the jumping session (its keys, ``file_tokens`` and ``model``).
    """
    from PySide6.QtCore import QCoreApplication

    from app.core.models.starter import starter_model_path

    app = QCoreApplication.instance() or QCoreApplication([])
    edits = EDITS[:3] if quick else EDITS
    source = Path(file).read_text(encoding="utf-8") if file else inspect.getsource(queue_module)
    name = Path(file).name if file else "queue.py"
    files = {name: source, "textwrap.py": inspect.getsource(textwrap_module)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = model or str(starter_model_path(folder))
        typing = {} if jumps_only else _typing_figures(app, model, folder, source, edits)
        jumps = run_jumps(app, model, files, folder, seed if seed is not None else 1, 6 if quick else 16)
    return {**typing, "model": Path(model).name, **jumps}


def _typing_figures(app, model: str, folder: Path, source: str, edits: list[tuple[int, str]]) -> dict:
    """The typing session with KV reuse against none, and PSM against SPM on a FIM model."""
    points = list(_typing_session(source, edits))
    # One session after the other: a host that has just worked shows in the
    # other host's CPU sample and would cut its threads (engine/cpu_share.py).
    fast = _play(app, model, folder, True, points, source)
    slow = _play(app, model, folder, False, points, source)
    p50, p50_off = statistics.median(fast.latencies), statistics.median(slow.latencies)
    return {
        "p50_ms": round(p50, 1),
        "p95_ms": round(_percentile(fast.latencies, 0.95), 1),
        "p50_ms_no_reuse": round(p50_off, 1),
        "p95_ms_no_reuse": round(_percentile(slow.latencies, 0.95), 1),
        "speedup": round(p50_off / p50, 2),
        "prompt_tokens_evaluated": round(statistics.mean(fast.evaluated), 1),
        "prompt_tokens_evaluated_no_reuse": round(statistics.mean(slow.evaluated), 1),
        "requests": len(fast.latencies),
        "cache_hits": fast.service.cache.hits,
        "file_tokens": fast.file_tokens,
        **_order_comparison(app, folder, source, edits[:2]),
    }


def _play(app, model: str, folder: Path, reuse: bool, points: list[tuple[str, str]], source: str) -> _Session:
    """Type the whole session on one host (KV reuse and the cache on or off); return it, closed."""
    session = _Session(app, model, folder, reuse=reuse, order="spm", name="fim-reuse" if reuse else "fim-no-reuse")
    try:
        session.complete(*points[0], record=False)  # the first request also pays for warming up the host
        for prefix, suffix in points:
            session.complete(prefix, suffix)
        session.file_tokens = len(session.controller.worker.engine.tokenize(source)[0])
    finally:
        session.close()
    return session


def _order_comparison(app, folder: Path, source: str, edits) -> dict:
    """Prompt tokens evaluated per request with PSM vs SPM on a FIM model."""
    from app.selftest.tiny_gguf import write_tiny_gguf

    model = str(write_tiny_gguf(folder / "fim-model.gguf", "codegemma", context_length=8192))
    result = {}
    for order in ("psm", "spm"):
        session = _Session(app, model, folder, reuse=True, order=order, name=f"fim-{order}")
        session.service.tuning.use_cache = False  # count the engine's work, not cache hits
        try:
            for prefix, suffix in _typing_session(source, edits):
                session.complete(prefix, suffix)
        finally:
            session.close()
        result[f"prompt_tokens_evaluated_{order}"] = round(statistics.mean(session.evaluated), 1)
    return result
