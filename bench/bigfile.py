"""``bench bigfile``: event-loop stalls while a 10,000-line Python file opens.

A generated Python file (functions with docstrings that span lines, comments,
classes, strings) is opened in the editor tabs, as File → Open does, with a
5 ms timer on the GUI thread measuring how late each tick fires (``bench
chat``'s stall meter). Two ways of highlighting the first time are compared
in the same run, alternately: the sliced one the editor uses (a batch of
blocks per event-loop turn) and the one-shot one it used before (every block
in the call that puts the text in). For each, the largest stall, the time
the ``open_path`` call itself took, and the time until the whole file was
highlighted; the medians over the runs are reported. ``max_stall_ms`` is
the largest stall of the whole opening; ``after_open_max_stall_ms`` leaves out
the turn of the ``open_path`` call and the paint right after it, so it shows
the slices alone. ``theme_max_stall_ms`` is the largest stall while the
open, fully highlighted file switches to the other theme and is recoloured
(in slices, or in one go). ``plain_set_text_ms`` is the floor that no way of
highlighting goes under: the same text put into a bare ``QPlainTextEdit``,
with no highlighter at all. On a busy machine a stall can also be time the
process waited for a CPU: ``max_busy_ms`` is the most CPU time the GUI thread
used within one tick, the work it did without returning to the event loop.

Pygments builds a lexer's rule table once per process, the first time a
language is used (``lexer_setup_ms``, about a tenth of a second for Python),
and the first editor made in a process sets up fonts and formats
(``first_editor_ms``): the window does both before a file is opened (its
untitled tab, and the lexer warm-up after the first paint), and so does this
benchmark before the runs, so that they measure the opening.

Since the text goes in a chunk per event-loop turn (``text_loader``), the
``one_shot`` side also puts it in with one call, as before.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QPlainTextEdit

from app.core.editor.languages import language_by_id
from app.core.editor.recovery import RecoveryStore
from app.ui import block_lexers, code_editor, highlighter
from app.ui.code_editor import CodeEditor
from app.ui.editor_tabs import EditorTabs
from app.ui.theme import DARK, LIGHT
from bench.soak_stalls import StallMeter

LINES = 10_000
QUICK_RUNS = 1
FULL_RUNS = 3
SETTLE_MS = 150  # ticks recorded before the file opens and after it is highlighted
TIMEOUT_S = 120.0
MODES = ("sliced", "one_shot")

_UNIT = '''def handler_{n}(request, limit=10):
    """Answer request {n}.

    The docstring spans lines, so the lexer state runs across blocks.
    """
    total = 0  # running total
    for item in request.items[:limit]:
        total += len(str(item)) * {n}
    message = f"handled {{total}} items"
    return {{"id": {n}, "text": message, "ok": total > 0}}


class Record{n}:
    NAME = 'record-{n}'
'''


def big_python(lines: int = LINES) -> str:
    """A Python module of exactly ``lines`` lines."""
    units, n = [], 0
    while sum(unit.count("\n") for unit in units) < lines:
        units.append(_UNIT.format(n=n))
        n += 1
    return "\n".join("".join(units).splitlines()[:lines]) + "\n"


def run(quick: bool) -> dict:
    """Open the file with each way of highlighting and compare the stalls.

    Args:
        quick: One run per way instead of three.

    Returns:
        ``max_stall_ms`` (median of the runs' largest stalls), ``open_call_ms``,
        ``highlighted_ms`` and ``slices`` for ``sliced`` and ``one_shot``,
        with every run's figures.
    """
    app = QApplication.instance() or QApplication([])
    runs = QUICK_RUNS if quick else FULL_RUNS
    samples: dict[str, list[dict]] = {mode: [] for mode in MODES}
    started = time.perf_counter()
    block_lexers.block_lexer_for(language_by_id("python"))
    lexer_ms = round((time.perf_counter() - started) * 1000, 1)
    first_editor_ms = _first_editor(app)
    plain: list[float] = []
    with tempfile.TemporaryDirectory(prefix="fimble-bench-bigfile-") as folder:
        path = Path(folder) / "big_module.py"
        path.write_text(big_python(), encoding="utf-8")
        for index in range(runs):
            for mode in MODES:
                samples[mode].append(_open_once(app, path, Path(folder) / f"recovery-{mode}-{index}", mode))
            plain.append(_plain_set_text(app, path))
    result: dict = {
        "lines": LINES,
        "runs": runs,
        "lexer_setup_ms": lexer_ms,
        "first_editor_ms": first_editor_ms,
        "plain_set_text_ms": round(statistics.median(plain), 1),
    }
    for mode in MODES:
        result[mode] = {
            key: round(statistics.median(sample[key] for sample in samples[mode]), 1)
            for key in (
                "max_stall_ms",
                "after_open_max_stall_ms",
                "max_busy_ms",
                "after_open_max_busy_ms",
                "open_call_ms",
                "highlighted_ms",
                "slices",
                "theme_max_stall_ms",
            )
        }
        result[mode]["samples"] = samples[mode]
    result["ok"] = result["sliced"]["after_open_max_busy_ms"] <= 50.0
    return result


def _open_once(app, path: Path, recovery: Path, mode: str) -> dict:
    """Open ``path`` in fresh editor tabs with the meter running; return this run's figures."""
    tabs = EditorTabs(RecoveryStore(recovery))
    tabs.resize(1000, 700)
    tabs.show()
    busy: list[tuple[int, float]] = []  # (tick index, GUI-thread CPU ms) of each late tick
    meter = StallMeter(on_stall=lambda _late, cpu_ms: busy.append((len(meter.late_ms), cpu_ms)), threshold_ms=5.0)
    loop = QEventLoop()
    figures: dict = {}
    limit, chunk = highlighter.SLICE_MIN_LINES, code_editor.LOAD_CHUNK_LINES
    if mode == "one_shot":  # as before: the whole text in one call, and highlighted in the same go
        highlighter.SLICE_MIN_LINES = code_editor.LOAD_CHUNK_LINES = 10**9
    try:
        meter.start()
        _spin(loop, SETTLE_MS)
        started = time.perf_counter()
        tab = tabs.open_path(str(path))
        figures["open_call_ms"] = round((time.perf_counter() - started) * 1000, 1)
        ticks_before = len(meter.late_ms)
        if tab is None:
            raise RuntimeError(f"the editor refused {path}")
        lit = tab.editor.highlighter
        deadline = started + TIMEOUT_S
        while not lit.complete:
            if time.perf_counter() > deadline:
                raise RuntimeError("the file was not highlighted within the time limit")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        figures["highlighted_ms"] = round((time.perf_counter() - started) * 1000, 1)
        figures["slices"] = lit.slice_count if mode == "sliced" else 1
        _spin(loop, SETTLE_MS)
        meter.stop()
        figures["max_stall_ms"] = meter.figures()["max_stall_ms"]
        after = meter.late_ms[ticks_before + 1 :]  # the first tick after the call waited for it and its paint
        figures["after_open_max_stall_ms"] = round(max(after, default=0.0), 1)
        figures["max_busy_ms"] = round(max((cpu for _i, cpu in busy), default=0.0), 1)
        figures["after_open_max_busy_ms"] = round(
            max((cpu for index, cpu in busy if index > ticks_before + 1), default=0.0), 1
        )
        figures["theme_max_stall_ms"] = _recolour(app, tab.editor, loop, deadline)
    finally:
        highlighter.SLICE_MIN_LINES, code_editor.LOAD_CHUNK_LINES = limit, chunk
        tabs.close()
        tabs.deleteLater()
        app.processEvents()
    return figures


def _first_editor(app) -> float:
    """Make and show the process's first editor, as the window does for its untitled tab; return its ms."""
    started = time.perf_counter()
    editor = CodeEditor()
    editor.resize(1000, 700)
    editor.show()
    app.processEvents()
    elapsed = (time.perf_counter() - started) * 1000
    editor.close()
    editor.deleteLater()
    app.processEvents()
    return round(elapsed, 1)


def _recolour(app, editor, loop: QEventLoop, deadline: float) -> float:
    """Switch ``editor`` to the other theme with a fresh meter running; return the largest stall."""
    meter = StallMeter(threshold_ms=5.0)
    meter.start()
    _spin(loop, SETTLE_MS)
    editor.apply_theme(LIGHT if editor.theme is DARK else DARK)
    while not editor.highlighter.complete:
        if time.perf_counter() > deadline:
            raise RuntimeError("the file was not recoloured within the time limit")
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    _spin(loop, SETTLE_MS)
    meter.stop()
    return meter.figures()["max_stall_ms"]


def _plain_set_text(app, path: Path) -> float:
    """Milliseconds to put the file's text into a bare, shown ``QPlainTextEdit``."""
    editor = QPlainTextEdit()
    editor.resize(1000, 700)
    editor.show()
    app.processEvents()
    text = path.read_text(encoding="utf-8")
    started = time.perf_counter()
    editor.setPlainText(text)
    elapsed = (time.perf_counter() - started) * 1000
    editor.close()
    editor.deleteLater()
    app.processEvents()
    return round(elapsed, 1)


def _spin(loop: QEventLoop, ms: int) -> None:
    """Run the event loop for ``ms`` milliseconds."""
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
