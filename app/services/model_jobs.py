"""The model manager's queue of long jobs: pulls, quantizations and imports.

Jobs run one at a time on a background thread, in the order they were
queued; the GUI thread only queues, pauses, resumes and cancels them, and
hears about them through ``changed`` and ``finished``. Every signal carries a
snapshot of the job, so the GUI never reads a job while the worker writes it.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, Signal

from app.core.errors import ErrorKind, error_kind, one_line
from app.core.hub.client import HubClient
from app.core.hub.downloader import (
    DiskFullError,
    DownloadControl,
    DownloadError,
    DownloadProgress,
    PartialDownload,
    discard_partial,
    download_file,
    part_paths,
    partial_downloads,
)
from app.core.hub.pull_plan import PullPlan
from app.core.machine import human_bytes
from app.services.pull import PullCallbacks, run_pull

_ids = itertools.count(1)
# Queues whose worker thread outlived shutdown(); kept so the QObject it
# emits from is never destroyed under it.
_lingering: list = []


@dataclass
class Job:
    """One queued or running job, as the Downloads list shows it."""

    kind: str  # "pull", "quantize", "import"
    title: str
    id: int = field(default_factory=lambda: next(_ids))
    state: str = "queued"  # queued, running, paused, done, failed, cancelled
    stage: str = ""  # download, elsewhere (another window downloads it), verifying, quantize, copy
    done: int = 0
    total: int = 0
    speed_bps: float = 0.0
    eta_s: float | None = None
    detail: str = ""
    result: str | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None  # why it failed or was cancelled, for code (error is for people)
    source: str | None = None  # a full-precision file this job quantized, which may be deleted

    @property
    def active(self) -> bool:
        """Whether the job is still to finish (queued, running or paused)."""
        return self.state in ("queued", "running", "paused")

    @property
    def fraction(self) -> float:
        """Progress of the current stage, 0 to 1."""
        return self.done / self.total if self.total else 0.0


class _Cancellable(Protocol):
    """What a job needs of its quantizer: a way to stop it from another thread."""

    def cancel(self) -> None: ...


@dataclass
class _Work:
    job: Job
    run: Callable[[ModelJobs, _Work], str]  # takes the queue: no closure holds it
    control: DownloadControl = field(default_factory=DownloadControl)
    cancel_event: threading.Event = field(default_factory=threading.Event)
    quantizer: _Cancellable | None = None
    on_cancel: Callable[[], object] | None = None  # cleans up after a job cancelled before it ran


class ModelJobs(QObject):
    """Queue and run model jobs off the GUI thread."""

    changed = Signal(object)  # Job snapshot
    finished = Signal(object)  # Job snapshot, state done, failed or cancelled

    def __init__(self, models_dir: Path, client_factory: Callable[[], HubClient] = HubClient, parent=None) -> None:
        super().__init__(parent)
        self.models_dir = Path(models_dir)
        self._client_factory = client_factory
        self._queue: queue.Queue[_Work | None] = queue.Queue()
        self._works: dict[int, _Work] = {}
        self._current: _Work | None = None
        self._stopping = False  # set by shutdown: no queued job starts after it
        self._lock = threading.Lock()
        # A QThread, not a Python thread: Qt then knows the thread these
        # signals are emitted from for its whole life.
        self._thread = _LoopThread(self._loop)
        self._thread.start()

    # ---- queueing --------------------------------------------------------------

    def pull(self, plan: PullPlan, *, keep_source: bool = True) -> Job:
        """Queue a download (and local quantization when the plan has one)."""
        title = f"{plan.repo_id} · {plan.output_name()}"

        def run(jobs: ModelJobs, work: _Work) -> str:
            from app.engine.quantizer import Quantizer

            work.quantizer = Quantizer()
            callbacks = PullCallbacks(
                on_download=lambda p: jobs._download_progress(work, p),
                on_quantize=lambda p: jobs._quantize_progress(work, p),
                on_stage=lambda s: jobs._update(work, stage=s, done=0, total=0, detail=""),
            )
            path = run_pull(
                plan,
                jobs.models_dir,
                client=jobs._client_factory(),
                control=work.control,
                callbacks=callbacks,
                quantizer=work.quantizer,
                keep_source=keep_source,
            )
            source = plan.folder(jobs.models_dir) / Path(plan.file.filename).name
            if plan.quantize_to and keep_source and source.exists():
                jobs._update(work, source=str(source))
            return str(path)

        part = part_paths(plan.folder(self.models_dir), Path(plan.file.filename).name)[0]
        return self._submit(_Work(Job("pull", title), run, on_cancel=lambda: discard_partial(part)))

    def adopt_partials(self) -> list[Job]:
        """List downloads an earlier run left unfinished as paused jobs; Resume continues them.

        A part another Fimble window is downloading right now is left to it.
        """
        return [self._adopt(partial) for partial in self.pending_partials() if not partial.busy]

    def _adopt(self, partial: PartialDownload) -> Job:
        hub_file, folder = partial.hub_file(), partial.path.parent

        def run(jobs: ModelJobs, work: _Work) -> str:
            jobs._update(work, stage="download")
            return str(
                download_file(
                    hub_file,
                    folder,
                    client=jobs._client_factory(),
                    on_progress=lambda p: jobs._download_progress(work, p),
                    control=work.control,
                )
            )

        job = Job(
            "pull",
            f"{partial.repo_id} · {Path(partial.filename).name}",
            state="paused",
            stage="download",
            done=partial.done_bytes,
            total=partial.size,
            detail="left unfinished by an earlier run; Resume continues it",
        )
        work = _Work(job, run, on_cancel=lambda: discard_partial(partial))
        with self._lock:
            self._works[job.id] = work
        self.changed.emit(replace(job))
        return replace(job)

    def quantize(
        self, source: Path, output: Path, qtype: str, *, force: bool = False, delete_source: bool = False
    ) -> Job:
        """Queue a local quantization of ``source`` into ``output``."""

        def run(jobs: ModelJobs, work: _Work) -> str:
            from app.core.models.quantize_plan import plan_quantize
            from app.engine.quantizer import Quantizer

            jobs._update(work, stage="quantize")
            plan = plan_quantize(source, output, qtype, force=force)
            work.quantizer = quantizer = Quantizer()
            if work.cancel_event.is_set():
                raise _Cancelled()
            path = quantizer.run(plan, on_progress=lambda p: jobs._quantize_progress(work, p))
            if delete_source:
                Path(source).unlink(missing_ok=True)
            elif plan.source_type in ("F32", "F16", "BF16"):
                jobs._update(work, source=str(source))
            return str(path)

        return self._submit(_Work(Job("quantize", f"{Path(source).name} → {qtype}"), run))

    def import_file(self, library, source: Path, *, copy: bool) -> Job:
        """Queue an import of a GGUF from disk into ``library``."""

        def run(jobs: ModelJobs, work: _Work) -> str:
            jobs._update(work, stage="copy" if copy else "inspect")
            model = library.import_file(
                source,
                copy=copy,
                cancel=work.cancel_event,
                on_progress=lambda done, total: jobs._update(work, done=done, total=total),
            )
            return str(model.path)

        return self._submit(_Work(Job("import", f"import {Path(source).name}"), run))

    def pending_partials(self) -> list:
        """Downloads an earlier run left unfinished, in every repository folder."""
        found = []
        if self.models_dir.is_dir():
            for folder in [self.models_dir, *sorted(p for p in self.models_dir.iterdir() if p.is_dir())]:
                found.extend(partial_downloads(folder))
        return found

    # ---- control (GUI thread) ----------------------------------------------------------

    def pause(self, job_id: int) -> None:
        """Pause a running download; its partial file is kept for resuming."""
        work = self._works.get(job_id)
        if work is not None and work.job.state == "running":
            work.control.pause()

    def resume(self, job_id: int) -> None:
        """Queue a paused or failed download again; it continues where it stopped."""
        work = self._works.get(job_id)
        if work is None or work.job.state not in ("paused", "failed"):
            return
        work.control = DownloadControl()
        self._update(work, state="queued", error=None, error_kind=None, detail="")
        self._queue.put(work)

    def cancel(self, job_id: int) -> None:
        """Cancel a job: a running one stops, and partial files are removed."""
        work = self._works.get(job_id)
        if work is None or not work.job.active:
            return
        work.cancel_event.set()
        if work.job.state == "running":
            work.control.cancel()
            quantizer = work.quantizer
            if quantizer is not None:
                quantizer.cancel()
            return
        if work.on_cancel is not None:
            work.on_cancel()
        self._finish(work, "cancelled", error="cancelled", error_kind=ErrorKind.CANCELLED)

    def jobs(self) -> list[Job]:
        """Snapshots of every job, oldest first."""
        with self._lock:
            return [replace(w.job) for w in self._works.values()]

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the worker: a running download pauses (resumable), a quantization is cancelled.

        Jobs still queued do not start; a download among them is offered
        again next time from its partial file.
        """
        with self._lock:  # the loop either sees _stopping or has set _current for us to stop
            self._stopping = True
            current = self._current
        if current is not None:
            current.control.pause()
            if current.quantizer is not None:
                current.quantizer.cancel()
        self._queue.put(None)
        if not self._thread.wait(int(timeout * 1000)):
            _lingering.append(self)

    # ---- worker thread -------------------------------------------------------------------

    def _submit(self, work: _Work) -> Job:
        with self._lock:
            self._works[work.job.id] = work
        self.changed.emit(replace(work.job))
        self._queue.put(work)
        return replace(work.job)

    def _loop(self) -> None:
        while True:
            work = self._queue.get()
            with self._lock:
                if work is None or self._stopping:
                    return
                if work.job.state != "queued":
                    continue  # cancelled while waiting
                self._current = work
            self._update(work, state="running")
            try:
                result = work.run(self, work)
            except _Cancelled:
                self._finish(work, "cancelled", error="cancelled", error_kind=ErrorKind.CANCELLED)
            except DownloadError as exc:
                kind = getattr(exc, "kind", "")
                if kind == ErrorKind.PAUSED:
                    self._update(work, state="paused", detail="Resume continues where it stopped")
                elif kind == ErrorKind.CANCELLED or work.cancel_event.is_set():
                    self._finish(work, "cancelled", error="cancelled", error_kind=ErrorKind.CANCELLED)
                else:
                    self._finish(work, "failed", error=download_error_line(exc), error_kind=exc.kind)
            except Exception as exc:  # noqa: BLE001 - every failure becomes the job's one-line error
                if work.cancel_event.is_set():
                    self._finish(work, "cancelled", error="cancelled", error_kind=ErrorKind.CANCELLED)
                else:
                    self._finish(work, "failed", error=one_line(exc), error_kind=error_kind(exc))
            else:
                self._finish(work, "done", result=result)
            finally:
                self._current = None

    def _download_progress(self, work: _Work, progress: DownloadProgress) -> None:
        stage = progress.state if progress.state in ("verifying", "elsewhere", "retrying") else "download"
        detail = progress.note if progress.state == "retrying" else ""
        self._update(
            work,
            stage=stage,
            detail=detail,
            done=progress.done,
            total=progress.total,
            speed_bps=progress.speed_bps,
            eta_s=progress.eta_s,
        )

    def _quantize_progress(self, work: _Work, progress) -> None:
        self._update(
            work,
            stage="quantize",
            done=progress.done,
            total=progress.total,
            detail=progress.tensor,
            speed_bps=0.0,
            eta_s=None,
        )

    def _update(self, work: _Work, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(work.job, key, value)
            snapshot = replace(work.job)
        self.changed.emit(snapshot)

    def _finish(self, work: _Work, state: str, **changes) -> None:
        self._update(work, state=state, **changes)
        self.finished.emit(replace(work.job))


def download_error_line(exc: DownloadError) -> str:
    """The one line a failed download shows on its job in the window."""
    if isinstance(exc, DiskFullError):
        more = " more" if exc.kept else ""
        where = f"{exc.filename} needs {human_bytes(exc.needed)}{more}, {human_bytes(exc.free)} free in {exc.folder}"
        if exc.kept:
            return (
                f"Disk full: {where}. The {human_bytes(exc.kept)} downloaded so far is kept; "
                "free some space, then press Resume to continue."
            )
        return f"Disk full: {where}. Free some space, then press Resume to start it."
    return str(exc)


def wait_for_lingering_jobs(wait_ms: int = 35_000) -> bool:
    """Wait for job threads that outlived shutdown (a read stuck until its timeout); True when all ended."""
    deadline = QDeadlineTimer(wait_ms)
    while _lingering:
        if not _lingering[0]._thread.wait(deadline):
            return False
        _lingering.pop(0)
    return True


class _LoopThread(QThread):
    def __init__(self, loop: Callable[[], None]) -> None:
        super().__init__()
        self.setObjectName("fimble-model-jobs")
        self._loop = loop

    def run(self) -> None:  # noqa: D102 - QThread override
        self._loop()


class _Cancelled(Exception):
    pass
