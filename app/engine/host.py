"""The engine host process: one ``Llama`` per process, driven over a pipe.

The main thread runs commands one at a time. A reader thread takes every
message off the pipe at once, so ``Cancel`` takes effect between tokens (or
through llama.cpp's abort callback during prompt evaluation) while a
generation is running, and ``Hold`` pauses or releases a job between tokens
(see ``app.engine.hold``).
"""

from __future__ import annotations

import queue
import threading
import traceback
from multiprocessing.connection import Connection

from app.core.generation.contracts import GenerationStats
from app.engine import protocol as p
from app.engine.hold import HoldGate
from app.engine.lifeline import exit_with_parent
from app.engine.runner import EngineFailure, ModelRunner


class _Inbox:
    """Reads the pipe on its own thread; Cancel and Hold are applied there, at once."""

    def __init__(self, conn: Connection, cancel: threading.Event, hold: HoldGate) -> None:
        self.conn = conn
        self.cancel = cancel
        self.hold = hold
        self.queue: queue.Queue[object] = queue.Queue()
        self.current_job: int | None = None
        self.cancelled_jobs: set[int] = set()
        threading.Thread(target=self._read, name="fimble-host-reader", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message: object = self.conn.recv()
            except (EOFError, OSError):
                message = p.Shutdown()  # the parent is gone: exit rather than linger
            if isinstance(message, p.Cancel):
                self._apply_cancel(message.job_id)
                continue
            if isinstance(message, p.Hold):
                self.hold.set(message.job_id, message.on)
                continue
            if isinstance(message, p.Shutdown):
                self.cancel.set()
                self.hold.wake()
            self.queue.put(message)
            if isinstance(message, p.Shutdown):
                return

    def _apply_cancel(self, job_id: int | None) -> None:
        if job_id is None:
            self.cancel.set()
        else:
            self.cancelled_jobs.add(job_id)
            if self.current_job == job_id:
                self.cancel.set()
        self.hold.wake()  # a held job ends now

    def start_job(self, job_id: int | None) -> bool:
        """Mark ``job_id`` as running; return False if it was already cancelled."""
        self.cancel.clear()
        self.current_job = job_id
        self.hold.start(job_id)
        if job_id is not None and job_id in self.cancelled_jobs:
            self.cancelled_jobs.discard(job_id)
            return False
        return True

    def end_job(self) -> None:
        """The running command ended: forget its id and any hold on it."""
        self.current_job = None
        self.hold.finish()


def _redirect_stderr(log_path: str | None) -> None:
    """Send Python's and llama.cpp's stderr to the log file, not the user's terminal."""
    if not log_path:
        return
    import os
    import sys

    log = open(log_path, "a", buffering=1, encoding="utf-8")
    os.dup2(log.fileno(), 2)
    sys.stderr = log


def host_main(conn: Connection, log_path: str | None = None) -> None:
    """Entry point of the host process (started with ``spawn``).

    The host ends itself when the window's process dies, even in the middle
    of a long llama.cpp call: it holds nothing the user made.
    """
    exit_with_parent()
    _redirect_stderr(log_path)
    from app.engine.backend import backend_info

    cancel = threading.Event()
    runner = ModelRunner(cancel)
    try:
        conn.send(p.Ready(backend_info()))
    except Exception as exc:  # a broken llama.cpp install must still say so in words
        conn.send(p.Failed("internal", f"llama.cpp failed to start: {exc}"))
        return
    inbox = _Inbox(conn, cancel, runner.hold)
    while True:
        message = inbox.queue.get()
        if isinstance(message, p.Shutdown):
            break
        try:
            _handle(message, runner, inbox, conn)
        except EngineFailure as exc:
            conn.send(p.Failed(exc.kind, exc.message, getattr(message, "job_id", None)))
        except Exception as exc:  # never a traceback to the user; keep it for the log
            traceback.print_exc()
            conn.send(
                p.Failed("internal", f"the engine hit an internal error: {exc}", getattr(message, "job_id", None))
            )
        finally:
            inbox.end_job()
    runner.unload()


def _handle(message: object, runner: ModelRunner, inbox: _Inbox, conn: Connection) -> None:
    if isinstance(message, p.Load):
        inbox.start_job(None)
        model = runner.load(message.path, message.params, message.vocab_only, lambda f: conn.send(p.LoadProgress(f)))
        conn.send(p.Loaded(model))
    elif isinstance(message, p.Tokenize):
        ids = runner.tokenize(message.text, message.special)
        conn.send(p.Tokens(ids, runner.pieces(ids)))
    elif isinstance(message, p.BuildPrompt):
        ids = runner.build_prompt(message.request)
        conn.send(p.Tokens(ids, runner.pieces(ids)))
    elif isinstance(message, p.Generate):
        _generate(message, runner, inbox, conn)
    elif isinstance(message, p.Unload):
        runner.unload()
        conn.send(p.Unloaded())
    else:
        raise EngineFailure("bad_request", f"unknown command {type(message).__name__}")


def _generate(message: p.Generate, runner: ModelRunner, inbox: _Inbox, conn: Connection) -> None:
    job = message.job_id
    if not inbox.start_job(job):
        conn.send(p.Done(job, "", GenerationStats(0, 0, 0, 0.0, 0.0, 0.0, 0.0, "cancelled")))
        return
    text, stats = runner.generate(message.request, lambda piece: conn.send(p.Piece(job, piece)))
    conn.send(p.Done(job, text, stats))
