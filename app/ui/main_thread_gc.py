"""Run Python's cyclic garbage collector on the GUI thread only.

Python starts a collection in whichever thread happens to allocate when a
threshold is crossed. A Qt object caught in a reference cycle would then be
destroyed on a download, Hub or engine-worker thread while the GUI thread may
be using it, which crashes the process. Fimble turns automatic collection off
and does the same work from a GUI-thread timer, generation by generation, so
a pass stays small.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Owns the timer; keep it alive as long as the application."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> int:
        """Collect the oldest generation whose count is over its threshold; return it, or -1."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return generation
        return -1

    def stop(self) -> None:
        """Give collection back to Python."""
        self.timer.stop()
        gc.enable()
