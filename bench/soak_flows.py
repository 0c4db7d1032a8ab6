"""Multi-step soak actions that wait for the window between steps, without blocking it.

A flow is a generator: it does one step, then yields a condition; the
driver calls ``advance`` on every tick and resumes the generator once the
condition holds. A condition that does not hold within its time limit ends
the flow as failed (the soak counts it; it is not a crash).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

WAIT_LIMIT_S = 60.0
GHOST_WAIT_S = 4.0

Condition = Callable[[], bool]


class Skip(Exception):
    """The action does not apply now; the reason is logged."""


class FlowFailed(Exception):
    """A flow waited longer than its limit for the window."""


class Flow:
    """One running multi-step action."""

    def __init__(self, name: str, steps: Generator[Condition, None, str | None], limit_s: float = WAIT_LIMIT_S) -> None:
        self.name = name
        self.completed = False
        self.outcome: str | None = None  # what the generator returned: a name to count
        self._steps = steps
        self._limit_s = limit_s
        self._waiting: Condition | None = None
        self._since = time.monotonic()
        self._next()

    def _next(self) -> bool:
        try:
            self._waiting = next(self._steps)
        except StopIteration as stop:
            self.completed = True
            self.outcome = stop.value
            return True
        self._since = time.monotonic()
        return False

    def advance(self) -> bool:
        """Go on if the awaited condition holds; return True once the flow has ended.

        Raises:
            FlowFailed: The condition did not hold within the limit.
            Skip: A step found the action no longer applies.
        """
        if self.completed:
            return True
        if self._waiting():
            return self._next()
        if time.monotonic() - self._since > self._limit_s:
            raise FlowFailed(f"waited more than {self._limit_s:.0f} s")
        return False


def download_flow(dialog, query: str) -> Generator[Condition, None, str]:
    """Search the Hub in the Get Models tab, pick the first repository and file, press Download."""
    panel = dialog.hub_panel
    dialog.tabs.setCurrentWidget(panel)
    panel.query.setText(query)
    panel.search_button.click()
    yield lambda: panel.search_button.isEnabled() and panel.repos.rowCount() > 0
    panel.repos.clearSelection()
    panel.repos.selectRow(0)
    yield lambda: panel.details is not None and panel.files.rowCount() > 0
    panel.files.selectRow(0)
    panel.quant.setCurrentIndex(0)  # as published
    if not panel.download_button.isEnabled():
        raise Skip(f"Download is not offered: {panel.plan_label.text()}")
    panel.download_button.click()
    return "download_queued"


def quantize_flow(dialog, source: str, qtype: str) -> Generator[Condition, None, str]:
    """Select the full-precision model in the Library tab and press Quantize… for ``qtype``."""
    panel = dialog.library_panel
    dialog.tabs.setCurrentWidget(panel)
    panel.refresh()
    yield lambda: panel.select_path(source)
    if not panel.quantize_button.isEnabled():
        raise Skip("Quantize… is not offered for the selection")
    panel.choose_type = lambda types: qtype if qtype in types else None
    panel.quantize_button.click()
    return "quantize_queued"


def ghost_flow(window, editor, accept: bool) -> Generator[Condition, None, str]:
    """Ask for a suggestion (Ctrl+Space), wait for the ghost text, then press Tab or Esc.

    Ctrl+Space is a shortcut of the main window: when the model manager is
    the active window, the main window is activated first, as a click on it
    would. Other actions go on meanwhile; if they move the cursor, edit or
    close the tab, the suggestion is gone and the flow ends as skipped.
    """
    from PySide6.QtWidgets import QApplication

    status = window.editor_pane.status

    def active() -> bool:
        if QApplication.activeWindow() is window:
            return True
        window.activateWindow()  # again: another step may have raised the model manager meanwhile
        return False

    if not active():
        deadline = time.monotonic() + GHOST_WAIT_S
        yield lambda: active() or time.monotonic() > deadline
    if not shiboken6.isValid(editor) or QApplication.activeWindow() is not window:
        raise Skip("the main window did not become active")
    editor.setFocus()
    QTest.keyClick(editor, Qt.Key.Key_Space, Qt.KeyboardModifier.ControlModifier)
    revision, position = editor.document().revision(), editor.textCursor().position()
    deadline = time.monotonic() + GHOST_WAIT_S

    def moved_on() -> bool:
        return (
            not shiboken6.isValid(editor)
            or editor.document().revision() != revision
            or editor.textCursor().position() != position
        )

    yield lambda: moved_on() or editor.ghost.visible or time.monotonic() > deadline
    if moved_on():
        raise Skip("the editor moved on before a suggestion came")
    if not editor.ghost.visible:
        raise Skip(f"no ghost text within {GHOST_WAIT_S:.0f} s; the editor says: {status.text()}")
    before = editor.toPlainText()
    QTest.keyClick(editor, Qt.Key.Key_Tab if accept else Qt.Key.Key_Escape)
    if editor.ghost.visible or (editor.toPlainText() == before) == accept:
        raise RuntimeError(f"{'Tab' if accept else 'Esc'} did not {'accept' if accept else 'dismiss'} the ghost text")
    return "ghost_accept" if accept else "ghost_dismiss"
