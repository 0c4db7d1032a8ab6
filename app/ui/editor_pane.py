"""The editor pane: a code editor that shows completions as ghost text."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Slot
from PySide6.QtGui import QColor, QFontDatabase, QKeyEvent, QKeySequence, QPainter, QShortcut, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.core.requests import FimRequest, GenerationStats
from app.services.completion_service import CompletionService


class CodeEditor(QPlainTextEdit):
    """A plain-text editor that paints a suggestion without inserting it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self.ghost = ""
        self._ghost_at = -1
        self.cursorPositionChanged.connect(self._drop_ghost_if_moved)

    def show_ghost(self, text: str) -> None:
        """Paint ``text`` at the cursor in grey; the document is untouched."""
        self.ghost = text
        self._ghost_at = self.textCursor().position()
        self.viewport().update()

    def clear_ghost(self) -> None:
        """Remove the painted suggestion."""
        if self.ghost:
            self.ghost = ""
            self._ghost_at = -1
            self.viewport().update()

    def accept_ghost(self) -> None:
        """Insert the suggestion as one undoable edit."""
        text = self.ghost
        self.clear_ghost()
        if text:
            self.textCursor().insertText(text)

    @Slot()
    def _drop_ghost_if_moved(self) -> None:
        if self.ghost and self.textCursor().position() != self._ghost_at:
            self.clear_ghost()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if self.ghost and event.key() == Qt.Key.Key_Tab:
            self.accept_ghost()
            return
        if self.ghost and event.key() == Qt.Key.Key_Escape:
            self.clear_ghost()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self.ghost:
            return
        painter = QPainter(self.viewport())
        painter.setPen(QColor(Qt.GlobalColor.gray))
        painter.setFont(self.font())
        rect: QRect = self.cursorRect()
        metrics = self.fontMetrics()
        lines = self.ghost.split("\n")
        painter.drawText(rect.x(), rect.y() + metrics.ascent(), lines[0])
        left = self.contentOffset().x() + self.document().documentMargin()
        for row, line in enumerate(lines[1:], start=1):
            painter.drawText(int(left), rect.y() + metrics.ascent() + row * metrics.height(), line)
        painter.end()


class EditorPane(QWidget):
    """Wraps the editor; Ctrl+Space asks the completion model for a middle."""

    def __init__(self, service: CompletionService, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self.path = ""
        self.prefix_only = False
        self.editor = CodeEditor()
        self.editor.setPlaceholderText("Write code here. Ctrl+Space asks for a completion; Tab accepts it.")
        self.status = QLabel("Ctrl+Space: complete · Tab: accept · Esc: dismiss")
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.status)
        QShortcut(QKeySequence("Ctrl+Space"), self.editor, self.request_completion)
        service.suggestion.connect(self._on_suggestion)
        service.failed.connect(self._on_failed)
        self.editor.textChanged.connect(self._on_text_changed)

    @Slot()
    def request_completion(self) -> int:
        """Snapshot prefix and suffix at the cursor and request a middle."""
        cursor = self.editor.textCursor()
        text = self.editor.toPlainText()
        at = cursor.position()
        self.editor.clear_ghost()
        self.status.setText("completing…")
        return self.service.request(
            FimRequest(prefix=text[:at], suffix=text[at:], path=self.path, allow_prefix_only=self.prefix_only)
        )

    @Slot(int, str, object)
    def _on_suggestion(self, _job: int, text: str, stats: GenerationStats) -> None:
        if not text.strip():
            self.status.setText("no suggestion")
            return
        self.editor.show_ghost(text)
        self.status.setText(
            f"suggestion: {stats.generated_tokens} tokens in {stats.total_ms:.0f} ms"
            f" ({stats.reused_tokens}/{stats.prompt_tokens} prompt tokens reused) · Tab to accept"
        )

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status.setText(message)

    @Slot()
    def _on_text_changed(self) -> None:
        if self.editor.ghost:
            self.service.dismiss()
