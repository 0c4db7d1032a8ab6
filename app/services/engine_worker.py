"""EngineWorker: one QThread per role, driving one engine host process.

The worker owns the ``Engine``; the GUI talks to it through
``EngineController``, whose signals cross into the worker thread as queued
calls. Answers come back only through signals, each tagged with a job id.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from PySide6.QtCore import QDeadlineTimer, QObject, Qt, QThread, QTimer, Signal, Slot

from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel
from app.core.models.starter import StarterMissing, starter_model_path
from app.core.paths import app_dirs, engine_log_path
from app.core.remote.choice import RemoteTarget
from app.engine.client import Engine, EngineCrashed, EngineError
from app.services.engine_sources import RemoteFactory, make_remote_engine, model_name, same_engine

# What a role's engine serves: a GGUF path, or a model on a remote server.
Source = str | RemoteTarget

WATCHDOG_MS = 250
# After a remote server failed to connect, requests fail at once for this long instead of each trying again.
REMOTE_RETRY_S = 5.0
_job_ids = itertools.count(1)


def next_job_id() -> int:
    """Return a new job id, unique in this process."""
    return next(_job_ids)


class EngineWorker(QObject):
    """Lives on its own QThread; every slot runs there."""

    backend_ready = Signal(object)  # BackendInfo
    load_started = Signal(str)  # model path
    load_progress = Signal(float)
    loaded = Signal(object)  # LoadedModel
    load_failed = Signal(str)
    piece = Signal(int, str)  # job id, text
    finished = Signal(int, object)  # job id, GenerationStats
    failed = Signal(int, str, str)  # job id, kind, message
    host_crashed = Signal(str)
    host_restarted = Signal(object)  # BackendInfo
    _switch_done = Signal(
        int, object, object, object
    )  # switch id, engine or None, (path, params), LoadedModel or message

    def __init__(
        self,
        role: str,
        engine_factory: Callable[[str], Engine] | None = None,
        remote_factory: RemoteFactory | None = None,
    ) -> None:
        super().__init__()
        self.role = role
        self._factory = engine_factory or _host_engine
        self._remote_factory = remote_factory or make_remote_engine
        self._engine: Engine | None = None
        self._model: tuple[Source, LoadParams] | None = None
        self._engine_source: Source | None = None  # what ``_engine`` was made for
        self._model_loaded = False
        self._down: tuple[float, str] | None = None  # when and why the remote server last failed to load
        self._closing = False
        self._watchdog: QTimer | None = None
        self._switch_id = 0
        self._pending: Engine | None = None  # the host loading the next model
        self._switch_threads: list[QThread] = []
        self._switch_done.connect(self._finish_switch)

    @property
    def engine(self) -> Engine | None:
        """The current engine (read-only use from other threads: cancel)."""
        return self._engine

    # ---- host life cycle ------------------------------------------------------

    @Slot()
    def start(self) -> None:
        """Start the crash watchdog (runs in the worker thread).

        The host itself starts with the first request, so that spawning it
        and importing llama.cpp do not compete with the window's first paint.
        """
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(WATCHDOG_MS)
        self._watchdog.timeout.connect(self._check_alive)
        self._watchdog.start()

    def _ensure_engine(self) -> Engine | None:
        if self._closing:
            return None
        source = self._model[0] if self._model is not None else None
        if self._engine is not None and self._engine.is_alive():
            if same_engine(self._engine_source, source):
                return self._engine
            old, self._engine = self._engine, None  # a host for a GGUF, now a server (or back)
            old.close(timeout=0.5)
        engine = self._make(source)
        self._engine, self._engine_source = engine, source  # visible to close() while the host starts
        try:
            backend: BackendInfo = engine.start()
        except EngineError as exc:
            self._engine = None
            if not self._closing:
                self._report_load_failure(exc.message)
            return None
        self.backend_ready.emit(backend)
        return engine

    def _make(self, source: Source | None) -> Engine:
        """A new engine for ``source``: a host process for a GGUF, a client for a remote server."""
        if isinstance(source, RemoteTarget):
            return self._remote_factory(self.role, source)
        return self._factory(self.role)

    def stop_watchdog(self) -> None:
        """Stop the crash watchdog; runs in the worker thread as it finishes."""
        if self._watchdog is not None:
            self._watchdog.stop()

    @Slot()
    def _check_alive(self) -> None:
        if self._closing or self._engine is None or self._engine.is_alive():
            return
        self._recover(f"the {self.role} engine stopped unexpectedly")

    def _recover(self, message: str) -> None:
        """Report a dead host, start a new one, and reload on the next request."""
        dead = self._engine
        self._engine = None
        self._model_loaded = False
        if dead is not None:
            dead.close(timeout=0.1)
        if self._closing:
            return
        self.host_crashed.emit(message)
        engine = self._ensure_engine()
        if engine is not None:
            self.host_restarted.emit(engine.backend)

    # ---- commands ---------------------------------------------------------------

    @Slot(object, object)
    def load(self, path: str | RemoteTarget | None, params: LoadParams) -> None:
        """Load ``path`` (None: the starter model; a ``RemoteTarget``: a model on a server) with ``params``."""
        if self._closing:
            return
        try:
            resolved: Source = (
                path if isinstance(path, RemoteTarget) else str(path or starter_model_path(app_dirs().models))
            )
        except StarterMissing as exc:
            self.load_failed.emit(str(exc))
            return
        except (OSError, ValueError) as exc:
            self.load_failed.emit(f"the starter model could not be prepared: {exc}")
            return
        if self._model_loaded and self._engine is not None and self._engine.is_alive():
            self._switch(resolved, params)
            return
        self._model, self._down = (resolved, params), None
        self._load_current()

    def _switch(self, path: Source, params: LoadParams) -> None:
        """Load the next model in a second host while the current one keeps serving.

        Requests that arrive meanwhile go to the old model; the new host takes
        over once its model is loaded, and the old host is then shut down. A
        newer switch supersedes an older one still loading.
        """
        self._switch_id += 1
        switch_id = self._switch_id
        self._abandon_pending()
        engine = self._make(path)
        self._pending = engine
        self.load_started.emit(str(path))

        def work() -> None:
            try:
                engine.start()
                loaded = engine.load(model_name(path), params, on_progress=self.load_progress.emit)
            except EngineError as exc:
                engine.close(timeout=0.2)
                self._switch_done.emit(switch_id, None, (path, params), exc.message)
                return
            self._switch_done.emit(switch_id, engine, (path, params), loaded)

        thread = _SwitchThread(work)
        self._switch_threads = [t for t in self._switch_threads if t.isRunning()] + [thread]
        thread.start()

    def _abandon_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel(None)
            pending.request_close()

    @Slot(int, object, object, object)
    def _finish_switch(
        self, switch_id: int, engine: Engine | None, model: tuple[Source, LoadParams], result: LoadedModel | str
    ) -> None:
        if switch_id != self._switch_id or self._closing:
            if engine is not None:
                engine.close(timeout=0.2)
            return
        self._pending = None
        if engine is None or not isinstance(result, LoadedModel):
            self.load_failed.emit(str(result))
            return
        old, self._engine, self._engine_source = self._engine, engine, model[0]
        self._model, self._model_loaded = model, True
        self.loaded.emit(result)
        if old is not None:
            old.close(timeout=0.5)

    def _load_current(self) -> bool:
        engine = self._ensure_engine()
        if engine is None or self._model is None:
            return False
        path, params = self._model
        self.load_started.emit(str(path))
        try:
            loaded = engine.load(model_name(path), params, on_progress=self.load_progress.emit)
        except EngineCrashed as exc:
            self._report_load_failure(exc.message)
            self._recover(exc.message)
            return False
        except EngineError as exc:
            self._report_load_failure(exc.message)
            return False
        self._model_loaded, self._down = True, None
        self.loaded.emit(loaded)
        return True

    def _report_load_failure(self, message: str) -> None:
        """Say why a load failed; a server that failed is not asked again for ``REMOTE_RETRY_S``."""
        if self._model is not None and isinstance(self._model[0], RemoteTarget):
            self._down = (time.monotonic(), message)
        self.load_failed.emit(message)

    @Slot(int, object)
    def generate(self, job_id: int, request: FimRequest | ChatRequest) -> None:
        """Stream job ``job_id``; reloads the model first after a crash."""
        if not self._model_loaded:
            if self._model is None:
                self.failed.emit(job_id, "no_model", "no model is loaded yet")
                return
            down = self._down
            if down is not None and time.monotonic() - down[0] < REMOTE_RETRY_S:
                self.failed.emit(job_id, "offline", down[1])  # typing does not queue a connect per key
                return
            if not self._load_current():
                message = self._down[1] if self._down is not None else "the model could not be reloaded"
                self.failed.emit(job_id, "no_model", message)
                return
        engine = self._engine
        if engine is None:
            self.failed.emit(job_id, "no_model", "no model is loaded yet")
            return
        try:
            for item in engine.generate(job_id, request):
                if isinstance(item, GenerationStats):
                    self.finished.emit(job_id, item)
                else:
                    self.piece.emit(job_id, item)
        except EngineCrashed as exc:
            if self._closing:
                return
            self.failed.emit(job_id, exc.kind, exc.message)
            self._recover(exc.message)
        except EngineError as exc:
            self.failed.emit(job_id, exc.kind, exc.message)

    def cancel_load(self) -> None:
        """Stop a model load; called directly from the GUI thread (thread-safe).

        A switch is abandoned and the model in use stays; a first load is
        aborted through llama.cpp's progress callback and reported as failed.
        """
        if self._pending is not None:
            self._switch_id += 1  # the loading thread's result is now stale
            self._abandon_pending()
            self.load_failed.emit("loading was cancelled; the model in use stays")
            return
        engine = self._engine
        if engine is not None and not self._model_loaded:
            engine.cancel(None)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel a job; called directly from the GUI thread (thread-safe)."""
        engine = self._engine
        if engine is not None:
            engine.cancel(job_id)

    def begin_close(self) -> None:
        """Refuse new work and tell the host to exit; safe from the GUI thread."""
        self._closing = True
        self._abandon_pending()
        engine = self._engine
        if engine is not None:
            engine.request_close()

    def close(self) -> None:
        """Stop the host, killing it after half a second; safe from the GUI thread."""
        self.begin_close()
        engine = self._engine
        if engine is not None:
            engine.close(timeout=0.5)
        # A switch thread emits this QObject's signals: it must end before the
        # worker can be destroyed. Its host was told to close, so it ends soon.
        for thread in self._switch_threads:
            thread.wait(3000)


class _SwitchThread(QThread):
    """Loads the next model; a QThread so Qt knows the thread its signals come from."""

    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__()
        self._work = work

    def run(self) -> None:  # noqa: D102 - QThread override
        self._work()


def _host_engine(role: str) -> Engine:
    """The default engine: a host process for ``role`` (its module is imported with the first one)."""
    from app.engine.host_client import HostEngine

    return HostEngine(role, engine_log_path(role))


class EngineController(QObject):
    """The GUI thread's handle on one EngineWorker and its QThread."""

    _load_requested = Signal(object, object)
    _generate_requested = Signal(int, object)
    # The window's own jobs went from none in flight to some (True), or back (False).
    window_busy = Signal(bool)

    def __init__(
        self, role: str, engine_factory: Callable[[str], Engine] | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.role = role
        # Not ``thread``: that would hide QObject.thread(), the thread this controller lives in.
        self.worker_thread = QThread()
        self.worker_thread.setObjectName(f"fimble-{role}-worker")
        self.worker = EngineWorker(role, engine_factory)
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.started.connect(self.worker.start)
        # finished is emitted from the worker thread itself: a direct call stops
        # the watchdog in the thread that owns it.
        self.worker_thread.finished.connect(self.worker.stop_watchdog, Qt.ConnectionType.DirectConnection)
        self._load_requested.connect(self.worker.load)
        self._generate_requested.connect(self.worker.generate)
        self.worker.finished.connect(self._job_finished)
        self.worker.failed.connect(self._job_failed)
        self.worker.loaded.connect(self._remember_model)
        self.model: LoadedModel | None = None  # the last model the worker loaded
        self._window_jobs: set[int] = set()
        self.worker_thread.start()

    @Slot(object)
    def _remember_model(self, model: LoadedModel) -> None:
        self.model = model

    def load(self, path: str | RemoteTarget | None, params: LoadParams) -> None:
        """Ask the worker to load a model (None: the starter model; a ``RemoteTarget``: a server's)."""
        self._load_requested.emit(path, params)

    def generate(self, request: FimRequest | ChatRequest) -> int:
        """Queue one of the window's generations and return its job id."""
        job_id = next_job_id()
        self._window_jobs.add(job_id)
        if len(self._window_jobs) == 1:
            self.window_busy.emit(True)
        self._generate_requested.emit(job_id, request)
        return job_id

    def generate_for_api(self, job_id: int, request: FimRequest | ChatRequest) -> None:
        """Queue an API client's generation under ``job_id`` (it does not make the window busy)."""
        self._generate_requested.emit(job_id, request)

    @property
    def busy(self) -> bool:
        """Whether any of the window's own jobs is queued or running."""
        return bool(self._window_jobs)

    @Slot(int, object)
    def _job_finished(self, job_id: int, _stats: object) -> None:
        self._job_ended(job_id)

    @Slot(int, str, str)
    def _job_failed(self, job_id: int, _kind: str, _message: str) -> None:
        self._job_ended(job_id)

    def _job_ended(self, job_id: int) -> None:
        if job_id in self._window_jobs:
            self._window_jobs.discard(job_id)
            if not self._window_jobs:
                self.window_busy.emit(False)

    def hold(self, job_id: int, on: bool) -> None:
        """Pause job ``job_id`` between tokens (``on``), or let it go on; thread-safe."""
        engine = self.worker.engine
        if engine is not None:
            engine.hold(job_id, on)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel a job within one token."""
        self.worker.cancel(job_id)

    def shutdown(self, wait_ms: int = 1500) -> bool:
        """Stop the host and the thread; return True if the thread ended in time.

        A thread still running after ``wait_ms`` (a host being restarted on a
        busy machine) is kept, with its worker, until ``wait_for_lingering``:
        Qt aborts the process if a running QThread is destroyed.
        """
        self.worker.close()
        self.worker_thread.quit()
        if self.worker_thread.wait(wait_ms):
            return True
        _lingering.append((self.worker_thread, self.worker))
        return False


# Worker threads that had not ended when their controller shut down.
_lingering: list[tuple[QThread, EngineWorker]] = []


def wait_for_lingering(wait_ms: int = 10_000) -> bool:
    """Wait up to ``wait_ms`` for worker threads that outlived their controllers; True when all ended."""
    deadline = QDeadlineTimer(wait_ms)
    while _lingering:
        thread, _worker = _lingering[0]
        if not thread.wait(deadline):
            return False
        _lingering.pop(0)
    return True
