"""How long the GUI thread goes without processing events, measured by a 5 ms timer.

Like ``bench chat``: each tick records how much later than 5 ms after the
previous one it fired. A tick that is 80 ms late means the event loop did
not run for about 80 ms. For a long stall the meter also says how much CPU
time the GUI thread itself used meanwhile: close to the stall's length, the
thread was busy computing; far below, it was waiting (for the GIL held by
another thread, for a lock or a pipe, or for a CPU).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Slot

TICK_MS = 5


class StallMeter(QObject):
    """A precise GUI-thread timer that keeps every tick's lateness after a warm-up."""

    def __init__(self, parent: QObject | None = None, on_stall=None, threshold_ms: float = 50.0) -> None:
        super().__init__(parent)
        self.on_stall = on_stall  # called with (lateness, GUI-thread CPU ms) of each tick over threshold_ms
        self.threshold_ms = threshold_ms
        self.late_ms: list[float] = []
        self.max_ms = 0.0
        self._last = 0.0
        self.last_tick = 0.0  # read by the sampler thread (a float is replaced atomically)
        self.active = False
        self._last_cpu = 0.0
        self._from = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self, after_s: float = 0.0) -> None:
        """Start ticking; record lateness from ``after_s`` seconds on."""
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._from = self._last + after_s
        self.last_tick, self.active = self._last, True
        self._timer.start()

    def stop(self) -> None:
        """Stop ticking."""
        self.active = False
        self._timer.stop()

    @Slot()
    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if now >= self._from:
            late = max(0.0, (now - self._last) * 1000 - TICK_MS)
            self.late_ms.append(late)
            self.max_ms = max(self.max_ms, late)
            if late > self.threshold_ms and self.on_stall is not None:
                self.on_stall(late, (cpu - self._last_cpu) * 1000)
        self._last, self._last_cpu = now, cpu
        self.last_tick = now

    def figures(self) -> dict:
        """``max_stall_ms``, ``p99_stall_ms`` and the number of ticks recorded."""
        late = sorted(self.late_ms)
        if not late:
            return {"max_stall_ms": None, "p99_stall_ms": None, "stall_ticks": 0}
        return {
            "max_stall_ms": round(late[-1], 1),
            "p99_stall_ms": round(late[min(len(late) - 1, int(0.99 * len(late)))], 1),
            "stall_ticks": len(late),
        }


class StallSampler:
    """A plain Python thread that records every thread's stack while the GUI thread is stalled.

    It watches the meter's last tick; once the GUI thread is ``after_ms``
    late, it logs the Python stack of each thread (innermost frames), which
    shows whether the GUI thread is computing, blocked in a call, or
    waiting for the GIL while another thread runs Python code. It never
    touches Qt.
    """

    def __init__(self, meter: StallMeter, log, after_ms: float = 150.0, limit: int = 40) -> None:
        import threading

        self.meter, self.log, self.after_ms, self.limit = meter, log, after_ms, limit
        self.samples = 0
        self._stop = threading.Event()
        self._gui = threading.main_thread().ident
        self._thread = threading.Thread(target=self._run, name="soak-stall-sampler", daemon=True)

    def start(self) -> None:
        """Watch until ``stop``."""
        self._thread.start()

    def stop(self) -> None:
        """End the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _run(self) -> None:
        sampled_tick = None
        while not self._stop.wait(0.02) and self.samples < self.limit:
            last = self.meter.last_tick
            if not last or last == sampled_tick or not self.meter.active:
                continue
            late_ms = (time.perf_counter() - last) * 1000
            if late_ms > self.after_ms:
                sampled_tick = last
                self.samples += 1
                self.log.write(stall_sample=self._stacks(), gui_late_ms=round(late_ms, 1))

    def _stacks(self) -> dict[str, list[str]]:
        import sys
        import threading
        import traceback

        names = {thread.ident: thread.name for thread in threading.enumerate()}
        stacks = {}
        for ident, frame in sys._current_frames().items():
            if ident == threading.get_ident():
                continue
            frames = traceback.extract_stack(frame)[-6:]
            name = "GUI" if ident == self._gui else names.get(ident, str(ident))
            stacks[name] = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames)]
        return stacks
