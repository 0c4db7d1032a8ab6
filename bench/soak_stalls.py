"""How long the GUI thread goes without processing events, measured by a 5 ms timer.

Like ``bench chat``: each tick records how much later than 5 ms after the
previous one it fired. A tick that is 80 ms late means the event loop did
not run for about 80 ms.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Slot

TICK_MS = 5


class StallMeter(QObject):
    """A precise GUI-thread timer that keeps every tick's lateness after a warm-up."""

    def __init__(self, parent: QObject | None = None, on_stall=None, threshold_ms: float = 50.0) -> None:
        super().__init__(parent)
        self.on_stall = on_stall  # called with the lateness of each tick over threshold_ms
        self.threshold_ms = threshold_ms
        self.late_ms: list[float] = []
        self.max_ms = 0.0
        self._last = 0.0
        self._from = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self, after_s: float = 0.0) -> None:
        """Start ticking; record lateness from ``after_s`` seconds on."""
        self._last = time.perf_counter()
        self._from = self._last + after_s
        self._timer.start()

    def stop(self) -> None:
        """Stop ticking."""
        self._timer.stop()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        if now >= self._from:
            late = max(0.0, (now - self._last) * 1000 - TICK_MS)
            self.late_ms.append(late)
            self.max_ms = max(self.max_ms, late)
            if late > self.threshold_ms and self.on_stall is not None:
                self.on_stall(late)
        self._last = now

    def figures(self) -> dict:
        """``max_stall_ms``, ``p99_stall_ms`` and the number of ticks recorded."""
        late = sorted(self.late_ms)
        if not late:
            return {"max_stall_ms": None, "p99_stall_ms": None, "stall_ticks": 0}
        return {"max_stall_ms": round(late[-1], 1),
                "p99_stall_ms": round(late[min(len(late) - 1, int(0.99 * len(late)))], 1),
                "stall_ticks": len(late)}
