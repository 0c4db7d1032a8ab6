"""Run a function off the GUI thread and get its result back on it.

For short-lived work a dialog starts: a Hub search, a repository listing,
inspecting the library. The callbacks run on the GUI thread, and only while
``owner`` still exists, so a dialog closed mid-call is not touched.

Results travel through one dispatcher QObject that lives on the GUI thread
for the whole run. No per-call QObject is made, so none can be destroyed on
a worker thread while the GUI thread still uses it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

_ids = itertools.count(1)


class _Dispatcher(QObject):
    """Hands each finished call's result to its callbacks on the GUI thread."""

    finished = Signal(int, bool, object)  # call id, ok, result or exception

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[int, tuple[QObject, Callable[[Any], None], Callable[[BaseException], None] | None]] = {}
        self.finished.connect(self.deliver)  # queued when emitted from a worker thread

    @Slot(int, bool, object)
    def deliver(self, call_id: int, ok: bool, value: Any) -> None:
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        owner, on_done, on_error = call
        if not shiboken6.isValid(owner):
            return  # the dialog that asked is gone
        if ok:
            on_done(value)
        elif on_error is not None:
            on_error(value)


_dispatcher: _Dispatcher | None = None


class _Call(QRunnable):
    """One call on a Qt pool thread; the pool owns and deletes it."""

    def __init__(self, call_id: int, fn: Callable[[], Any], dispatcher: _Dispatcher) -> None:
        super().__init__()
        self.call_id, self.fn, self.dispatcher = call_id, fn, dispatcher

    def run(self) -> None:  # noqa: D102 - QRunnable override
        try:
            result = self.fn()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's on_error
            self.dispatcher.finished.emit(self.call_id, False, exc)
        else:
            self.dispatcher.finished.emit(self.call_id, True, result)


def run_in_background(
    owner: QObject,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None] | None = None,
) -> None:
    """Call ``fn()`` on a Qt pool thread; deliver its result or exception to the GUI thread.

    Call this from the GUI thread.

    Args:
        owner: A QObject on the GUI thread; when it is deleted, nothing is delivered.
        fn: The work; it must not touch widgets.
        on_done: Called with the result.
        on_error: Called with the exception ``fn`` raised.
    """
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
    call_id = next(_ids)
    _dispatcher.calls[call_id] = (owner, on_done, on_error)
    QThreadPool.globalInstance().start(_Call(call_id, fn, _dispatcher))
