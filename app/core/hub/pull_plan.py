"""Plan a pull: which file of a repository to download, and whether to quantize it.

``plan_pull`` decides from one repository listing and fetches nothing;
``app.services.pull.run_pull`` carries the plan out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ErrorKind, UserFacingError
from app.core.hub.client import HubFile, RepoDetails
from app.core.models import quant_types
from app.core.models.quantize_plan import default_output_path

DEFAULT_QUANT = "Q4_K_M"
# Preferred full-precision sources for a local quantization: smallest first.
_SOURCE_ORDER = ("BF16", "F16", None, "F32")


class PullError(UserFacingError):
    """A pull that cannot be planned; one line for the user."""

    def __init__(self, message: str, kind: ErrorKind | str = ErrorKind.INPUT) -> None:
        super().__init__(kind, message)


@dataclass(frozen=True)
class PullPlan:
    """What a pull will do: download ``file``, then maybe quantize it."""

    details: RepoDetails
    file: HubFile
    quantize_to: str | None

    @property
    def repo_id(self) -> str:
        """The repository."""
        return self.details.summary.repo_id

    def folder(self, models_dir: Path) -> Path:
        """Where the repository's files go: one folder per repository."""
        return models_dir / self.repo_id.replace("/", "__")

    def output_name(self) -> str:
        """The file name of the model the pull ends with."""
        name = Path(self.file.filename).name
        return default_output_path(name, self.quantize_to).name if self.quantize_to else name

    def describe(self) -> str:
        """One line: what will be downloaded and what it becomes."""
        what = f"{self.repo_id}/{self.file.filename}"
        if self.quantize_to:
            return f"download {what} and quantize it to {self.quantize_to} locally"
        return f"download {what}"


def plan_pull(details: RepoDetails, *, filename: str | None = None, quant: str | None = None) -> PullPlan:
    """Choose the file to download and whether to quantize it.

    Args:
        details: The repository listing from ``HubClient.repo``.
        filename: A file to take; without it one is chosen by ``quant``.
        quant: The wanted type (default Q4_K_M when no file is named). When
            the repository has no file of that type, its full-precision GGUF
            is downloaded and quantized locally.

    Returns:
        The plan.

    Raises:
        PullError: No GGUF in the repository, an unknown file or type, or a
            type that cannot be made from what the repository holds.
    """
    wanted = _normalize(quant)
    files = [f for f in details.files if not _is_split_part(f.filename)]
    if not files:
        raise PullError(f"{details.summary.repo_id} has no single-file GGUF models")
    if filename:
        chosen = next((f for f in details.files if f.filename == filename or Path(f.filename).name == filename), None)
        if chosen is None:
            names = ", ".join(f.filename for f in files[:8])
            raise PullError(f"{details.summary.repo_id} has no file {filename!r}; it has {names}")
        if wanted and chosen.quant != wanted:
            if not _full_precision(chosen):
                raise PullError(
                    f"{chosen.filename} is already quantized ({chosen.quant}); "
                    f"pick a full-precision file to make {wanted}"
                )
            return PullPlan(details, chosen, wanted)
        return PullPlan(details, chosen, None)
    wanted = wanted or DEFAULT_QUANT
    ready = [f for f in files if f.quant == wanted]
    if ready:
        return PullPlan(details, min(ready, key=lambda f: len(f.filename)), None)
    sources = [f for f in files if _full_precision(f)]
    if not sources:
        have = sorted({f.quant or "?" for f in files})
        raise PullError(
            f"{details.summary.repo_id} has no {wanted} file and no full-precision GGUF to make one "
            f"from; it has {', '.join(have)}"
        )
    source = min(sources, key=lambda f: (_SOURCE_ORDER.index(f.quant if f.quant in _SOURCE_ORDER else None), f.size))
    if wanted in quant_types.FULL_PRECISION:
        return PullPlan(details, source, None)
    return PullPlan(details, source, wanted)


def _normalize(quant: str | None) -> str | None:
    if not quant:
        return None
    try:
        return quant_types.normalize(quant)
    except ValueError as exc:
        raise PullError(str(exc)) from None


def _full_precision(file: HubFile) -> bool:
    # The official repositories leave full precision unnamed (codegemma-7b.gguf).
    return file.quant is None or quant_types.is_full_precision(file.quant)


def _is_split_part(filename: str) -> bool:
    stem = Path(filename).stem
    return "-of-" in stem and stem.rsplit("-of-", 1)[-1].isdigit()
