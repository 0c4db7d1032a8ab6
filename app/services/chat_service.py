"""ChatService: conversations in the store, answers streamed from the chat engine.

The user's message is committed before generation starts; the answer is
created as a partial message and appended to as it streams, so Stop, a host
crash or a killed app all leave it saved and marked partial.

A store that cannot be written (a full disk) never raises out of here: the
service emits ``store_failed`` with one line, a message that was not saved is
not sent (the caller keeps its text), and a streaming answer is stopped with
what was saved so far kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core.chat.defaults import DEFAULT_SYSTEM_PROMPT, default_sampling, sampling_from_dict
from app.core.chat.store import ChatStore, Conversation, StoredMessage, StoreError, StoreFull
from app.core.generation.contracts import ChatMessage, ChatRequest, GenerationStats, Sampling
from app.core.models.loaded import LoadedModel
from app.services.engine_worker import EngineController

FLUSH_MS = 250  # how often streamed text is written to the store


class ChatService(QObject):
    """The current conversation and its streaming answer."""

    conversations_changed = Signal()
    conversation_changed = Signal(int)  # the shown conversation (re-render it)
    answer_started = Signal(int, int)  # job id, message id
    answer_piece = Signal(int, str)
    answer_finished = Signal(int, object)  # job id, GenerationStats
    answer_failed = Signal(int, str)
    notice = Signal(str)
    store_failed = Signal(str)  # one line: what could not be saved, and what that means
    store_ready = Signal()  # a store being opened elsewhere is open: show its conversations

    def __init__(self, engine: EngineController, store: ChatStore | Callable[[], ChatStore], parent=None) -> None:
        """Serve chats from ``store``, or from the store a callable returns (it waits for one being opened).

        With a callable, ``store_is_open`` is False until ``store_arrived`` says otherwise.
        """
        super().__init__(parent)
        self.engine = engine
        self._store = store
        self.store_is_open = not callable(store)
        self.default_system_prompt = DEFAULT_SYSTEM_PROMPT
        self.overflow = "drop_oldest"
        self.family = "generic"
        self.model_name = ""
        self.can_chat = True
        self.transcript_mode = False  # the loaded model chats as a plain-text transcript
        self._told_transcript: set[int] = set()  # conversations that were told so, since the load
        self.current_id: int | None = None
        self._job: int | None = None
        self._answer_id: int | None = None
        self._answer_conversation: int | None = None  # where the answer goes, whichever chat is shown
        self._text: list[str] = []
        self._unflushed: list[str] = []
        self._unsaved: StoreError | None = None  # why the streaming answer can no longer be saved
        self._flush = QTimer(self)
        self._flush.setInterval(FLUSH_MS)
        self._flush.timeout.connect(self._flush_to_store)
        engine.worker.piece.connect(self._on_piece)
        engine.worker.finished.connect(self._on_finished)
        engine.worker.failed.connect(self._on_failed)
        engine.worker.loaded.connect(self._on_loaded)

    # ---- the store -------------------------------------------------------------------

    @property
    def store(self) -> ChatStore:
        """The chat store (waits while it is still being opened)."""
        store = self._store
        return store() if callable(store) else store

    def store_arrived(self) -> None:
        """The store being opened is open (GUI thread): say so once."""
        if not self.store_is_open:
            self.store_is_open = True
            self.store_ready.emit()

    # ---- conversations -------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether an answer is streaming."""
        return self._job is not None

    def new_conversation(self) -> Conversation | None:
        """Start an empty conversation and show it; None if it could not be saved."""
        try:
            conversation = self.store.create_conversation(system_prompt=None)
        except StoreError as exc:
            self._report(exc, "no new chat was started")
            return None
        self.select(conversation.id)
        self.conversations_changed.emit()
        return conversation

    def select(self, conversation_id: int) -> None:
        """Show another conversation (an answer in progress is stopped)."""
        if self.busy:
            self.stop()
        self.current_id = conversation_id
        self.conversation_changed.emit(conversation_id)

    def conversation(self) -> Conversation | None:
        """The shown conversation."""
        return self.store.conversation(self.current_id) if self.current_id is not None else None

    def messages(self) -> list[StoredMessage]:
        """The shown conversation's messages."""
        return self.store.messages(self.current_id) if self.current_id is not None else []

    def sampling(self) -> Sampling:
        """The shown conversation's sampling: family defaults plus its own changes."""
        base = asdict(default_sampling(self.family))
        conversation = self.conversation()
        if conversation is not None and conversation.sampling:
            base.update(conversation.sampling)
        return sampling_from_dict(base)

    def system_prompt(self) -> str:
        """The shown conversation's system prompt, or the default."""
        conversation = self.conversation()
        if conversation is not None and conversation.system_prompt is not None:
            return conversation.system_prompt
        return self.default_system_prompt

    # ---- sending --------------------------------------------------------------------

    def send(self, text: str) -> int | None:
        """Commit a user message and ask for an answer.

        Returns:
            The job id; None when nothing was sent (busy, blank, not a chat
            model, or the message could not be saved), so the caller keeps
            the text.
        """
        text = text.strip()
        if not text or self.busy:
            return None
        if not self.can_chat:
            self.notice.emit(
                f"{self.model_name} is not a chat model (no chat template and not a known chat"
                " family): pick an instruction-tuned model with File → Load Chat Model…"
            )
            return None
        conversation_id = self.current_id
        if conversation_id is None:
            started = self.new_conversation()
            if started is None:
                return None
            conversation_id = started.id
        try:
            _user, answer = self.store.add_exchange(conversation_id, text)  # saved before generating
        except StoreError as exc:
            self._report(exc, "the message was not sent")
            return None
        self.conversations_changed.emit()
        return self._generate(answer)

    def regenerate(self) -> int | None:
        """Answer the last user message again, replacing the answers after it."""
        users = [m for m in self.messages() if m.role == "user"]
        if self.busy or not users:
            return None
        try:
            self.store.truncate_after(users[-1].id)
        except StoreError as exc:
            self._report(exc, "nothing was regenerated")
            return None
        return self._generate()  # answer_started re-renders the shortened conversation

    def edit_and_resend(self, message_id: int, text: str) -> int | None:
        """Replace a user message, drop everything after it, and answer again."""
        if self.busy or not text.strip():
            return None
        try:
            self.store.update_message_content(message_id, text.strip())
            self.store.truncate_after(message_id)
        except StoreError as exc:
            self._report(exc, "the edited message was not sent")
            return None
        return self._generate()  # answer_started re-renders the shortened conversation

    def _generate(self, answer: StoredMessage | None = None) -> int | None:
        """Ask for an answer to the conversation, streaming into ``answer`` (made if None)."""
        conversation_id = self.current_id
        if conversation_id is None:
            return None
        history = [ChatMessage(m.role, m.content) for m in self.messages() if m.content]
        system = self.system_prompt()
        turns = ((ChatMessage("system", system),) if system else ()) + tuple(history)
        if answer is None:
            try:
                answer = self.store.add_message(conversation_id, "assistant", "", partial=True)
            except StoreError as exc:
                self._report(exc, "no answer was asked for")
                self.conversation_changed.emit(self.current_id)
                return None
        self._answer_id, self._text, self._unflushed, self._unsaved = answer.id, [], [], None
        self._answer_conversation = self.current_id
        self._job = self.engine.generate(ChatRequest(turns, self.sampling(), overflow=self.overflow))
        self._flush.start()
        self.answer_started.emit(self._job, answer.id)
        return self._job

    def stop(self) -> None:
        """Stop the answer within one token; its text is kept and marked partial."""
        if self._job is not None:
            self.engine.cancel(self._job)

    def shutdown(self) -> None:
        """Save what has streamed (it stays marked partial) and stop listening."""
        if self._job is not None:
            self.engine.cancel(self._job)
            self._end()

    # ---- answers --------------------------------------------------------------------

    def _report(self, exc: StoreError, consequence: str) -> None:
        """Tell the window, in one line, what could not be saved and what that means."""
        self.store_failed.emit(f"{exc}; {consequence}")

    @Slot()
    def _flush_to_store(self) -> None:
        if not self._unflushed or self._answer_id is None or self._unsaved is not None:
            return
        try:
            self.store.append_to_message(self._answer_id, "".join(self._unflushed))
        except StoreError as exc:
            # Text that cannot be saved is not worth generating: stop, keep what was saved.
            self._unsaved = exc
            self._flush.stop()
            if self._job is not None:
                self.engine.cancel(self._job)
            self._report(exc, "the answer was stopped; the part saved before is kept")
            return
        self._unflushed = []

    def _finish_saved(self, answer_id: int, **values) -> None:
        """Record how an answer ended; when that cannot be saved, keep what was saved before."""
        if self._unsaved is None:
            try:
                self.store.finish_message(answer_id, **values)
                return
            except StoreError as exc:
                self._unsaved = exc
                self._report(exc, "the end of the answer was not saved")
        reason = "not saved: disk full" if isinstance(self._unsaved, StoreFull) else "not saved"
        try:
            self.store.finish_message(answer_id, partial=True, stop_reason=reason)
        except StoreError:
            pass  # the answer stays as last saved: marked partial, as it was made

    @Slot(int, str)
    def _on_piece(self, job_id: int, text: str) -> None:
        if job_id == self._job:
            self._text.append(text)
            self._unflushed.append(text)
            self.answer_piece.emit(job_id, text)

    def _end(self) -> int | None:
        self._flush.stop()
        self._flush_to_store()
        answer_id, self._job, self._answer_id = self._answer_id, None, None
        return answer_id

    @Slot(int, object)
    def _on_finished(self, job_id: int, stats: GenerationStats) -> None:
        answer_id = self._end() if job_id == self._job else None
        if answer_id is None:
            return
        partial = stats.finish_reason in ("cancelled", "time", "repetition")
        self._finish_saved(
            answer_id,
            content="".join(self._text),
            partial=partial,
            stop_reason=stats.finish_reason,
            stats=asdict(stats),
        )
        self.answer_finished.emit(job_id, stats)
        # Notices come after the answer has ended: the pane appends them below it.
        if stats.notice:
            self.notice.emit(stats.notice)
        conversation = self._answer_conversation
        if self.transcript_mode and conversation is not None and conversation not in self._told_transcript:
            self._told_transcript.add(conversation)
            from app.core.generation.families.transcript import transcript_notice

            self.notice.emit(transcript_notice(self.model_name))

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, kind: str, message: str) -> None:
        answer_id = self._end() if job_id == self._job else None
        if answer_id is None:
            return
        if self._text or self._unsaved is not None:
            self._finish_saved(answer_id, content="".join(self._text), partial=True, stop_reason=kind)
        elif self._answer_conversation is not None:
            try:
                self.store.truncate_after(self._message_before(self._answer_conversation, answer_id))
            except StoreError as exc:
                self._report(exc, "the empty answer was left in the chat")
        self.answer_failed.emit(job_id, message)

    def _message_before(self, conversation_id: int, message_id: int) -> int:
        ids = [m.id for m in self.store.messages(conversation_id)]
        return ids[ids.index(message_id) - 1]

    @Slot(object)
    def _on_loaded(self, loaded: LoadedModel) -> None:
        from app.core.generation.families.transcript import uses_transcript  # the families: after the first paint

        info = loaded.info
        self.family = info.family
        self.model_name = info.name
        self.can_chat = info.can_chat
        self.transcript_mode = info.can_chat and uses_transcript(info.family, info.has_chat_template)
        self._told_transcript = set()
