"""Ghost text: a suggestion painted at the cursor, never inserted until accepted.

The first line is drawn inline, with the rest of the real line redrawn after
it. Further lines are drawn in room the document layout (GhostLayout) makes
under the cursor's line, so the lines below move down while the suggestion
shows and come back when it goes. The document, its undo stack and its
modified flag are untouched until a key accepts some of it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter
from PySide6.QtWidgets import QPlainTextEdit

from app.core.fim.post import accept_line, accept_word, consume_typed
from app.ui.ghost_layout import install_ghost_layout


class GhostText:
    """The state and drawing of one suggestion inside a QPlainTextEdit."""

    def __init__(self, editor: QPlainTextEdit) -> None:
        self.editor = editor
        self.layout = install_ghost_layout(editor)  # before any text: it brings a fresh document
        self.text = ""
        self.position = -1
        self.color = QColor(Qt.GlobalColor.gray)
        self._accepting = False
        self.on_accept_all: Callable[[], None] | None = None  # called after Tab took the whole suggestion

    @property
    def visible(self) -> bool:
        """Whether a suggestion is shown."""
        return bool(self.text)

    def show(self, text: str) -> None:
        """Show ``text`` at the cursor."""
        self.text = text
        self.position = self.editor.textCursor().position() if text else -1
        self.reserve_room()
        self.editor.viewport().update()

    def clear(self) -> None:
        """Remove the suggestion."""
        if self.text:
            self.text = ""
            self.position = -1
            self.layout.release()
            self.editor.viewport().update()

    def cursor_moved(self) -> None:
        """Drop the suggestion when the cursor leaves its anchor."""
        if self.text and not self._accepting and self.editor.textCursor().position() != self.position:
            self.clear()

    # ---- keys -----------------------------------------------------------------------

    def handle_key(self, event: QKeyEvent) -> bool:
        """Accept, dismiss or consume for a key; return True if the key was used."""
        if not self.text:
            return False
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key == Qt.Key.Key_Tab and not mods & ~Qt.KeyboardModifier.KeypadModifier:
            self._accept(self.text, "")
            if self.on_accept_all is not None:
                self.on_accept_all()
            return True
        if key == Qt.Key.Key_Escape:
            self.clear()
            return True
        if ctrl and key == Qt.Key.Key_Right:
            self._accept(*accept_word(self.text))
            return True
        if (ctrl and key == Qt.Key.Key_Down) or (key == Qt.Key.Key_End and not ctrl):
            self._accept(*accept_line(self.text))
            return True
        typed = event.text()
        if typed and typed.isprintable() and not ctrl:
            rest = consume_typed(self.text, typed)
            if rest is not None:
                self._accept(typed, rest)
                return True
        return False

    def _accept(self, accepted: str, rest: str) -> None:
        self._accepting = True
        try:
            self.editor.textCursor().insertText(accepted)
        finally:
            self._accepting = False
        self.text = rest
        self.position = self.editor.textCursor().position() if rest else -1
        self.reserve_room()
        self.editor.viewport().update()

    def reserve_room(self) -> None:
        """Make room under the cursor's line for the suggestion's further lines (again after a font change)."""
        extra_lines = self.text.count("\n")
        if not extra_lines:
            self.layout.release()
            return
        cursor = self.editor.textCursor()
        self.layout.reserve(cursor.blockNumber(), extra_lines * self.editor.cursorRect(cursor).height())

    # ---- painting -------------------------------------------------------------------

    def paint(self, painter: QPainter, background: QColor, foreground: QColor) -> None:
        """Draw the suggestion; call at the end of the editor's paintEvent."""
        if not self.text:
            return
        editor = self.editor
        metrics = editor.fontMetrics()
        cursor = editor.textCursor()
        rect = editor.cursorRect(cursor)
        line_height = rect.height()
        ascent = metrics.ascent()
        first, *more = self.text.split("\n")
        block = cursor.block()
        after = block.text()[cursor.positionInBlock() :]
        painter.setFont(editor.font())
        x = rect.left()
        # Inline: the suggestion, then the real rest of the line pushed right (or down).
        painter.fillRect(QRectF(x, rect.top(), editor.viewport().width() - x, line_height), background)
        painter.setPen(self.color)
        painter.drawText(QPointF(x, rect.top() + ascent), first)
        if after and not more:
            painter.setPen(foreground)
            painter.drawText(QPointF(x + metrics.horizontalAdvance(first), rect.top() + ascent), after)
        if not more:
            return
        # Further lines: in the room the layout made under the block's own lines.
        top = editor.blockBoundingGeometry(block).translated(editor.contentOffset()).top()
        top += block.layout().boundingRect().bottom()
        left = editor.contentOffset().x() + editor.document().documentMargin()
        painter.setPen(self.color)
        for row, line in enumerate(more):
            painter.drawText(QPointF(left, top + row * line_height + ascent), line)
        if after:  # the rest of the cursor's line follows the last ghost line
            painter.setPen(foreground)
            last = top + (len(more) - 1) * line_height + ascent
            painter.drawText(QPointF(left + metrics.horizontalAdvance(more[-1]), last), after)
