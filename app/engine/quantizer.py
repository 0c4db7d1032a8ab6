"""Quantize a GGUF model with llama.cpp's own quantizer, in a child process.

``app.core.models.quantize_plan.plan_quantize`` checks everything that can be
known beforehand and writes nothing. ``Quantizer.run`` then starts
``quantize_child.quantize_main`` with ``spawn``, reports each tensor as
llama.cpp writes it, and moves ``<output>.part`` into place only once the
result has been checked. ``Quantizer.cancel`` ends the child at any
moment; no partial file is left behind by a cancel or a failure.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from app.core.errors import ErrorKind
from app.core.hub.download_lock import PartLock
from app.core.models import quant_types
from app.core.models.gguf_file import GGUFError
from app.core.models.info import inspect_model
from app.core.models.quantize_plan import QuantizeError, QuantizePlan, QuantizeProgress

# How long a child may take to exit after being told to stop.
STOP_GRACE_S = 2.0
# How often ``run`` looks at the cancel flag while the child is quiet.
POLL_S = 0.2
# Warning and error lines kept to explain a failure.
KEPT_LOG_LINES = 8

_FAILED_PREFIX = "failed to quantize:"


class Quantizer:
    """Runs plans one at a time in a child process; ``cancel`` is thread-safe.

    Use one ``Quantizer`` per job: a ``cancel`` that arrives between two runs
    applies to the next one.

    Attributes:
        last_exitcode: Exit status of the last run's child process; negative
            when a signal ended it (a cancel), None before the first run.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._process: BaseProcess | None = None
        self.last_exitcode: int | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while a run is under way."""
        with self._lock:
            return self._process.pid if self._process is not None else None

    def cancel(self) -> None:
        """Stop the current run, or the next one if none is under way.

        The child is told to end at once; ``run`` then makes sure it is gone
        (killing it after ``STOP_GRACE_S``), removes the partial output and
        raises ``QuantizeError(ErrorKind.CANCELLED)``.
        """
        with self._lock:
            self._cancelled.set()
            if self._process is not None and self._process.exitcode is None:
                self._process.terminate()

    def run(
        self,
        plan: QuantizePlan,
        *,
        on_progress: Callable[[QuantizeProgress], None] | None = None,
        threads: int | None = None,
    ) -> Path:
        """Quantize ``plan.source`` into ``plan.output``, blocking until done.

        Args:
            plan: From ``plan_quantize``.
            on_progress: Called on this thread after each tensor is written.
            threads: Worker threads; None lets llama.cpp use every core.

        A ``.part`` left by a run that was killed is removed first; a lock
        next to it keeps two windows from writing the same output.

        Returns:
            ``plan.output``, complete and checked.

        Raises:
            QuantizeError: ``cancelled``, ``failed``, ``busy``, or ``input``
                when the output appeared since the plan was made.
        """
        lock = PartLock(plan.output.parent, plan.output.name)
        if not lock.try_acquire():
            raise QuantizeError(
                ErrorKind.BUSY, f"another Fimble window is making {plan.output.name} right now; wait for it to finish"
            )
        try:
            return self._run_locked(plan, on_progress, threads)
        finally:
            lock.release(remove_file=True)

    def _run_locked(
        self, plan: QuantizePlan, on_progress: Callable[[QuantizeProgress], None] | None, threads: int | None
    ) -> Path:
        part = plan.part_path
        log_path: str | None = None
        conn: Connection | None = None
        process: BaseProcess | None = None
        try:
            if self._cancelled.is_set():
                raise _cancelled()
            if plan.output.exists():
                raise QuantizeError(
                    ErrorKind.INPUT, f"{plan.output} already exists; choose another name or delete it first"
                )
            plan.output.parent.mkdir(parents=True, exist_ok=True)
            part.unlink(missing_ok=True)
            handle, log_path = tempfile.mkstemp(prefix="fimble-quantize-", suffix=".log")
            os.close(handle)
            conn, process = self._start(plan, part, threads, log_path)
            code, problems = self._follow(conn, process, on_progress)
            process.join(STOP_GRACE_S)
            if self._cancelled.is_set():
                raise _cancelled()
            if code is None or code != 0 or process.exitcode not in (0, None):
                raise QuantizeError(ErrorKind.FAILED, _failure_text(plan, code, process.exitcode, problems, log_path))
            _verify(plan, part)
            os.replace(part, plan.output)
            return plan.output
        finally:
            if process is not None:
                _stop(process)
                self.last_exitcode = process.exitcode
            with self._lock:
                self._process = None
                self._cancelled.clear()
            if conn is not None:
                conn.close()
            part.unlink(missing_ok=True)
            if log_path is not None:
                Path(log_path).unlink(missing_ok=True)

    def _start(
        self, plan: QuantizePlan, part: Path, threads: int | None, log_path: str
    ) -> tuple[Connection, BaseProcess]:
        from app.engine.quantize_child import quantize_main

        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=False)
        allow_requantize = not quant_types.is_full_precision(plan.source_type)
        process = context.Process(
            target=quantize_main,
            args=(
                child_end,
                str(plan.source),
                str(part),
                quant_types.ftype_id(plan.qtype),
                max(0, threads or 0),
                allow_requantize,
                log_path,
            ),
            name="fimble-quantize",
            daemon=True,
        )
        with self._lock:
            if self._cancelled.is_set():
                parent_end.close()
                child_end.close()
                raise _cancelled()
            process.start()
            self._process = process
        child_end.close()
        return parent_end, process

    def _follow(
        self, conn: Connection, process: BaseProcess, on_progress: Callable[[QuantizeProgress], None] | None
    ) -> tuple[int | None, deque[str]]:
        """Relay progress until the child says it is done or goes away.

        Returns:
            llama_model_quantize's return value (None if the child died
            first) and the last warning and error lines.
        """
        problems: deque[str] = deque(maxlen=KEPT_LOG_LINES)
        while not self._cancelled.is_set():
            if not wait([conn, process.sentinel], POLL_S):
                continue
            try:
                if not conn.poll():
                    return None, problems  # exited without a word
                message: object = conn.recv()
            except (EOFError, OSError):
                return None, problems
            match message:
                case ("progress", int(done), int(total), str(name)):
                    if on_progress is not None:
                        on_progress(QuantizeProgress(done, total, name))
                case ("log", int(), str(line)):
                    problems.append(line)
                case ("done", int(code)):
                    return code, problems
        raise _cancelled()


def _cancelled() -> QuantizeError:
    return QuantizeError(ErrorKind.CANCELLED, "quantizing was cancelled")


def _stop(process: BaseProcess) -> None:
    """End the child if it still runs: terminate, then kill after a grace period."""
    if process.exitcode is None:
        process.terminate()
        process.join(STOP_GRACE_S)
    if process.exitcode is None:
        process.kill()
        process.join(STOP_GRACE_S)


def _verify(plan: QuantizePlan, part: Path) -> None:
    try:
        written = inspect_model(part).info.file_type
    except GGUFError as exc:
        raise QuantizeError(ErrorKind.FAILED, f"llama.cpp wrote an unreadable file: {exc}") from None
    if written != plan.qtype:
        raise QuantizeError(ErrorKind.FAILED, f"llama.cpp wrote a {written} file instead of {plan.qtype}")


def _failure_text(
    plan: QuantizePlan, code: int | None, exitcode: int | None, problems: deque[str], log_path: str | None
) -> str:
    """One line saying why llama.cpp failed, from its last error or its stderr."""
    detail = _last_reason(problems) or _last_stderr_line(log_path)
    if code is None:
        how = _death_text(exitcode)
        return f"quantizing {plan.source.name} stopped unexpectedly ({how})" + (f": {detail}" if detail else "")
    return f"llama.cpp could not quantize {plan.source.name}: {detail or f'error {code}'}"


def _last_reason(problems: deque[str]) -> str:
    """The most telling of the kept lines: the last ``failed to quantize`` reason, else the last line."""
    for line in reversed(problems):
        _, found, reason = line.partition(_FAILED_PREFIX)
        if found and reason.strip():
            return reason.strip()
    return problems[-1].strip() if problems else ""


def _last_stderr_line(log_path: str | None) -> str:
    if not log_path:
        return ""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle.read()[-8192:].splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _death_text(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " — out of memory?" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    if exitcode is None:
        return "no longer answering"
    return f"exit code {exitcode}"
