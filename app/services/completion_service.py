"""CompletionService: latest request wins; stale answers are dropped."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from app.core.requests import FimRequest, GenerationStats
from app.services.engine_worker import EngineController


class CompletionService(QObject):
    """Asks the completion engine for a middle and reports only the newest."""

    suggestion = Signal(int, str, object)  # job id, text, GenerationStats
    failed = Signal(str)

    def __init__(self, engine: EngineController, parent=None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._job: int | None = None
        self._parts: list[str] = []
        engine.worker.piece.connect(self._on_piece)
        engine.worker.finished.connect(self._on_finished)
        engine.worker.failed.connect(self._on_failed)

    def request(self, request: FimRequest) -> int:
        """Cancel any in-flight request and start ``request``."""
        if self._job is not None:
            self.engine.cancel(self._job)
        self._parts = []
        self._job = self.engine.generate(request)
        return self._job

    def dismiss(self) -> None:
        """Forget the current request; its answer will be dropped."""
        if self._job is not None:
            self.engine.cancel(self._job)
        self._job = None

    @Slot(int, str)
    def _on_piece(self, job_id: int, text: str) -> None:
        if job_id == self._job:
            self._parts.append(text)

    @Slot(int, object)
    def _on_finished(self, job_id: int, stats: GenerationStats) -> None:
        if job_id != self._job:
            return
        self._job = None
        if stats.finish_reason != "cancelled":
            self.suggestion.emit(job_id, "".join(self._parts), stats)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, kind: str, message: str) -> None:
        if job_id == self._job:
            self._job = None
            self.failed.emit(message)
