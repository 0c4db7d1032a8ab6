"""Work after a window's first paint: once, after the paint, or after a fallback counted from the loop's start."""

from __future__ import annotations

import time

from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtWidgets import QWidget

from app.ui.first_paint import attach_after_first_paint


class _Calls(QObject):
    """Counts calls on the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    @Slot()
    def call(self) -> None:
        self.count += 1


def test_a_shown_widget_calls_back_once_after_its_first_paint(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    calls = _Calls()
    attach_after_first_paint(widget, calls.call, fallback_ms=60_000)
    assert calls.count == 0
    widget.show()
    qtbot.waitUntil(lambda: calls.count == 1, timeout=10_000)
    widget.update()
    qtbot.wait(50)
    assert calls.count == 1


def test_the_fallback_counts_from_the_event_loop_not_from_when_it_was_asked(qtbot):
    widget = QWidget()  # never shown: no paint comes
    qtbot.addWidget(widget)
    calls = _Calls()
    attach_after_first_paint(widget, calls.call, fallback_ms=100)
    time.sleep(0.3)  # slow work before the loop runs, longer than the fallback
    QCoreApplication.processEvents()  # the loop's first turn arms the fallback; it is not due yet
    assert calls.count == 0
    qtbot.waitUntil(lambda: calls.count == 1, timeout=10_000)
    qtbot.wait(150)
    assert calls.count == 1


def test_without_a_fallback_a_hidden_widget_never_calls_back(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    calls = _Calls()
    attach_after_first_paint(widget, calls.call)
    qtbot.wait(100)
    assert calls.count == 0
