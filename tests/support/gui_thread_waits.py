"""Make pytest-qt's signal blockers safe for signals emitted on worker threads.

``qtbot.waitSignal`` and ``qtbot.waitSignals`` connect a plain Python callable
to the signal. PySide6 runs such a callable on the thread that emits, so for
an ``EngineWorker`` or ``ModelJobs`` signal the blocker's clean-up ran on the
worker thread: it stopped the blocker's QTimer there (Qt refuses, "Timers
cannot be stopped from another thread", and the timer stays registered with
the GUI thread), and when the worker thread held the last reference, it freed
that QTimer and its QEventLoop. The GUI thread's timer list then pointed at
freed memory, and the next event loop to fire it crashed in
``QCoreApplication::notifyInternal2`` under ``QTimerInfoList::activateTimers``.

Here every callable a blocker connects becomes the slot of a small relay
QObject made on the GUI thread, so Qt queues the call to the GUI thread and
the blocker is only ever touched, cleaned up and freed there. A relay drops
calls that arrive after its blocker disconnected it.

This replaces two connection points of pytest-qt's ``wait_signal`` module, so
the version is pinned in pyproject.toml and checked here.
"""

from __future__ import annotations

import functools
from importlib.metadata import version

from PySide6.QtCore import QObject
from pytestqt import wait_signal

PINNED_PYTEST_QT = "4.5.0"


class GuiThreadRelay(QObject):
    """Receives a signal on the thread it was made on and passes it to ``callback``."""

    def __init__(self, signal, callback) -> None:
        super().__init__()
        self._signal, self._callback, self.active = signal, callback, True
        signal.connect(self.deliver)  # a bound QObject method: queued across threads

    def deliver(self, *args) -> None:
        """Hand the signal's arguments to the callback while the relay is connected."""
        if self.active:
            self._callback(*args)

    def close(self) -> None:
        """Disconnect; calls already queued are dropped."""
        if self.active:
            self.active = False
            try:
                self._signal.disconnect(self.deliver)
            except (RuntimeError, TypeError):
                pass  # Qt may already have dropped the connection


def _single_connect(self, signal) -> None:
    """SignalBlocker.connect, relayed through the GUI thread."""
    self.signal_name = self.determine_signal_name(potential_signal_tuple=signal)
    actual = self.get_signal_from_potential_signal_tuple(signal)
    self.__dict__.setdefault("_relays", []).append(GuiThreadRelay(actual, self._quit_loop_by_signal))
    self._signals.append(actual)


def _multi_connect(self) -> None:
    """MultiSignalBlocker._connect_unique_signals, relayed through the GUI thread."""
    relays = self.__dict__.setdefault("_relays", [])
    for unique_signal in self._signals_map:
        relays.append(GuiThreadRelay(unique_signal, functools.partial(self._unique_signal_emitted, unique_signal)))
        self._signals.append(unique_signal)


def _close_relays(self) -> None:
    for relay in self.__dict__.pop("_relays", []):
        relay.close()


def _single_cleanup(self) -> None:
    """SignalBlocker._cleanup: stop the timer and disconnect the relays."""
    _close_relays(self)
    wait_signal._AbstractSignalBlocker._cleanup(self)
    self._signals = []


def _multi_cleanup(original):
    @functools.wraps(original)
    def cleanup(self) -> None:
        _close_relays(self)
        original(self)  # its own slot list is empty: nothing else to disconnect

    return cleanup


def install() -> None:
    """Route pytest-qt's blocker connections through GUI-thread relays (once per process)."""
    found = version("pytest-qt")
    if found != PINNED_PYTEST_QT:
        raise RuntimeError(
            f"tests/gui_thread_waits.py was written for pytest-qt {PINNED_PYTEST_QT}, found {found}:"
            " check wait_signal.SignalBlocker.connect and MultiSignalBlocker._connect_unique_signals"
        )
    if getattr(wait_signal, "_fimble_relayed", False):
        return
    wait_signal.SignalBlocker.connect = _single_connect
    wait_signal.MultiSignalBlocker._connect_unique_signals = _multi_connect
    wait_signal.SignalBlocker._cleanup = _single_cleanup
    wait_signal.MultiSignalBlocker._cleanup = _multi_cleanup(wait_signal.MultiSignalBlocker._cleanup)
    wait_signal._fimble_relayed = True


class SignalLog(GuiThreadRelay):
    """Records a signal's arguments on the GUI thread; use it instead of a lambda on a worker's signal."""

    def __init__(self, signal) -> None:
        self.calls: list[tuple] = []
        super().__init__(signal, self._record)

    def _record(self, *args) -> None:
        self.calls.append(args)
