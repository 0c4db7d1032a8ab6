"""Run a function off the GUI thread and get its result back on it.

For short-lived work a dialog starts: a Hub search, a repository listing,
inspecting the library. The callbacks run on the GUI thread, and only while
``owner`` still exists, so a dialog closed mid-call is not touched.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal, Slot

# Each call's relay stays referenced until its result reaches the GUI thread,
# so it is never destroyed on a worker thread.
_running: set = set()


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


def _call(fn: Callable[[], Any], relay: _Relay) -> None:
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - handed to the caller's on_error
        relay.failed.emit(exc)
    else:
        relay.done.emit(result)


class _Receiver(QObject):
    """Lives on the GUI thread as a child of ``owner``; dies with it."""

    def __init__(self, owner: QObject, on_done, on_error) -> None:
        super().__init__(owner)
        self._on_done, self._on_error = on_done, on_error
        self.entry: _Relay | None = None

    @Slot(object)
    def done(self, result) -> None:
        self._release()
        self._on_done(result)

    @Slot(object)
    def failed(self, exc) -> None:
        self._release()
        if self._on_error is not None:
            self._on_error(exc)

    def _release(self) -> None:
        _running.discard(self.entry)
        self.deleteLater()


def run_in_background(owner: QObject, fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[BaseException], None] | None = None) -> None:
    """Call ``fn()`` on a daemon thread; deliver its result or exception to the GUI thread.

    Daemon threads, so that a Hub request still waiting on the network when
    the window closes does not hold up the exit.

    Args:
        owner: A QObject on the GUI thread; when it is deleted, nothing is delivered.
        fn: The work; it must not touch widgets.
        on_done: Called with the result.
        on_error: Called with the exception ``fn`` raised.
    """
    receiver = _Receiver(owner, on_done, on_error)
    relay = _Relay()
    relay.done.connect(receiver.done)
    relay.failed.connect(receiver.failed)
    receiver.entry = relay
    _running.add(relay)
    threading.Thread(target=_call, args=(fn, relay), name="fimble-background", daemon=True).start()
