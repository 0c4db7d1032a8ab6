"""The chat pane: a transcript, an input box, Send and Stop."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.requests import GenerationStats
from app.services.chat_service import ChatService


class _Input(QPlainTextEdit):
    """Enter sends; Shift+Enter adds a line."""

    def __init__(self, on_submit, parent=None) -> None:
        super().__init__(parent)
        self._on_submit = on_submit
        self.setPlaceholderText("Ask about code…  (Enter to send, Shift+Enter for a new line)")
        self.setMaximumHeight(96)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self._on_submit()
            return
        super().keyPressEvent(event)


class ChatPane(QWidget):
    """Shows the conversation and streams answers into it."""

    def __init__(self, service: ChatService, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self.transcript = QTextBrowser()
        self.transcript.setOpenExternalLinks(False)
        self.transcript.setPlaceholderText("Messages appear here.")
        self.input = _Input(self.send)
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stats = QLabel("")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        title = QLabel("Chat")
        title.setFont(QFont(title.font().family(), title.font().pointSize() + 1, QFont.Weight.DemiBold))

        buttons = QHBoxLayout()
        buttons.addWidget(self.stats, 1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.input)
        layout.addLayout(buttons)

        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(service.stop)
        service.answer_started.connect(self._on_started)
        service.answer_piece.connect(self._on_piece)
        service.answer_finished.connect(self._on_finished)
        service.answer_failed.connect(self._on_failed)

    @Slot()
    def send(self) -> None:
        """Send the input box's text."""
        text = self.input.toPlainText()
        if not text.strip() or self.service.busy:
            return
        self._append_block("You", text.strip(), "#3b6fd4")
        if self.service.send(text) is not None:
            self.input.clear()

    def _append_block(self, who: str, text: str, color: str) -> None:
        cursor = self._end_cursor()
        if not self.transcript.document().isEmpty():
            cursor.insertBlock()
            cursor.insertBlock()
        header = QTextCharFormat()
        header.setFontWeight(QFont.Weight.Bold)
        header.setForeground(QBrush(QColor(color)))
        cursor.insertText(who, header)
        cursor.insertBlock()
        cursor.insertText(text, QTextCharFormat())
        self._scroll_to_end()

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.transcript.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def show_notice(self, text: str) -> None:
        """Add a grey note to the transcript (model changes, dropped turns…)."""
        self._append_note(text)

    def _scroll_to_end(self) -> None:
        bar = self.transcript.verticalScrollBar()
        bar.setValue(bar.maximum())

    @Slot(int)
    def _on_started(self, _job: int) -> None:
        self._append_block("Fimble", "", "#2e8b57")
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.stats.setText("thinking…")

    @Slot(int, str)
    def _on_piece(self, _job: int, text: str) -> None:
        bar = self.transcript.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self._end_cursor().insertText(text, QTextCharFormat())
        if at_bottom:
            bar.setValue(bar.maximum())

    @Slot(int, object)
    def _on_finished(self, _job: int, stats: GenerationStats) -> None:
        self._idle()
        note = {"cancelled": " · stopped", "length": " · hit the token limit", "time": " · time limit"}
        if stats.finish_reason in ("cancelled", "length", "time"):
            self._append_note(note[stats.finish_reason].strip(" ·"))
        self.stats.setText(
            f"{stats.generated_tokens} tokens · {stats.tokens_per_s:.1f} tok/s · "
            f"first token {stats.ttft_ms:.0f} ms{note.get(stats.finish_reason, '')}"
        )

    @Slot(int, str)
    def _on_failed(self, _job: int, message: str) -> None:
        self._idle()
        self._append_note(message)
        self.stats.setText("failed")

    def _append_note(self, text: str) -> None:
        cursor = self._end_cursor()
        if not self.transcript.document().isEmpty():
            cursor.insertBlock()
        note = QTextCharFormat()
        note.setFontItalic(True)
        note.setForeground(QBrush(QColor("#8a6d3b")))
        cursor.insertText(f"[{text}]", note)
        self._scroll_to_end()

    def _idle(self) -> None:
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)
