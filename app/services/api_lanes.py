"""The local API server inside the window: its requests run on the window's own engine hosts, after the window's work.

``ApiScheduler`` lives on the GUI thread. The server's event loop hands it
jobs through ``WindowLane`` (a queued signal), and it keeps one queue per
role, in arrival order, so clients are served in turn:

* an API job is sent to the role's engine only when nothing of the window's
  own waits there, and while the editor waits for a completion no API job is
  sent at all: the user's typing comes first;
* at most one API job per role is in the engine's queue, so a completion
  asked for a moment later waits for one API job at most, never for a queue
  of them;
* while the editor waits for a completion, an API job running on the *other*
  host (a chat answer) is held between tokens, so the two do not share the
  CPU; it goes on when the editor's work is done.

Pieces come back through the worker's signals, which this object (a GUI
thread QObject) relays into the server's event loop with ``Job.push``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.core.generation.contracts import GenerationStats
from app.core.models.loaded import LoadedModel
from app.engine.client import EngineError
from app.server.roles import Job, Lane
from app.services.engine_worker import EngineController, next_job_id

# The role whose own jobs are the user's typing: while it is busy, every API job waits or is held.
TYPING_ROLE = "completion"


@dataclass
class _Running:
    engine_job: int  # the id the engine knows the job by (window and API jobs share one id space)
    job: Job
    held: bool = False


class ApiScheduler(QObject):
    """Queues the API's jobs for the window's engines (GUI thread)."""

    _submitted = Signal(object)  # Job, from the server's event loop
    _cancel_requested = Signal(object)  # Job

    def __init__(self, controllers: dict[str, EngineController], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controllers = dict(controllers)
        # Made when the server is first wanted: the models already loaded are known from the start.
        self.models: dict[str, LoadedModel | None] = {role: c.model for role, c in self.controllers.items()}
        self._pending: dict[str, deque[Job]] = {role: deque() for role in self.controllers}
        self._running: dict[str, _Running | None] = dict.fromkeys(self.controllers)
        self.sent: deque[tuple[str, int]] = deque(maxlen=256)  # (role, engine job id) of API jobs, latest last
        self._submitted.connect(self._enqueue)
        self._cancel_requested.connect(self._cancel)
        for controller in self.controllers.values():
            controller.worker.loaded.connect(self._loaded)
            controller.worker.piece.connect(self._piece)
            controller.worker.finished.connect(self._finished)
            controller.worker.failed.connect(self._failed)
            controller.window_busy.connect(self._window_busy)

    # ---- what the lanes see (read from the server's thread) ---------------------------

    def lanes(self) -> dict[str, Lane]:
        """One lane per role, for ``LocalServer``."""
        lanes: dict[str, Lane] = {role: WindowLane(self, role) for role in self.controllers}
        return lanes

    def model_id(self, role: str) -> str:
        """The name clients see for the role's model: the file's stem (the role added when two share it)."""
        model = self.models.get(role)
        if model is None:
            return ""
        name = Path(model.info.path).stem or model.info.name
        for other, loaded in self.models.items():
            if other == role or loaded is None:
                continue
            if loaded.info.path != model.info.path and (Path(loaded.info.path).stem or loaded.info.name) == name:
                return f"{name}-{role}"
        return name

    def waiting(self, role: str) -> int:
        """API jobs of ``role`` not yet sent to the engine."""
        return len(self._pending[role])

    # ---- GUI thread -----------------------------------------------------------------

    @Slot(object)
    def _loaded(self, model: LoadedModel) -> None:
        worker = self.sender()
        for role, controller in self.controllers.items():
            if controller.worker is worker:
                self.models[role] = model

    @Slot(object)
    def _enqueue(self, job: Job) -> None:
        if job.cancelled:
            job.end(None)
            return
        assert isinstance(job.lane, WindowLane)
        self._pending[job.lane.role].append(job)
        self._pump()

    @Slot(object)
    def _cancel(self, job: Job) -> None:
        assert isinstance(job.lane, WindowLane)
        role = job.lane.role
        if job in self._pending[role]:
            self._pending[role].remove(job)
            job.end(None)
            return
        running = self._running[role]
        if running is not None and running.job is job:
            self.controllers[role].cancel(running.engine_job)  # its end comes through ``_finished``

    @Slot(bool)
    def _window_busy(self, _busy: bool) -> None:
        self._apply_holds()
        self._pump()

    def _typing(self) -> bool:
        controller = self.controllers.get(TYPING_ROLE)
        return controller is not None and controller.busy

    def _apply_holds(self) -> None:
        """Hold API jobs on the other hosts while the editor waits; let them go after."""
        typing = self._typing()
        for role, running in self._running.items():
            if running is None or role == TYPING_ROLE or running.held == typing:
                continue
            running.held = typing
            self.controllers[role].hold(running.engine_job, typing)

    def _pump(self) -> None:
        """Send each role's next API job to its engine, if the window leaves room."""
        if self._typing():
            return
        for role, queue in self._pending.items():
            if self._running[role] is not None or self.controllers[role].busy:
                continue
            while queue:
                job = queue.popleft()
                if job.cancelled:
                    job.end(None)
                    continue
                running = _Running(next_job_id(), job)
                self._running[role] = running
                self.sent.append((role, running.engine_job))
                self.controllers[role].generate_for_api(running.engine_job, job.request)
                break

    @Slot(int, str)
    def _piece(self, engine_job: int, text: str) -> None:
        found = self._find(engine_job)
        if found is not None:
            found[1].job.push(text)

    @Slot(int, object)
    def _finished(self, engine_job: int, stats: object) -> None:
        self._end(engine_job, stats if isinstance(stats, GenerationStats) else None, None)

    @Slot(int, str, str)
    def _failed(self, engine_job: int, kind: str, message: str) -> None:
        self._end(engine_job, None, EngineError(kind, message))

    def _find(self, engine_job: int) -> tuple[str, _Running] | None:
        """The role and API job the engine knows as ``engine_job``; None for the window's own jobs."""
        for role, running in self._running.items():
            if running is not None and running.engine_job == engine_job:
                return role, running
        return None

    def _end(self, engine_job: int, stats: GenerationStats | None, error: EngineError | None) -> None:
        found = self._find(engine_job)
        if found is None:
            return
        role, running = found
        self._running[role] = None
        if error is not None:
            running.job.push(error)
        running.job.end(stats)
        self._pump()

    def stop(self) -> None:
        """End every API job now (the server is stopping); running ones are cancelled in their engines."""
        for role, queue in self._pending.items():
            while queue:
                queue.popleft().end(None)
            running, self._running[role] = self._running[role], None
            if running is not None:
                self.controllers[role].cancel(running.engine_job)
                running.job.end(None)


class WindowLane(Lane):
    """One role of the window, as the server sees it; every call but ``model`` crosses to the GUI thread."""

    def __init__(self, scheduler: ApiScheduler, role: str) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.role = role

    @property
    def model(self) -> LoadedModel | None:  # noqa: D102
        return self.scheduler.models.get(self.role)

    @property
    def model_id(self) -> str:  # noqa: D102
        return self.scheduler.model_id(self.role)

    def _start(self, job: Job) -> None:
        self.scheduler._submitted.emit(job)

    def _cancel(self, job: Job) -> None:
        self.scheduler._cancel_requested.emit(job)
