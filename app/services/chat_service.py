"""ChatService: one conversation over the chat EngineController."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from app.core.requests import ChatMessage, ChatRequest, GenerationStats, Sampling
from app.services.engine_worker import EngineController


class ChatService(QObject):
    """Keeps the turns, sends the conversation, and collects the answer."""

    answer_started = Signal(int)
    answer_piece = Signal(int, str)
    answer_finished = Signal(int, object)  # job id, GenerationStats
    answer_failed = Signal(int, str)

    def __init__(self, engine: EngineController, parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.system_prompt = "You are a concise, careful programming assistant."
        self.sampling = Sampling(max_tokens=512, temperature=0.7)
        self.messages: list[ChatMessage] = []
        self._job: int | None = None
        self._partial: list[str] = []
        engine.worker.piece.connect(self._on_piece)
        engine.worker.finished.connect(self._on_finished)
        engine.worker.failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        """Whether an answer is streaming."""
        return self._job is not None

    def send(self, text: str) -> int | None:
        """Add a user turn and ask for an answer; return the job id."""
        text = text.strip()
        if not text or self.busy:
            return None
        self.messages.append(ChatMessage("user", text))
        turns = ((ChatMessage("system", self.system_prompt),) if self.system_prompt else ()) + tuple(self.messages)
        self._partial = []
        self._job = self.engine.generate(ChatRequest(turns, self.sampling))
        self.answer_started.emit(self._job)
        return self._job

    def stop(self) -> None:
        """Stop the streaming answer; the partial text is kept."""
        if self._job is not None:
            self.engine.cancel(self._job)

    @Slot(int, str)
    def _on_piece(self, job_id: int, text: str) -> None:
        if job_id == self._job:
            self._partial.append(text)
            self.answer_piece.emit(job_id, text)

    @Slot(int, object)
    def _on_finished(self, job_id: int, stats: GenerationStats) -> None:
        if job_id != self._job:
            return
        self.messages.append(ChatMessage("assistant", "".join(self._partial)))
        self._job = None
        self.answer_finished.emit(job_id, stats)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, kind: str, message: str) -> None:
        if job_id != self._job:
            return
        if self._partial:
            self.messages.append(ChatMessage("assistant", "".join(self._partial)))
        else:
            self.messages.pop()  # nothing was answered: let the user resend
        self._job = None
        self.answer_failed.emit(job_id, message)
