"""Font zoom for the editor and the chat: View → Zoom In / Zoom Out / Reset Zoom.

A zoom applies to the pane that has the keyboard focus (the editor or the
chat); with the focus anywhere else it applies to both. Each pane's zoom is a
number of one-point steps from the default font size, kept in the settings'
``zoom`` field and applied again at the next start. Every editor tab follows
its pane's zoom, tabs opened later included.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QWidget

from app.core.settings_checks import ZOOM_MAX, ZOOM_MIN, ZOOM_PANES
from app.ui.chat_pane import ChatPane
from app.ui.code_editor import CodeEditor
from app.ui.editor_pane import EditorPane
from app.ui.window_settings import WindowSettings

EDITOR, CHAT = ZOOM_PANES
ZOOM_PROPERTY = "fimbleZoomSteps"


def _sized(font: QFont, steps: int) -> QFont:
    sized = QFont(font)
    sized.setPointSizeF(max(4.0, font.pointSizeF() + steps))
    return sized


class PaneZoom(QObject):
    """Zooms the focused pane (or both) and remembers each pane's steps."""

    def __init__(self, editor_pane: EditorPane, chat_pane: ChatPane, prefs: WindowSettings) -> None:
        super().__init__(editor_pane)
        self.editor_pane = editor_pane
        self.chat_pane = chat_pane
        self.prefs = prefs
        self.steps = {pane: prefs.settings.zoom.get(pane, 0) for pane in (EDITOR, CHAT)}
        self._editor_font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._chat_fonts = {widget: QFont(widget.font()) for widget in self._chat_widgets()}
        editor_pane.tabs.current_editor_changed.connect(self._on_editor_changed)
        self._apply()

    # ---- actions ------------------------------------------------------------------------

    @Slot()
    def zoom_in(self) -> None:
        """One step larger."""
        self.change(+1)

    @Slot()
    def zoom_out(self) -> None:
        """One step smaller."""
        self.change(-1)

    @Slot()
    def reset(self) -> None:
        """Back to the default size."""
        self.change(None)

    def change(self, step: int | None) -> None:
        """Add ``step`` to the focused pane's zoom (to both without focus); None resets it."""
        for pane in self.targets():
            steps = 0 if step is None else self.steps[pane] + step
            self.steps[pane] = min(ZOOM_MAX, max(ZOOM_MIN, steps))
        self._apply()
        with self.prefs.change() as settings:
            settings.zoom = {pane: steps for pane, steps in self.steps.items() if steps}

    def targets(self) -> tuple[str, ...]:
        """The panes a zoom applies to now: the one with the focus, or both."""
        focus = QApplication.focusWidget()
        if focus is not None and self.chat_pane.isAncestorOf(focus):
            return (CHAT,)
        if focus is not None and self.editor_pane.isAncestorOf(focus):
            return (EDITOR,)
        return (EDITOR, CHAT)

    # ---- fonts --------------------------------------------------------------------------

    def _chat_widgets(self) -> list[QWidget]:
        return [self.chat_pane.view, self.chat_pane.input]

    def _apply(self) -> None:
        for widget, font in self._chat_fonts.items():
            widget.setFont(_sized(font, self.steps[CHAT]))
        for tab in self.editor_pane.tabs.tabs():
            self.apply_to_editor(tab.editor)

    def apply_to_editor(self, editor: CodeEditor) -> None:
        """Give one editor its pane's zoom, if it has not got it yet."""
        steps = self.steps[EDITOR]
        if editor.property(ZOOM_PROPERTY) == steps:
            return
        editor.setProperty(ZOOM_PROPERTY, steps)
        editor.setFont(_sized(self._editor_font, steps))  # the editor measures itself again

    @Slot(object)
    def _on_editor_changed(self, editor: CodeEditor | None) -> None:
        if editor is not None:
            self.apply_to_editor(editor)

    def point_size(self, pane: str) -> float:
        """The font size a pane shows now (tests, the status line)."""
        if pane == CHAT:
            return self.chat_pane.view.font().pointSizeF()
        editor = self.editor_pane.tabs.current_editor()
        return (editor.font() if editor is not None else _sized(self._editor_font, self.steps[EDITOR])).pointSizeF()
