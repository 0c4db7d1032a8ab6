"""Check a quantize job before anything is written: input, target type, disk and memory.

``plan_quantize`` returns a ``QuantizePlan`` that ``app.engine.quantizer``
carries out in a child process; ``default_output_path`` names the result.
Nothing here runs llama.cpp.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.core import machine
from app.core.errors import ErrorKind, UserFacingError
from app.core.models import quant_types
from app.core.models.gguf_file import GGUFError
from app.core.models.info import InspectedModel, inspect_model

# Free disk wanted for a quantization: the estimated output size times this.
DISK_FACTOR = 1.05
# Memory llama.cpp needs besides the tensor being converted: the runtime,
# the metadata and vocabulary, and per-thread work space.
RAM_OVERHEAD_BYTES = 256 * 1024 * 1024


class QuantizeError(UserFacingError):
    """Quantizing cannot start or did not finish; the message is one line.

    Attributes:
        kind: ``REQUANTIZE`` (the input is already quantized), ``RAM``,
            ``DISK_FULL``, ``INPUT`` (bad input, type or output path),
            ``BUSY`` (another Fimble window is making the same file),
            ``FAILED`` (llama.cpp failed) or ``CANCELLED``.
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
        stem = stem[:at] + qtype + stem[at + len(current) :]
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
        raise QuantizeError(ErrorKind.INPUT, str(exc)) from None
    qtype = _check_target(qtype)
    _check_output(source, output)
    source_type = _source_type(model)
    if not quant_types.is_full_precision(source_type) and not force:
        shown = source_type if source_type in quant_types.FTYPES else "unknown type"
        raise QuantizeError(
            ErrorKind.REQUANTIZE,
            f"{source.name} is already quantized ({shown}); quantizing it again loses quality — "
            "use a full-precision (F16, BF16 or F32) file, or insist with --force",
        )
    estimated = estimate_output_bytes(model, qtype)
    free = machine.disk_free(output.parent)
    if free < estimated * DISK_FACTOR:
        raise QuantizeError(
            ErrorKind.DISK_FULL,
            f"not enough disk space in {output.parent}: the {qtype} file needs about "
            f"{machine.human_bytes(estimated * DISK_FACTOR)}, {machine.human_bytes(free)} is free",
        )
    needs_ram = ram_needed_bytes(model)
    available = machine.memory().available
    if available and available < needs_ram:  # 0: the platform does not say
        raise QuantizeError(
            ErrorKind.RAM,
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
        raise QuantizeError(ErrorKind.INPUT, str(exc)) from None
    targets = quant_types.quantize_targets()
    if name not in targets:
        if quant_types.is_full_precision(name):
            why = "is full precision, not a quantized type"
        elif name in quant_types.NEEDS_IMATRIX:
            why = "needs an importance matrix, which Fimble does not compute"
        else:
            why = "is not offered"
        raise QuantizeError(ErrorKind.INPUT, f"{name} {why}; choose one of {', '.join(targets)}")
    return name


def _check_output(source: Path, output: Path) -> None:
    if output.resolve() == source.resolve():
        raise QuantizeError(
            ErrorKind.INPUT, f"the output would overwrite the source {source.name}; choose another name"
        )
    if output.exists():
        raise QuantizeError(ErrorKind.INPUT, f"{output} already exists; choose another name or delete it first")


def _source_type(model: InspectedModel) -> str:
    """The input's file type, from its metadata or, failing that, its tensors."""
    stated = model.info.file_type
    if stated in quant_types.FTYPES:
        return stated
    import gguf

    full = {
        int(gguf.GGMLQuantizationType.F32): "F32",
        int(gguf.GGMLQuantizationType.F16): "F16",
        int(gguf.GGMLQuantizationType.BF16): "BF16",
    }
    kinds = {full.get(t.ggml_type) for t in model.file.tensors if len(t.shape) > 1}
    if kinds and None not in kinds:
        return "F16" if "F16" in kinds else "BF16" if "BF16" in kinds else "F32"
    return stated
