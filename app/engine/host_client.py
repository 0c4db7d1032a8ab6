"""``Engine`` over a spawned host process and a pipe."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TypeVar

from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel
from app.engine import protocol as p
from app.engine.client import Engine, EngineCrashed, EngineError

START_TIMEOUT_S = 60.0

_Reply = TypeVar("_Reply")


def _death_text(role: str, exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    elif exitcode is None:
        how = "no longer answering"
    else:
        how = f"exit code {exitcode}"
    return f"the {role} engine stopped unexpectedly ({how})"


class HostEngine(Engine):
    """A llama.cpp engine in its own process, started with ``spawn``."""

    def __init__(self, role: str = "chat", log_path: str | None = None) -> None:
        self.role = role
        self.log_path = log_path
        self.backend = BackendInfo()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._close_lock = threading.Lock()  # the GUI thread and the worker may both close it

    # ---- life cycle -------------------------------------------------------------

    def start(self) -> BackendInfo:
        """Spawn the host and wait for it to report its backend."""
        from app.engine.host import host_main

        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=host_main, args=(child_end, self.log_path), name=f"fimble-{self.role}-engine", daemon=True
        )
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        reply = self._recv(timeout=START_TIMEOUT_S)
        if isinstance(reply, p.Failed):
            self.close()
            raise EngineError(reply.kind, reply.message)
        if not isinstance(reply, p.Ready):
            self.close()
            raise EngineError("internal", f"the {self.role} engine sent {type(reply).__name__} before it was ready")
        self.backend = reply.backend
        return self.backend

    @property
    def pid(self) -> int | None:
        """The host's process id, while it runs."""
        return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        """Say whether the host process runs."""
        return self._process is not None and self._process.is_alive()

    def request_close(self) -> None:
        """Tell the host to exit; ``close`` then waits for it."""
        try:
            self._send(p.Shutdown())
        except EngineCrashed:
            pass

    def close(self, timeout: float = 1.0) -> None:
        """Ask the host to exit; kill it if it has not after ``timeout`` seconds.

        Safe to call twice, and from two threads at once (the window closing
        while the worker gives up on a host that died mid-load): the first
        call does the work, later ones return at once.
        """
        with self._close_lock:
            process, conn = self._process, self._conn
            if process is None:
                return
            self.request_close()
            self._process = self._conn = None
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(1.0)
        if conn is not None:
            try:
                conn.close()
            except OSError:  # a read blocked on it in another thread already failed
                pass

    # ---- transport --------------------------------------------------------------

    def _send(self, message: object) -> None:
        conn = self._conn
        if conn is None:
            raise EngineCrashed(f"the {self.role} engine is not running")
        with self._send_lock:
            try:
                conn.send(message)
            except (BrokenPipeError, EOFError, OSError):
                raise EngineCrashed(self._death()) from None

    def _death(self) -> str:
        process = self._process
        if process is not None:
            process.join(0.5)
        return _death_text(self.role, process.exitcode if process is not None else None)

    def _recv(self, timeout: float | None = None) -> object:
        conn, process = self._conn, self._process
        if conn is None or process is None:
            raise EngineCrashed(f"the {self.role} engine is not running")
        try:
            ready = wait([conn, process.sentinel], timeout)
            if not ready:
                raise EngineError("timeout", f"the {self.role} engine did not answer in {timeout or 0:.0f} s")
            if conn in ready or conn.poll():
                reply: object = conn.recv()
                return reply
        except (EOFError, OSError):
            pass
        raise EngineCrashed(self._death())

    def _call(self, message: object, expect: type[_Reply]) -> _Reply:
        self._send(message)
        while True:
            reply = self._recv()
            if isinstance(reply, p.Failed):
                raise EngineError(reply.kind, reply.message)
            if isinstance(reply, expect):
                return reply

    # ---- commands -----------------------------------------------------------------

    def load(
        self,
        path: str,
        params: LoadParams,
        *,
        vocab_only: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> LoadedModel:
        """Load a model in the host, reporting progress."""
        self._send(p.Load(str(path), params, vocab_only))
        while True:
            reply = self._recv()
            if isinstance(reply, p.LoadProgress):
                if on_progress is not None:
                    on_progress(reply.fraction)
            elif isinstance(reply, p.Failed):
                raise EngineError(reply.kind, reply.message)
            elif isinstance(reply, p.Loaded):
                return reply.model

    def tokenize(self, text: str, special: bool = False) -> tuple[list[int], list[str]]:
        """Tokenize with the loaded model."""
        reply = self._call(p.Tokenize(text, special), p.Tokens)
        return reply.ids, reply.pieces

    def build_prompt(self, request: FimRequest | ChatRequest) -> tuple[list[int], list[str]]:
        """Return the prompt the host would evaluate for ``request``."""
        reply = self._call(p.BuildPrompt(request), p.Tokens)
        return reply.ids, reply.pieces

    def generate(self, job_id: int, request: FimRequest | ChatRequest) -> Iterator[str | GenerationStats]:
        """Send job ``job_id`` now; return an iterator of its pieces, then its stats."""
        self._send(p.Generate(job_id, request))
        return self._stream(job_id)

    def _stream(self, job_id: int) -> Iterator[str | GenerationStats]:
        while True:
            reply = self._recv()
            if isinstance(reply, p.Piece) and reply.job_id == job_id:
                yield reply.text
            elif isinstance(reply, p.Done) and reply.job_id == job_id:
                yield reply.stats
                return
            elif isinstance(reply, p.Failed):
                raise EngineError(reply.kind, reply.message)
            # anything else belongs to an earlier, abandoned job: skip it

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel a job; safe from any thread."""
        try:
            self._send(p.Cancel(job_id))
        except EngineCrashed:
            pass

    def hold(self, job_id: int, on: bool) -> None:
        """Pause (``on``) or release job ``job_id`` between tokens; safe from any thread."""
        try:
            self._send(p.Hold(job_id, on))
        except EngineCrashed:
            pass

    def unload(self) -> None:
        """Free the model in the host."""
        self._call(p.Unload(), p.Unloaded)
