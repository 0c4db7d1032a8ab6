"""Cyclic garbage is collected by a GUI-thread timer, never by whatever thread allocates."""

from __future__ import annotations

import gc
import threading

from app.ui.main_thread_gc import MainThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_made_on_a_thread_are_collected_by_the_gui_thread_timer(qtbot):
    collector = MainThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        collected_on = []

        class Tracked(_Cycle):
            def __del__(self) -> None:
                collected_on.append(threading.current_thread().name)

        def make_garbage() -> None:
            for _ in range(5000):  # far over generation 0's threshold
                Tracked()

        worker = threading.Thread(target=make_garbage, name="allocating-thread")
        worker.start()
        worker.join()
        assert collected_on == []  # the allocating thread collected nothing
        qtbot.waitUntil(lambda: len(collected_on) == 5000, timeout=5_000)
        assert set(collected_on) == {threading.main_thread().name}
    finally:
        collector.stop()
        gc.disable()  # the test run keeps automatic collection off
