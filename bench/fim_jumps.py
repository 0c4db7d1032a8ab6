"""The jumping part of ``bench fim``: what a user feels when the cursor lands somewhere new.

A seeded session over two real source files, the way people edit: jump to a
line, pause (or not), retype the line in bursts, accept a suggestion with Tab,
now and then switch to the other file and come back. It runs twice in one
process, one variant after the other, on two engine hosts with the same model:

- ``adaptive``: Fimble as it is (prewarm when the cursor settles, the window
  sized to the machine, warm places, a request right after an accept);
- ``baseline``: the full fixed window, no prewarm, no warm places, and the next
  suggestion only after the next keystroke.

Latencies run from the keystroke (or the accept) to the first visible text of
the suggestion, without the editor's debounce. Quality compares each jump's
first suggestion line with the rest of the line really there in the file.
"""

from __future__ import annotations

import difflib
import functools
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import wait_until

SETTLE_S = 0.6  # the pause after a jump before typing starts
BURST = 4  # keystrokes typed between the jump's first request and the accept
MIN_LINE_CHARS = 12
# FIMBLE_BENCH_TRACE=1 prints every request's latency and prompt figures to stderr.
TRACE = os.environ.get("FIMBLE_BENCH_TRACE") == "1"


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@dataclass
class Place:
    """One jump target: a line of a file, retyped from its indentation on."""

    path: str
    text: str
    line: int

    def split(self, typed: int) -> tuple[str, str, str]:
        """(prefix, suffix, the rest of the line) with ``typed`` characters of the line typed."""
        lines = self.text.splitlines(keepends=True)
        body = lines[self.line].rstrip("\n")
        indent = len(body) - len(body.lstrip())
        cut = min(len(body), indent + typed)
        prefix = "".join(lines[: self.line]) + body[:cut]
        suffix = "\n" + "".join(lines[self.line + 1 :])
        return prefix, suffix, body[cut:]


def choose_places(files: dict[str, str], count: int, seed: int) -> list[tuple[Place, bool]]:
    """The session's stops, from a seeded RNG: (place, is it a switch back to the place before).

    Every fourth stop is in the other file, and the stop after it switches
    back to where the cursor was before, as people do when they look
    something up.
    """
    rng = random.Random(seed)
    names = list(files)
    candidates = {
        name: [
            i
            for i, line in enumerate(text.splitlines())
            if len(line.strip()) >= MIN_LINE_CHARS and not line.strip().startswith(("#", '"', "'"))
        ]
        for name, text in files.items()
    }
    stops: list[tuple[Place, bool]] = []
    for step in range(count):
        if step % 4 == 3 and len(names) > 1 and len(stops) >= 2:
            stops.append((stops[-2][0], True))
            continue
        name = names[1] if step % 4 == 2 and len(names) > 1 else names[0]
        stops.append((Place(name, files[name], rng.choice(candidates[name])), False))
    return stops


@dataclass
class Figures:
    """What one variant measured."""

    jump: list[float] = field(default_factory=list)
    jump_nopause: list[float] = field(default_factory=list)
    switch_back: list[float] = field(default_factory=list)
    after_accept: list[float] = field(default_factory=list)
    typing: list[float] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    similarity: list[float] = field(default_factory=list)


def line_scores(suggestion: str, truth: str) -> tuple[float, float]:
    """Exact match and edit similarity of a suggestion's first line against the real rest of the line."""
    first = suggestion.split("\n", 1)[0].rstrip()
    wanted = truth.rstrip()
    return float(first == wanted), difflib.SequenceMatcher(None, first, wanted).ratio()


class Driver:
    """One CompletionService over its own engine host, asked as the editor would ask it."""

    def __init__(self, app, model: str, folder: Path, name: str, adaptive: bool) -> None:
        from app.core.models.load_params import LoadParams
        from app.engine.host_client import HostEngine
        from app.services.completion_service import CompletionService
        from app.services.engine_worker import EngineController

        self.app, self.adaptive = app, adaptive
        self.controller = EngineController(name, lambda role: HostEngine(role, str(folder / f"{name}.log")))
        self.service = CompletionService(self.controller)
        self.service.tuning.max_tokens_line = 24
        self.service.tuning.max_tokens_block = 24
        self.service.tuning.use_cache = False  # measure the engine, not repeated identical requests
        configure_variant(self.service, adaptive)
        self.figures = Figures()
        self._first_at: float | None = None
        self._text = ""
        self._done = False
        self.last_stats: object = None
        self.service.partial.connect(self._on_partial)
        self.service.suggestion.connect(self._on_suggestion)
        loaded: list[object] = []
        self.controller.worker.loaded.connect(loaded.append)
        self.controller.load(model, LoadParams(n_ctx=4096, warm_places_mib=512 if adaptive else 0))
        wait_until(app, lambda: bool(loaded), 180)
        self.loaded = loaded[0]

    def _on_partial(self, _job: int, text: str) -> None:
        if text and self._first_at is None:
            self._first_at = time.perf_counter()
        self._text = text

    def _on_suggestion(self, _job: int, text: str, stats: object) -> None:
        self._first_at = self._first_at or time.perf_counter()
        self._text, self._done, self.last_stats = text, True, stats

    def ask(self, path: str, prefix: str, suffix: str) -> tuple[float, str]:
        """Request a suggestion now; return ms to its first visible text, and its text."""
        from app.services.completion_service import EditorSnapshot

        self._first_at, self._text, self._done = None, "", False
        started = time.perf_counter()
        self.service.request(EditorSnapshot(path, prefix, suffix, "python"))
        wait_until(self.app, lambda: self._done, 120)
        ms = ((self._first_at or time.perf_counter()) - started) * 1000
        if TRACE:
            stats = self.last_stats
            print(
                f"{'adaptive' if self.adaptive else 'baseline'} {path}:{prefix.count(chr(10))} {ms:.0f} ms",
                stats
                if stats is None
                else (
                    stats.prompt_tokens,
                    stats.reused_tokens,
                    stats.restored_tokens,
                    stats.threads,
                    round(stats.prompt_eval_ms),
                ),
                file=sys.stderr,
            )
        return ms, self._text

    def settle(self, path: str, prefix: str, suffix: str, pause_s: float) -> None:
        """The cursor rests at a new place for ``pause_s``: prewarm there if this variant does."""
        from app.services.completion_service import EditorSnapshot

        if self.adaptive and pause_s:  # the editor reports the move; the service warms after SETTLE_MS
            self.service.settle("python", functools.partial(EditorSnapshot, path, prefix, suffix, "python"))
        end = time.perf_counter() + pause_s
        wait_until(self.app, lambda: time.perf_counter() >= end, pause_s + 5)

    def close(self) -> None:
        """Stop the engine host and its thread."""
        self.controller.shutdown(3000)


def configure_variant(service, adaptive: bool) -> None:
    """Baseline: today's fixed full window (the adaptive variant keeps the service's defaults)."""
    if not adaptive:
        service.tuning.adaptive_window = False


def play(drivers: tuple[Driver, Driver], stops: list[tuple[Place, bool]]) -> None:
    """Run the session on both drivers, event by event in turn."""
    last_typed = 1 + BURST
    for index, (place, back) in enumerate(stops):
        pause = 0.0 if index % 3 == 2 and not back else SETTLE_S  # now and then, typing starts at once
        # a switch back returns to the state the cursor left there
        prefix, suffix, truth = place.split(last_typed if back else 1)
        for driver in drivers:
            driver.settle(place.path, prefix, suffix, pause)
            ms, text = driver.ask(place.path, prefix, suffix)
            if back:
                driver.figures.switch_back.append(ms)
                continue
            (driver.figures.jump if pause else driver.figures.jump_nopause).append(ms)
            exact, similar = line_scores(text, truth)
            driver.figures.exact.append(exact)
            driver.figures.similarity.append(similar)
        if back:
            continue
        for typed in range(2, 2 + BURST):
            prefix, suffix, _ = place.split(typed)
            for driver in drivers:
                driver.figures.typing.append(driver.ask(place.path, prefix, suffix)[0])
        for driver in drivers:
            if driver.adaptive:  # Tab: the editor asks for the next suggestion at once (after_accept)
                accepted = prefix + driver._text.split("\n", 1)[0]
                driver.figures.after_accept.append(driver.ask(place.path, accepted + "\n", suffix)[0])


def summary(adaptive: Figures, baseline: Figures, window: int, speed: float) -> dict:
    """The keys ``bench fim`` adds for the jumping session."""

    def p(values: list[float], fraction: float) -> float:
        return round(percentile(values, fraction), 1) if values else 0.0

    return {
        "jump_p50_ms": p(adaptive.jump, 0.5),
        "jump_p95_ms": p(adaptive.jump, 0.95),
        "jump_nopause_p95_ms": p(adaptive.jump_nopause, 0.95),
        "switch_back_p95_ms": p(adaptive.switch_back, 0.95),
        "after_accept_p50_ms": p(adaptive.after_accept, 0.5),
        "typing_p50_ms": p(adaptive.typing, 0.5),
        "jump_p95_ms_baseline": p(baseline.jump, 0.95),
        "switch_back_p95_ms_baseline": p(baseline.switch_back, 0.95),
        "typing_p50_ms_baseline": p(baseline.typing, 0.5),
        "window_tokens": window,
        "prompt_tokens_per_s": round(speed, 1),
        "line_exact": round(statistics.mean(adaptive.exact), 3),
        "line_similarity": round(statistics.mean(adaptive.similarity), 3),
        "line_exact_full_window": round(statistics.mean(baseline.exact), 3),
        "line_similarity_full_window": round(statistics.mean(baseline.similarity), 3),
        "jumps": len(adaptive.jump) + len(adaptive.jump_nopause),
    }


def run_jumps(app, model: str, files: dict[str, str], folder: Path, seed: int, jumps: int) -> dict:
    """Play the seeded session on each variant in turn; return the summary.

    The variants run one after the other, not step by step in turn: an engine
    host that has just worked keeps the CPU busy in the other host's last
    sample, and the other would then run with fewer threads (engine/cpu_share.py).
    """
    stops = choose_places(files, jumps, seed)
    figures, window, speed = {}, 0, 0.0
    for name, adaptive in (("fim-adaptive", True), ("fim-baseline", False)):
        driver = Driver(app, model, folder, name, adaptive=adaptive)
        try:
            play((driver,), stops)
            figures[adaptive] = driver.figures
            if adaptive:
                window, speed = driver.service.window_tokens(), driver.service.speed.tokens_per_s
        finally:
            driver.close()
    return summary(figures[True], figures[False], window, speed)
