"""Grow the completion window while the user is idle, by evaluating it in the background.

A request at a new place gets the cold window (what this machine evaluates
within the target time, see ``app.core.fim.window_policy``). When the user then
stops typing, ``WindowGrowth`` evaluates a bigger window around the same place
as a one-token request whose answer nobody shows, one step at a time up to the
full budget. The KV cache then holds the bigger window, so the next requests
near that place use it and evaluate only what changed. A request elsewhere
starts cold again. Any user activity cancels the background evaluation; what it
had evaluated stays in the KV cache.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Slot

from app.core.generation.contracts import GenerationStats
from app.core.models.loaded import LoadedModel

if TYPE_CHECKING:
    from app.services.completion_service import CompletionService, EditorSnapshot

# A request this close to the last place (same file, characters before and after
# the cursor) finds the window evaluated there still in the KV cache.
NEAR_CHARS = 512


class WindowGrowth(QObject):
    """Tracks the window warm at the last place and grows it while the user is idle."""

    def __init__(self, service: CompletionService) -> None:
        super().__init__(service)
        # Weak: a reference cycle would leave the service to the cyclic garbage
        # collector, which may free its Qt objects from another thread.
        self._service_ref = weakref.ref(service)
        self.warm_tokens = 0  # the window the KV cache holds around the last place (0: none)
        self.grown_jobs = 0  # background evaluations that completed
        self._place: EditorSnapshot | None = None
        self._job: int | None = None
        self._job_window = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._step)
        worker = service.engine.worker
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.loaded.connect(self._on_loaded)

    @property
    def _service(self) -> CompletionService:
        service = self._service_ref()
        assert service is not None, "the growth lives as the service's child"
        return service

    def enabled(self) -> bool:
        """Whether the window may grow (it is sized to the machine, not pinned or fixed)."""
        service = self._service
        return service.tuning.adaptive_window and service.pinned_window is None

    def window_for(self, snapshot: EditorSnapshot) -> int:
        """The window for a request at ``snapshot``; it becomes the last place."""
        cold = self._service.window_tokens()
        if not self.enabled():
            return cold
        if not self._near(snapshot):
            self.warm_tokens = 0
        self._place = snapshot
        return max(cold, self.warm_tokens)

    def _near(self, snapshot: EditorSnapshot) -> bool:
        place = self._place
        return (
            place is not None
            and place.path == snapshot.path
            and abs(len(place.prefix) - len(snapshot.prefix)) <= NEAR_CHARS
            and abs(len(place.suffix) - len(snapshot.suffix)) <= NEAR_CHARS
        )

    def user_active(self) -> None:
        """The user typed or asked: stop growing, and count idleness from now."""
        self._cancel()
        if self.enabled():
            self._timer.start(int(self._service.window_policy().grow_after_s * 1000))

    def stop(self) -> None:
        """Stop growing until the user is active again."""
        self._timer.stop()
        self._cancel()

    def _cancel(self) -> None:
        if self._job is not None:
            self._service.engine.cancel(self._job)
            self._job = None

    def _again(self) -> None:
        self._timer.start(int(self._service.window_policy().grow_every_s * 1000))

    @Slot()
    def _step(self) -> None:
        service = self._service
        if self._place is None or not self.enabled() or not service.engine.worker_thread.isRunning():
            return  # nowhere to grow, or the engine was shut down
        if service.busy():
            self._again()  # a real request runs: never compete with it
            return
        full = service.window_policy().full_tokens
        current = max(self.warm_tokens, service.window_tokens())
        wanted = service.window_tokens(service.idle_s())
        if wanted <= current:
            if current < full:
                self._again()
            return
        request = service._fim_request(self._place, multiline=False, window=wanted)
        request = replace(request, sampling=replace(request.sampling, max_tokens=1, time_limit_s=None))
        self._job_window = wanted
        self._job = service.engine.generate(request)

    @Slot(int, object)
    def _on_finished(self, job_id: int, stats: GenerationStats) -> None:
        if job_id != self._job:
            return
        self._job = None
        if stats.finish_reason != "cancelled" and stats.evaluated_tokens >= stats.prompt_tokens:
            self.warm_tokens = self._job_window
            self.grown_jobs += 1
        self._again()

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, _kind: str, _message: str) -> None:
        if job_id == self._job:
            self._job = None

    @Slot(object)
    def _on_loaded(self, _loaded: LoadedModel) -> None:
        self.stop()
        self.warm_tokens = 0
        self._place = None
