"""Lanes: where the server's requests for one role go, and the jobs read back in the event loop.

A ``Lane`` takes a request and returns a ``Job``, which the endpoint reads as
an async iterator of text pieces and then the stats. Two kinds exist:

* ``EngineLane`` (``fimble serve``): the server owns an ``Engine`` and drives
  it from one worker thread, so requests from different clients run one at a
  time in arrival order and the event loop never blocks on the engine;
* the window's lanes (``app.services.api_lanes``): requests go to the
  window's own engine hosts, behind the window's own work.

Whatever thread produces a job's items hands them to the event loop with
``Job.push`` (thread-safe); ``Job.end`` records the job and closes its stream.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats
from app.core.models.loaded import LoadedModel
from app.engine.client import Engine, EngineError

if TYPE_CHECKING:
    import asyncio

_END = object()
_job_ids = itertools.count(1)


@dataclass(frozen=True)
class Finished:
    """A job the lane ran to its end (or cut short), as the engine measured it."""

    job_id: int
    request: FimRequest | ChatRequest
    stats: GenerationStats | None  # None: cancelled before it started, or failed


class Lane:
    """One role's model as the server sees it; subclasses run the jobs."""

    def __init__(self) -> None:
        self.finished: deque[Finished] = deque(maxlen=256)
        self._jobs: set[Job] = set()
        self._jobs_lock = threading.Lock()

    @property
    def model(self) -> LoadedModel | None:
        """The loaded model, or None while the role has none."""
        raise NotImplementedError

    @property
    def model_id(self) -> str:
        """The name clients see in ``/v1/models`` and in answers."""
        raise NotImplementedError

    @property
    def n_ctx(self) -> int:
        """The context the model was loaded with (0 without a model)."""
        model = self.model
        return model.n_ctx if model is not None else 0

    def submit(self, request: FimRequest | ChatRequest) -> Job:
        """Queue ``request`` (called in the event loop); iterate the returned job for its pieces and stats."""
        import asyncio  # only the server's thread needs it; not imported with the window

        job = Job(self, request, asyncio.get_running_loop())
        with self._jobs_lock:
            self._jobs.add(job)
        self._start(job)
        return job

    def _start(self, job: Job) -> None:
        """Begin running ``job`` somewhere that calls ``job.push`` and finally ``job.end``."""
        raise NotImplementedError

    def _cancel(self, job: Job) -> None:
        """Stop ``job`` within one token, or drop it if it has not started (thread-safe)."""
        raise NotImplementedError

    def _record(self, job: Job, stats: GenerationStats | None) -> None:
        with self._jobs_lock:
            self._jobs.discard(job)
        self.finished.append(Finished(job.id, job.request, stats))

    def cancel_all(self) -> None:
        """Cancel every job the lane still has."""
        with self._jobs_lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel()

    def stop(self) -> None:
        """Cancel every job; the server is stopping."""
        self.cancel_all()


class EngineLane(Lane):
    """A lane that owns its engine and drives it from one worker thread (``fimble serve``)."""

    def __init__(self, engine: Engine, model: LoadedModel, model_id: str) -> None:
        super().__init__()
        self.engine = engine
        self._model = model
        self._model_id = model_id
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fimble-serve-{model_id}")

    @property
    def model(self) -> LoadedModel:  # noqa: D102
        return self._model

    @property
    def model_id(self) -> str:  # noqa: D102
        return self._model_id

    def build_prompt(self, request: FimRequest | ChatRequest) -> list[int]:
        """The prompt tokens ``request`` evaluates (on the lane's thread, between jobs)."""
        return self._pool.submit(self.engine.build_prompt, request).result()[0]

    def _start(self, job: Job) -> None:
        self._pool.submit(self._run, job)

    def _run(self, job: Job) -> None:
        """The worker thread's side: generate and push each item to the loop."""
        stats: GenerationStats | None = None
        try:
            if job.cancelled:
                return
            items = self.engine.generate(job.id, job.request)
            if job.cancelled:  # cancelled while it was being sent
                self.engine.cancel(job.id)
            for item in items:
                if isinstance(item, GenerationStats):
                    stats = item  # pushed by end(), once recorded
                else:
                    job.push(item)
        except EngineError as exc:
            job.push(exc)
        except Exception as exc:  # noqa: BLE001 - the client gets one line, the server lives on
            job.push(EngineError("internal", f"the engine failed: {type(exc).__name__}: {exc}"))
        finally:
            job.end(stats)

    def _cancel(self, job: Job) -> None:
        self.engine.cancel(job.id)

    def stop(self) -> None:
        """Cancel every job and let the worker thread end."""
        self.cancel_all()
        self._pool.shutdown(wait=True, cancel_futures=True)


class Job:
    """One generation, read in the event loop as an async iterator of ``str`` and ``GenerationStats``."""

    def __init__(self, lane: Lane, request: FimRequest | ChatRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.id = next(_job_ids)
        self.lane = lane
        self.request = request
        self._loop = loop
        import asyncio

        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._cancelled = threading.Event()
        self.ended = False  # set once the engine is done with the job
        self._first: object | None = None  # what ``first`` took off the queue

    @property
    def cancelled(self) -> bool:
        """Whether the client (or the server stopping) cancelled the job."""
        return self._cancelled.is_set()

    def push(self, item: object) -> None:
        """Hand a piece, the stats, an ``EngineError`` or the end to the reader (any thread)."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody reads any more
            self._cancelled.set()

    def end(self, stats: GenerationStats | None) -> None:
        """The job is over: record it on the lane, then give the reader the stats and the end (any thread)."""
        if self.ended:
            return
        self.ended = True
        self.lane._record(self, stats)  # recorded before the reader sees the end
        if stats is not None:
            self.push(stats)
        self.push(_END)

    def cancel(self) -> None:
        """Stop the job within one token (thread-safe; a queued job never starts)."""
        if not self._cancelled.is_set():
            self._cancelled.set()
            self.lane._cancel(self)

    async def first(self) -> None:
        """Wait for the first piece (or the end); raise at once if the engine refused the request."""
        if self._first is None:
            self._first = await self._queue.get()
        if isinstance(self._first, EngineError):
            raise self._first

    async def items(self) -> AsyncIterator[str | GenerationStats]:
        """Pieces, then the stats; raises the engine's error if it failed."""
        while True:
            if self._first is not None:
                item, self._first = self._first, None
            else:
                item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, EngineError):
                raise item
            assert isinstance(item, str | GenerationStats)
            yield item
