"""Run a callback once a window has been painted for the first time: work the first paint does not need."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QWidget


class _FirstPaint(QObject):
    """Watches one widget's events until its first Paint, then calls back on the next event-loop turn.

    With a ``fallback_ms``, the callback also runs that long after the event
    loop starts if no paint came first (a window never shown); it runs once.
    """

    def __init__(self, widget: QWidget, callback: Callable[[], object], fallback_ms: int | None) -> None:
        super().__init__(widget)
        self._callback: Callable[[], object] | None = callback
        self._widget = widget
        self._fallback_ms = fallback_ms
        widget.installEventFilter(self)
        if fallback_ms is not None:
            QTimer.singleShot(0, self, self._arm_fallback)  # counted from the event loop's start

    @Slot()
    def _arm_fallback(self) -> None:
        if self._callback is not None and self._fallback_ms is not None:
            QTimer.singleShot(self._fallback_ms, self, self._call)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._call)
        return False

    @Slot()
    def _call(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            self._widget.removeEventFilter(self)
            callback()


def attach_after_first_paint(widget: QWidget, callback: Callable[[], object], fallback_ms: int | None = None) -> None:
    """Call ``callback`` on the GUI thread just after ``widget`` is first painted.

    Args:
        widget: The widget whose first paint to wait for.
        callback: Called once, on the GUI thread.
        fallback_ms: If given, call it this long after the event loop starts
            should no paint come first; else never unless ``widget`` is painted.
    """
    _FirstPaint(widget, callback, fallback_ms)
