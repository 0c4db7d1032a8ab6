"""Run a callback once a window has been painted for the first time: work the first paint does not need."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class _FirstPaint(QObject):
    """Watches one widget's events until its first Paint, then calls back on the next event-loop turn."""

    def __init__(self, widget: QWidget, callback: Callable[[], object]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._callback)
        return False


def attach_after_first_paint(widget: QWidget, callback: Callable[[], object]) -> None:
    """Call ``callback`` on the GUI thread just after ``widget`` is first painted (never if it never is)."""
    _FirstPaint(widget, callback)
