"""Each engine driven from one worker thread, its jobs in arrival order, streamed into the event loop.

An ``Engine`` serves one call at a time, so every generation of a lane runs
on the lane's single worker thread: requests from different API clients wait
their turn in a FIFO queue, and the event loop never blocks on the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats
from app.core.models.loaded import LoadedModel
from app.engine.client import Engine, EngineError

_END = object()
_job_ids = itertools.count(1)


@dataclass(frozen=True)
class Finished:
    """A job the lane ran to its end (or cut short), as the engine measured it."""

    job_id: int
    request: FimRequest | ChatRequest
    stats: GenerationStats | None  # None: cancelled before it started, or failed


class Lane:
    """One loaded engine and the thread that drives it."""

    def __init__(self, engine: Engine, model: LoadedModel, model_id: str) -> None:
        self.engine = engine
        self.model = model
        self.model_id = model_id
        self.finished: deque[Finished] = deque(maxlen=256)
        self.on_finished: list[Callable[[Finished], None]] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fimble-serve-{model_id}")
        self._jobs: set[Job] = set()
        self._jobs_lock = threading.Lock()

    @property
    def n_ctx(self) -> int:
        """The context the model was loaded with."""
        return self.model.n_ctx

    def submit(self, request: FimRequest | ChatRequest) -> Job:
        """Queue ``request``; iterate the returned job (in the event loop) for its pieces and stats."""
        job = Job(self, request, asyncio.get_running_loop())
        with self._jobs_lock:
            self._jobs.add(job)
        self._pool.submit(job.run)
        return job

    def build_prompt(self, request: FimRequest | ChatRequest) -> list[int]:
        """The prompt tokens ``request`` evaluates (on the lane's thread, between jobs)."""
        return self._pool.submit(self.engine.build_prompt, request).result()[0]

    def _done(self, job: Job, stats: GenerationStats | None) -> None:
        with self._jobs_lock:
            self._jobs.discard(job)
        record = Finished(job.id, job.request, stats)
        self.finished.append(record)
        for callback in list(self.on_finished):
            callback(record)

    def stop(self) -> None:
        """Cancel every job and let the worker thread end."""
        with self._jobs_lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)


class Job:
    """One generation: runs on the lane's thread, read as an async iterator of ``str`` and ``GenerationStats``."""

    def __init__(self, lane: Lane, request: FimRequest | ChatRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.id = next(_job_ids)
        self.lane = lane
        self.request = request
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._cancelled = threading.Event()
        self.ended = False  # set on the worker thread once the engine is done with the job
        self._first: object | None = None  # what ``first`` took off the queue

    def _push(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody reads any more
            self._cancelled.set()

    def run(self) -> None:
        """The worker thread's side: generate and push each item to the loop."""
        stats: GenerationStats | None = None
        try:
            if self._cancelled.is_set():
                return
            items = self.lane.engine.generate(self.id, self.request)
            if self._cancelled.is_set():  # cancelled while it was being sent
                self.lane.engine.cancel(self.id)
            for item in items:
                if isinstance(item, GenerationStats):
                    stats = item  # pushed once recorded, below
                else:
                    self._push(item)
        except EngineError as exc:
            self._push(exc)
        except Exception as exc:  # noqa: BLE001 - the client gets one line, the server lives on
            self._push(EngineError("internal", f"the engine failed: {type(exc).__name__}: {exc}"))
        finally:
            self.ended = True
            self.lane._done(self, stats)  # recorded before the reader sees the end
            if stats is not None:
                self._push(stats)
            self._push(_END)

    def cancel(self) -> None:
        """Stop the job within one token (thread-safe; a queued job never starts)."""
        if not self._cancelled.is_set():
            self._cancelled.set()
            self.lane.engine.cancel(self.id)

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
