"""Quantize a GGUF model with llama.cpp's own quantizer, in a child process.

``plan_quantize`` checks everything that can be known beforehand (the input,
the target type, disk space, memory) and writes nothing. ``Quantizer.run``
then starts ``quantize_child.quantize_main`` with ``spawn``, reports each
tensor as llama.cpp writes it, and moves ``<output>.part`` into place only
once the result has been checked. ``Quantizer.cancel`` ends the child at any
moment; no partial file is left behind by a cancel or a failure.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import threading
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable

from app.core import machine, quant_types
from app.core.download_lock import PartLock
from app.core.errors import UserFacingError
from app.core.gguf_file import GGUFError
from app.core.model_info import InspectedModel, inspect_model

# Free disk wanted beyond the estimated output size.
DISK_MARGIN = 1.05
# Memory llama.cpp needs besides the tensor being converted: the runtime,
# the metadata and vocabulary, and per-thread work space.
RAM_OVERHEAD_BYTES = 256 * 1024 * 1024
# How long a child may take to exit after being told to stop.
STOP_GRACE_S = 2.0
# How often ``run`` looks at the cancel flag while the child is quiet.
POLL_S = 0.2
# Warning and error lines kept to explain a failure.
KEPT_LOG_LINES = 8

_FAILED_PREFIX = "failed to quantize:"


class QuantizeError(UserFacingError):
    """Quantizing cannot start or did not finish; the message is one line.

    Attributes:
        kind: ``"requantize"`` (the input is already quantized), ``"ram"``,
            ``"disk"``, ``"input"`` (bad input, type or output path),
            ``"busy"`` (another Fimble window is making the same file),
            ``"failed"`` (llama.cpp failed) or ``"cancelled"``.
        message: The line to show.
    """


@dataclass(frozen=True)
class QuantizeProgress:
    """One tensor written: ``done`` of ``total``, the last one named ``tensor``."""

    done: int
    total: int
    tensor: str


@dataclass(frozen=True)
class QuantizePlan:
    """A checked quantize job.

    Attributes:
        source: The input GGUF.
        output: The file to create.
        qtype: The canonical target type, e.g. ``Q4_K_M``.
        source_type: The input's file type, e.g. ``F16``.
        estimated_bytes: Expected size of the output.
        needs_ram_bytes: Memory llama.cpp is expected to need at its peak.
    """

    source: Path
    output: Path
    qtype: str
    source_type: str
    estimated_bytes: int
    needs_ram_bytes: int

    @property
    def part_path(self) -> Path:
        """Where the output is written until it is complete and checked."""
        return self.output.with_name(self.output.name + ".part")


def source_is_full_precision(path: str | os.PathLike[str]) -> bool:
    """Whether a GGUF is unquantized (F32, F16 or BF16); False if it cannot be read."""
    try:
        return quant_types.is_full_precision(_source_type(inspect_model(path)))
    except GGUFError:
        return False


def default_output_path(source: str | os.PathLike[str], qtype: str) -> Path:
    """Name the output after the source, with its type replaced or appended.

    ``codegemma-7b-it-f16.gguf`` gives ``codegemma-7b-it-Q4_K_M.gguf`` and
    ``codegemma-7b.gguf`` gives ``codegemma-7b-Q4_K_M.gguf``, in the same folder.

    Raises:
        ValueError: ``qtype`` is not a known type.
    """
    source = Path(source)
    qtype = quant_types.normalize(qtype)
    stem = source.name[:-5] if source.name.lower().endswith(".gguf") else source.name
    current = quant_types.from_filename(stem)
    if current is not None:
        lower = stem.lower()
        at = lower.rfind(current.lower())
        stem = stem[:at] + qtype + stem[at + len(current):]
    else:
        stem = f"{stem}-{qtype}"
    return source.with_name(stem + ".gguf")


def plan_quantize(
    source: str | os.PathLike[str], output: str | os.PathLike[str], qtype: str, *, force: bool = False
) -> QuantizePlan:
    """Check a quantize job before anything is written.

    Args:
        source: A GGUF model, ideally full precision.
        output: The file to create; it must not exist yet.
        qtype: Target type in any spelling, e.g. ``q4_k_m``.
        force: Accept an input that is already quantized.

    Returns:
        The plan for ``Quantizer.run``.

    Raises:
        QuantizeError: With kind ``input``, ``requantize``, ``disk`` or ``ram``.
    """
    source, output = Path(source), Path(output)
    try:
        model = inspect_model(source)
    except GGUFError as exc:
        raise QuantizeError("input", str(exc)) from None
    qtype = _check_target(qtype)
    _check_output(source, output)
    source_type = _source_type(model)
    if not quant_types.is_full_precision(source_type) and not force:
        shown = source_type if source_type in quant_types.FTYPES else "unknown type"
        raise QuantizeError(
            "requantize",
            f"{source.name} is already quantized ({shown}); quantizing it again loses quality — "
            "use a full-precision (F16, BF16 or F32) file, or insist with --force",
        )
    estimated = estimate_output_bytes(model, qtype)
    free = machine.disk_free(output.parent)
    if free < estimated * DISK_MARGIN:
        raise QuantizeError(
            "disk",
            f"not enough disk space in {output.parent}: the {qtype} file needs about "
            f"{machine.human_bytes(estimated * DISK_MARGIN)}, {machine.human_bytes(free)} is free",
        )
    needs_ram = ram_needed_bytes(model)
    available = machine.memory().available
    if available and available < needs_ram:  # 0: the platform does not say
        raise QuantizeError(
            "ram",
            f"quantizing {source.name} needs about {machine.human_bytes(needs_ram)} of free memory, "
            f"{machine.human_bytes(available)} is available — close other programs and try again",
        )
    return QuantizePlan(source, output, qtype, source_type, estimated, needs_ram)


def estimate_output_bytes(model: InspectedModel, qtype: str) -> int:
    """Expected output size: the weights at the type's bits per weight, plus the header.

    The header (metadata and vocabulary) is copied as it is, so its size is
    taken from the source.
    """
    weights = model.info.parameters * quant_types.bits_per_weight(qtype) / 8
    return int(weights) + model.file.data_offset


def ram_needed_bytes(model: InspectedModel) -> int:
    """Peak memory llama.cpp's quantizer is expected to need for ``model``.

    llama.cpp maps the input and converts one tensor at a time. For the
    tensor being converted it holds the input bytes (mapped pages, or a read
    buffer where it does not map), an F32 copy of the values (4 bytes each)
    and an output buffer sized for F32 as an upper bound (4 bytes each). So
    the peak is ``nbytes + 8 × elements`` of the largest tensor, plus
    ``RAM_OVERHEAD_BYTES`` for everything else. For an F32 input the F32
    copy is the input itself, which makes the figure a little generous.
    """
    largest = max((t.nbytes + 8 * t.elements for t in model.file.tensors), default=0)
    return largest + RAM_OVERHEAD_BYTES


def _check_target(qtype: str) -> str:
    try:
        name = quant_types.normalize(qtype)
    except ValueError as exc:
        raise QuantizeError("input", str(exc)) from None
    targets = quant_types.quantize_targets()
    if name not in targets:
        if quant_types.is_full_precision(name):
            why = "is full precision, not a quantized type"
        elif name in quant_types.NEEDS_IMATRIX:
            why = "needs an importance matrix, which Fimble does not compute"
        else:
            why = "is not offered"
        raise QuantizeError("input", f"{name} {why}; choose one of {', '.join(targets)}")
    return name


def _check_output(source: Path, output: Path) -> None:
    if output.resolve() == source.resolve():
        raise QuantizeError("input", f"the output would overwrite the source {source.name}; choose another name")
    if output.exists():
        raise QuantizeError("input", f"{output} already exists; choose another name or delete it first")


def _source_type(model: InspectedModel) -> str:
    """The input's file type, from its metadata or, failing that, its tensors."""
    stated = model.info.file_type
    if stated in quant_types.FTYPES:
        return stated
    import gguf

    full = {int(gguf.GGMLQuantizationType.F32): "F32", int(gguf.GGMLQuantizationType.F16): "F16",
            int(gguf.GGMLQuantizationType.BF16): "BF16"}
    kinds = {full.get(t.ggml_type) for t in model.file.tensors if len(t.shape) > 1}
    if kinds and None not in kinds:
        return "F16" if "F16" in kinds else "BF16" if "BF16" in kinds else "F32"
    return stated


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
        self._process = None
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
        raises ``QuantizeError("cancelled")``.
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
            raise QuantizeError("busy", f"another Fimble window is making {plan.output.name} right now; "
                                        "wait for it to finish")
        try:
            return self._run_locked(plan, on_progress, threads)
        finally:
            lock.release(remove_file=True)

    def _run_locked(self, plan: QuantizePlan, on_progress, threads: int | None) -> Path:
        part = plan.part_path
        log_path = None
        conn = process = None
        try:
            if self._cancelled.is_set():
                raise _cancelled()
            if plan.output.exists():
                raise QuantizeError("input", f"{plan.output} already exists; choose another name or delete it first")
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
                raise QuantizeError("failed", _failure_text(plan, code, process.exitcode, problems, log_path))
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

    def _start(self, plan: QuantizePlan, part: Path, threads: int | None, log_path: str):
        from app.engine.quantize_child import quantize_main

        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=False)
        allow_requantize = not quant_types.is_full_precision(plan.source_type)
        process = context.Process(
            target=quantize_main,
            args=(child_end, str(plan.source), str(part), quant_types.ftype_id(plan.qtype),
                  max(0, threads or 0), allow_requantize, log_path),
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

    def _follow(self, conn, process, on_progress) -> tuple[int | None, deque[str]]:
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
                message = conn.recv()
            except (EOFError, OSError):
                return None, problems
            if message[0] == "progress" and on_progress is not None:
                on_progress(QuantizeProgress(*message[1:]))
            elif message[0] == "log":
                problems.append(message[2])
            elif message[0] == "done":
                return message[1], problems
        raise _cancelled()


def _cancelled() -> QuantizeError:
    return QuantizeError("cancelled", "quantizing was cancelled")


def _stop(process) -> None:
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
        raise QuantizeError("failed", f"llama.cpp wrote an unreadable file: {exc}") from None
    if written != plan.qtype:
        raise QuantizeError("failed", f"llama.cpp wrote a {written} file instead of {plan.qtype}")


def _failure_text(plan: QuantizePlan, code: int | None, exitcode: int | None,
                  problems: deque[str], log_path: str | None) -> str:
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
