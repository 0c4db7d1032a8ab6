"""The chat transcript: rendered messages, streaming answers, code-block actions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication, QTextBrowser

from app.ui.theme import current_theme

if TYPE_CHECKING:  # the Markdown modules are imported with the first answer, not at startup
    from app.core.chat.records import StoredMessage
    from app.core.markdown.render import CodeBlock
    from app.core.markdown.stream import StreamingRender

RENDER_MS = 60  # the streaming answer is re-rendered at most this often
# ... and a long answer less often: the wait after a render is at least this many times as long as the
# render took, so that re-rendering takes at most about a fifth of the GUI thread's time.
RENDER_SPACING = 4
NOTES = {
    "cancelled": "stopped",
    "length": "stopped at the token limit",
    "time": "stopped at the time limit",
    "repetition": "stopped: the answer was repeating itself",
    # a remote engine that failed mid-answer (the text so far is kept, marked partial)
    "http": "interrupted: the server cut the answer off",
    "offline": "interrupted: the server went away",
    "timeout": "interrupted: the server went silent",
    "bad_reply": "interrupted: the server sent a garbled answer",
    "crashed": "interrupted: the engine stopped",
}


def stats_line(message: StoredMessage) -> str:
    """The line under an answer: measured tokens, speed, first token, and why it stopped."""
    parts = []
    stats = message.stats or {}
    if stats.get("generated_tokens"):
        parts.append(
            f"{stats['generated_tokens']} tokens · {stats.get('tokens_per_s', 0):.1f} tok/s"
            f" · first token {stats.get('ttft_ms', 0):.0f} ms"
        )
    note = NOTES.get(message.stop_reason or "") or (
        f"interrupted: {message.stop_reason}" if message.partial and message.stop_reason else ""
    )
    if message.partial and not note:
        note = "partial"
    if note:
        parts.append(note)
    return " · ".join(parts)


class ChatView(QTextBrowser):
    """Shows a conversation; only the answer being streamed is re-rendered."""

    action = Signal(str, int)  # "copy" | "edit" | "regenerate", message id
    code_action = Signal(str, object)  # "copy" | "insert" | "open", CodeBlock

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self.setPlaceholderText("Ask about code. Answers are rendered as Markdown.")
        self.blocks: dict[str, CodeBlock] = {}
        self.messages: dict[int, StoredMessage] = {}
        self._stream_id: int | None = None
        self._stream_start = 0
        self._stream_text: list[str] = []
        self._stream_render: StreamingRender | None = None  # re-renders only the end of the answer
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(RENDER_MS)
        self._timer.timeout.connect(self._render_stream)

    # ---- whole conversation -----------------------------------------------------------

    def show_messages(self, messages: list[StoredMessage]) -> None:
        """Render a whole conversation (on switching conversations)."""
        self._timer.stop()
        self._stream_id, self._stream_render = None, None
        self.blocks.clear()
        self.messages = {m.id: m for m in messages}
        last_user = max((m.id for m in messages if m.role == "user"), default=None)
        self.setHtml("".join(self._message_html(m, m.id == last_user) for m in messages))
        self._scroll_to_end()

    def _message_html(self, message: StoredMessage, last_user: bool = False) -> str:
        return (
            self._header(message, last_user)
            + self._body(message.id, message.role, message.content)
            + (self._footer(message) if message.role == "assistant" else "")
        )

    def _header(self, message: StoredMessage, last_user: bool) -> str:
        who = {"user": ("You", "#3b6fd4"), "assistant": ("Fimble", "#2e8b57")}.get(message.role, ("System", "#777"))
        links = [f'<a href="msg:copy/{message.id}">Copy</a>']
        if message.role == "user":
            links.append(f'<a href="msg:edit/{message.id}">Edit</a>')
        if message.role == "assistant":
            links.append(f'<a href="msg:regenerate/{message.id}">Regenerate</a>')
        return (
            f'<p style="margin-top:14px; margin-bottom:2px;"><b style="color:{who[1]}">{who[0]}</b>'
            f'&nbsp;&nbsp;<span style="font-size:small;">{" · ".join(links)}</span></p>'
        )

    def _body(self, message_id: int, role: str, content: str, streaming: StreamingRender | None = None) -> str:
        if role != "assistant":
            return f'<p style="white-space:pre-wrap; margin-top:0;">{_escape(content)}</p>'
        from app.core.markdown.render import render

        rendered = (streaming.render if streaming else render)(content, dark=current_theme().is_dark)
        for block in rendered.code_blocks:
            self.blocks[f"{message_id}.{block.index}"] = block
        markup = rendered.html
        for verb in ("copy", "insert", "open"):
            markup = markup.replace(f'href="fimble:{verb}/', f'href="fimble:{verb}/{message_id}.')
        return markup

    def _footer(self, message: StoredMessage) -> str:
        line = stats_line(message)
        return f'<p style="color:#888; font-size:small; margin-top:2px;">{_escape(line)}</p>' if line else ""

    # ---- streaming ----------------------------------------------------------------------

    def begin_answer(self, message_id: int) -> None:
        """Append an empty answer that ``add_text`` grows."""
        from app.core.chat.records import StoredMessage  # loaded with the chat store, long before

        cursor = self._new_block()
        placeholder = StoredMessage(message_id, 0, "assistant", "", True, None, None, 0, 0.0)
        cursor.insertHtml(self._header(placeholder, False))
        cursor.insertBlock()
        self._stream_id, self._stream_start, self._stream_text = message_id, cursor.position(), []
        from app.core.markdown.stream import StreamingRender

        self._stream_render = StreamingRender()
        self._timer.start(RENDER_MS)

    def add_text(self, text: str) -> None:
        """Add streamed text; the answer is re-rendered on the next tick."""
        self._stream_text.append(text)
        self._dirty = True

    @Slot()
    def _render_stream(self) -> None:
        if not self._dirty or self._stream_id is None:
            return
        self._dirty = False
        started = time.perf_counter()
        bar = self.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = self._end_cursor()
        cursor.setPosition(self._stream_start, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.insertHtml(self._body(self._stream_id, "assistant", "".join(self._stream_text), self._stream_render))
        if at_bottom:
            self._scroll_to_end()
        interval = max(RENDER_MS, round((time.perf_counter() - started) * 1000 * RENDER_SPACING))
        if interval != self._timer.interval():
            self._timer.setInterval(interval)  # restarts the timer: the wait starts now

    def end_answer(self, message: StoredMessage) -> None:
        """Replace the streamed answer with its final rendering and stats line."""
        self._dirty = True
        self._render_stream()
        self._timer.stop()
        footer = self._footer(message)
        if footer:
            self._new_block().insertHtml(footer)
        self.messages[message.id] = message
        self._stream_id, self._stream_render = None, None

    def add_note(self, text: str) -> None:
        """Append a one-line notice."""
        self._new_block().insertHtml(f'<p style="color:#8a6d3b;"><i>[{_escape(text)}]</i></p>')
        self._scroll_to_end()

    # ---- links --------------------------------------------------------------------------

    @Slot(QUrl)
    def _on_anchor(self, url: QUrl) -> None:
        scheme, path = url.scheme(), url.path()
        verb, _, key = path.partition("/")
        if scheme == "fimble" and key in self.blocks:
            block = self.blocks[key]
            if verb == "copy":
                QApplication.clipboard().setText(block.code)
            self.code_action.emit(verb, block)
        elif scheme == "msg" and key.isdigit():
            message_id = int(key)
            if verb == "copy" and message_id in self.messages:
                from app.core.markdown.plain import plain_text

                QApplication.clipboard().setText(plain_text(self.messages[message_id].content))
            self.action.emit(verb, message_id)

    def _new_block(self) -> QTextCursor:
        """A cursor in a fresh block at the end (HTML inserted there starts its own line)."""
        cursor = self._end_cursor()
        if not self.document().isEmpty():
            cursor.insertBlock()
        return cursor

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


def _escape(text: str) -> str:
    """``text`` escaped for HTML (the ``html`` package, with its entity table, loads on first use)."""
    import html

    return html.escape(text)
