"""Waiting on a worker thread's signal never touches or frees Qt objects on that thread.

The worker emits and then keeps its thread busy for a moment, so a blocker
whose clean-up ran there would be freed there too (the crash this suite had:
a QTimer left registered with the GUI thread, then freed on the worker).
``tests/gui_thread_waits.py`` relays every blocker connection through the
GUI thread; these tests fail without it (Qt's "Timers cannot be stopped from
another thread", and under load a segfault in the next event loop).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

ROUNDS = 100


class _Worker(QObject):
    done = Signal()
    piece = Signal(int, str)

    @Slot()
    def emit_done(self) -> None:
        self.done.emit()
        time.sleep(0.02)  # hold the thread after emitting

    @Slot()
    def emit_pieces(self) -> None:
        for n in range(3):
            self.piece.emit(n, "x")
        time.sleep(0.02)


class _Front(QObject):
    go_done = Signal()
    go_pieces = Signal()


class _Thread:
    def __init__(self) -> None:
        self.thread, self.worker, self.front = QThread(), _Worker(), _Front()
        self.worker.moveToThread(self.thread)
        self.front.go_done.connect(self.worker.emit_done)
        self.front.go_pieces.connect(self.worker.emit_pieces)
        self.thread.start()

    def stop(self) -> None:
        self.thread.quit()
        assert self.thread.wait(10_000)


def _wait_done(qtbot, worker: _Thread) -> None:
    # No `as`: once this returns, only the signal connection holds the blocker.
    with qtbot.waitSignal(worker.worker.done, timeout=100, raising=False):  # short: its timer must expire later
        worker.front.go_done.emit()


def _thread_warnings(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if "thread" in r.message.lower()]


def test_a_blocker_on_a_worker_signal_is_cleaned_up_on_the_gui_thread(qtbot, qtlog):
    worker = _Thread()
    try:
        for _ in range(ROUNDS):
            _wait_done(qtbot, worker)
        qtbot.wait(300)  # past every blocker's timeout: a stale timer would fire now
    finally:
        worker.stop()
    assert _thread_warnings(qtlog) == []


def test_blockers_get_the_arguments_of_worker_signals(qtbot, qtlog):
    worker = _Thread()
    try:
        for _ in range(10):
            with qtbot.waitSignal(
                worker.worker.piece, timeout=10_000, check_params_cb=lambda n, text: n == 2
            ) as blocker:
                worker.front.go_pieces.emit()
            assert blocker.args == [2, "x"]
            with qtbot.waitSignals([worker.worker.piece, worker.worker.done], timeout=10_000) as both:
                worker.front.go_pieces.emit()
                worker.front.go_done.emit()
            assert both.signal_triggered
    finally:
        worker.stop()
    assert _thread_warnings(qtlog) == []
