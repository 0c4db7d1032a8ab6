"""The chat pane: conversations on the left, the transcript and input on the right."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat_view import ChatView, stats_line
from app.ui.labels import no_wider_than_given

if TYPE_CHECKING:
    from app.core.generation.contracts import GenerationStats
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
    """Conversation list, transcript, input, Stop/Regenerate, stats and context usage.

    The pane can be made before its chat service (the window paints first):
    ``bind`` connects it to one later, and until then its buttons do nothing.
    """

    insert_code = Signal(str)  # code for the editor's cursor
    open_code = Signal(str, str)  # language, code for a new editor tab

    def __init__(self, service: ChatService | None = None, parent=None) -> None:
        super().__init__(parent)
        self._service: ChatService | None = None
        self._deleted: int | None = None
        self._answer_id: int | None = None  # the message being streamed
        # Sidebar.
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh_list)
        self.list = QListWidget()
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._list_menu)
        self.new_button = QPushButton("New chat")
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.hide()
        self.undo_button.clicked.connect(self.undo_delete)
        side = QWidget()
        side.setMinimumWidth(150)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.new_button, self.search, self.list, self.undo_button):
            side_layout.addWidget(widget)
        # A line about the chat database (a file set aside, a full disk), until dismissed.
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("background:#fff3cd; color:#664d03; padding:4px;")
        no_wider_than_given(self.banner)  # a long path must not widen the window
        self.banner_close = QPushButton("Dismiss")
        self.banner_close.clicked.connect(self.hide_banner)
        self.banner_bar = QWidget()
        banner_layout = QHBoxLayout(self.banner_bar)
        banner_layout.setContentsMargins(0, 0, 0, 0)
        banner_layout.addWidget(self.banner, 1)
        banner_layout.addWidget(self.banner_close)
        self.banner_bar.hide()
        # Transcript and input.
        self.view = ChatView()
        self.view.action.connect(self._on_message_action)
        self.view.code_action.connect(self._on_code_action)
        self.input = _Input(self.send)
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop")
        self.regen_button = QPushButton("Regenerate")
        self.system_button = QPushButton("System prompt…")
        self.settings_button = QPushButton("Settings…")
        self.stop_button.setEnabled(False)
        self.stats = QLabel("")
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        no_wider_than_given(self.stats)  # the stats line is cut short rather than widen the window
        self.context = QProgressBar()
        self.context.setRange(0, 1000)
        self.context.setTextVisible(True)
        self.context.setFormat("context use: no answer yet")
        self.context.setMaximumHeight(14)
        buttons = QHBoxLayout()
        buttons.addWidget(self.system_button)
        buttons.addWidget(self.settings_button)
        buttons.addWidget(self.stats, 1)
        buttons.addWidget(self.regen_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        main = QWidget()
        self._main_layout = main_layout = QVBoxLayout(main)
        main_layout.setContentsMargins(0, 0, 0, 0)
        main_layout.addWidget(self.banner_bar)
        main_layout.addWidget(self.view, 1)
        main_layout.addWidget(self.context)
        main_layout.addWidget(self.input)
        main_layout.addLayout(buttons)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(side)
        splitter.addWidget(main)
        splitter.setSizes([180, 440])
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        if service is not None:
            self.bind(service)

    @property
    def service(self) -> ChatService:
        """The chat service the pane shows (``bind`` gave it)."""
        if self._service is None:
            raise RuntimeError("the chat pane has no chat service yet")
        return self._service

    def bind(self, service: ChatService) -> None:
        """Connect the pane to ``service``: its buttons, its signals, and the saved chats once open."""
        self._service = service
        self.list.itemClicked.connect(self._on_item_clicked)
        self.new_button.clicked.connect(service.new_conversation)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(service.stop)
        self.regen_button.clicked.connect(service.regenerate)
        self.system_button.clicked.connect(self.edit_system_prompt)
        self.settings_button.clicked.connect(self.edit_settings)
        service.conversations_changed.connect(self.refresh_list)
        service.conversation_changed.connect(self._show_conversation)
        service.answer_started.connect(self._on_started)
        service.answer_piece.connect(self._on_piece)
        service.answer_finished.connect(self._on_finished)
        service.answer_failed.connect(self._on_failed)
        service.notice.connect(self.show_notice)
        service.store_failed.connect(self.show_banner)
        service.store_ready.connect(self._on_store_ready)
        if service.store_is_open:
            self._on_store_ready()

    @Slot()
    def _on_store_ready(self) -> None:
        """Show the saved conversations, and the latest of them."""
        self.refresh_list()
        if self.service.current_id is None:
            first = self.service.store.conversations()
            if first:
                self.service.select(first[0].id)

    # ---- conversations --------------------------------------------------------------

    @Slot(QListWidgetItem)
    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        self.service.select(item.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def refresh_list(self, *_args) -> None:
        """Fill the sidebar: every chat, or the ones matching the search."""
        if self._service is None:
            return  # a search typed before the service is bound: ``bind`` fills the list
        query = self.search.text().strip()
        self.list.clear()
        found = self.service.store.search(query) if query else [(c, "") for c in self.service.store.conversations()]
        for conversation, snippet in found:
            item = QListWidgetItem(conversation.title)
            item.setToolTip(snippet or conversation.title)
            item.setData(Qt.ItemDataRole.UserRole, conversation.id)
            self.list.addItem(item)
            if conversation.id == self.service.current_id:
                item.setSelected(True)

    @Slot(int)
    def _show_conversation(self, _conversation_id: int) -> None:
        self.view.show_messages(self.service.messages())
        self.refresh_list()

    def _list_menu(self, point) -> None:
        item = self.list.itemAt(point)
        if item is None:
            return
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.rename(conversation_id))
        menu.addAction("Export as Markdown…", lambda: self.export(conversation_id, "md"))
        menu.addAction("Export as JSON…", lambda: self.export(conversation_id, "json"))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete(conversation_id))
        menu.exec(self.list.mapToGlobal(point))

    def rename(self, conversation_id: int) -> None:
        """Ask for a new title."""
        current = self.service.store.conversation(conversation_id).title
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=current)
        if ok and title.strip() and self._saved(self.service.store.rename, conversation_id, title.strip()):
            self.refresh_list()

    def delete(self, conversation_id: int) -> None:
        """Delete a chat; Undo brings it back."""
        if not self._saved(self.service.store.delete, conversation_id):
            return
        self._deleted = conversation_id
        self.undo_button.show()
        if self.service.current_id == conversation_id:
            self.service.current_id = None
            self.view.show_messages([])
        self.refresh_list()

    @Slot()
    def undo_delete(self) -> None:
        """Restore the last deleted chat."""
        if self._deleted is not None and self._saved(self.service.store.undelete, self._deleted):
            self.service.select(self._deleted)
            self._deleted = None
        self.undo_button.hide()
        self.refresh_list()

    def export(self, conversation_id: int, kind: str) -> None:
        """Write a chat to a Markdown or JSON file."""
        conversation = self.service.store.conversation(conversation_id)
        path, _ = QFileDialog.getSaveFileName(self, "Export chat", f"{conversation.title}.{kind}")
        if path:
            messages = self.service.store.messages(conversation_id)
            from app.core.chat.export import export_json, export_markdown  # only an export needs it

            text = export_markdown(conversation, messages) if kind == "md" else export_json(conversation, messages)
            try:
                Path(path).write_text(text, encoding="utf-8")
            except OSError as exc:
                self.show_banner(f"the chat was not exported to {path}: {exc.strerror or exc}")

    def edit_system_prompt(self) -> None:
        """Edit the shown conversation's system prompt."""
        if self.service.current_id is None and self.service.new_conversation() is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "System prompt", "For this chat:", self.service.system_prompt())
        if ok:
            self._saved(self.service.store.set_system_prompt, self.service.current_id, text)

    def edit_settings(self) -> None:
        """Edit the shown conversation's sampling and the overflow policy."""
        from app.ui.chat_settings import SamplingDialog

        if self.service.current_id is None and self.service.new_conversation() is None:
            return
        dialog = SamplingDialog(self.service.sampling(), self.service.overflow, self)
        if dialog.exec():
            sampling, self.service.overflow = dialog.values()
            self._saved(self.service.store.set_sampling, self.service.current_id, sampling)

    def _saved(self, change, *args) -> bool:
        """Make one change to the store; show why it failed instead of raising."""
        from app.core.chat.records import StoreError  # loaded with the store, long before

        try:
            change(*args)
        except StoreError as exc:
            self.show_banner(f"{exc}; the change was not saved")
            return False
        return True

    # ---- sending and streaming ---------------------------------------------------------

    @Slot()
    def send(self) -> None:
        """Send the input box's text."""
        text = self.input.toPlainText()
        if self._service is None:
            return  # Enter before the service is bound: the text stays in the box
        if text.strip() and self.service.send(text) is not None:
            self.input.clear()

    def ask(self, text: str) -> None:
        """Send a message composed elsewhere (editor actions)."""
        self.service.send(text)

    @Slot(int, int)
    def _on_started(self, _job: int, message_id: int) -> None:
        self._answer_id = message_id
        self.view.show_messages(self.service.messages()[:-1])
        self.view.begin_answer(message_id)
        self.send_button.setEnabled(False)
        self.regen_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.stats.setText("thinking…")

    @Slot(int, str)
    def _on_piece(self, _job: int, text: str) -> None:
        self.view.add_text(text)

    @Slot(int, object)
    def _on_finished(self, _job: int, stats: GenerationStats) -> None:
        from app.core.chat.budget import context_usage  # loaded with the chat service

        self._idle()
        answer = next((m for m in reversed(self.service.messages()) if m.id == self._answer_id), None)
        if answer is None:
            return  # another chat is shown now; the answer was saved in its own
        self.view.end_answer(answer)
        self.stats.setText(stats_line(answer))
        self.stats.setToolTip(self.stats.text())
        usage = context_usage(stats.prompt_tokens + stats.generated_tokens, stats.n_ctx) if stats.n_ctx else 0
        self.context.setValue(int(usage * 1000))
        self.context.setFormat(f"context {usage:.0%} of {stats.n_ctx} tokens")

    @Slot(int, str)
    def _on_failed(self, _job: int, message: str) -> None:
        self._idle()
        self.view.show_messages(self.service.messages())
        self.view.add_note(message)
        self.stats.setText("failed")

    @Slot(str)
    def show_notice(self, text: str) -> None:
        """Add a notice to the transcript."""
        self.view.add_note(text)

    @Slot(str)
    def show_banner(self, text: str) -> None:
        """Show one line above the transcript until dismissed (the chat database's state)."""
        self.banner.setText(text)
        self.banner.setToolTip(text)
        self.banner_bar.show()

    @Slot()
    def hide_banner(self) -> None:
        """Dismiss the banner."""
        self.banner_bar.hide()

    def add_card(self, card: QWidget) -> None:
        """Put a card (the welcome) between the banner and the transcript."""
        self._main_layout.insertWidget(self._main_layout.indexOf(self.view), card)

    def _idle(self) -> None:
        self.send_button.setEnabled(True)
        self.regen_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    # ---- message and code actions --------------------------------------------------------

    @Slot(str, int)
    def _on_message_action(self, verb: str, message_id: int) -> None:
        if verb == "regenerate":
            self.service.regenerate()
        elif verb == "edit":
            message = self.view.messages.get(message_id)
            if message is None:
                return
            text, ok = QInputDialog.getMultiLineText(self, "Edit message", "Resend as:", message.content)
            if ok:
                self.service.edit_and_resend(message_id, text)

    @Slot(str, object)
    def _on_code_action(self, verb: str, block) -> None:
        if verb == "insert":
            self.insert_code.emit(block.code)
        elif verb == "open":
            self.open_code.emit(block.language, block.code)
