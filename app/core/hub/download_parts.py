"""A download's files on disk: ``NAME.part`` and its ``NAME.part.json`` sidecar.

The sidecar records which Hub file the part belongs to (repository,
revision, size, sha256, ETag), so a later run, after a pause, a crash or a
full disk, can find the part, offer it, and continue it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.files import write_text_atomic
from app.core.hub.client import HubFile
from app.core.hub.download_lock import PartLock, held_elsewhere

PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"


@dataclass(frozen=True)
class PartialDownload:
    """An unfinished download found on disk, with what is needed to resume it."""

    repo_id: str
    filename: str
    done_bytes: int
    size: int
    path: Path
    revision: str
    sha256: str | None
    busy: bool = False  # another window is downloading it right now

    def hub_file(self) -> HubFile:
        """The ``HubFile`` to pass to ``download_file`` to continue it."""
        from app.core.models import quant_types

        return HubFile(
            self.repo_id, self.filename, self.size, self.sha256, quant_types.from_filename(self.filename), self.revision
        )


def part_paths(dest_dir: Path, basename: str) -> tuple[Path, Path]:
    """The ``.part`` file and its sidecar for a file name in a folder."""
    return dest_dir / (basename + PART_SUFFIX), dest_dir / (basename + SIDECAR_SUFFIX)


def partial_downloads(dest_dir: Path) -> list[PartialDownload]:
    """Unfinished downloads in a folder, read from their sidecars, by file name."""
    found: list[PartialDownload] = []
    folder = Path(dest_dir)
    if not folder.is_dir():
        return found
    for sidecar in sorted(folder.glob("*" + SIDECAR_SUFFIX)):
        meta = read_sidecar(sidecar)
        basename = sidecar.name[: -len(SIDECAR_SUFFIX)]
        part = sidecar.with_name(basename + PART_SUFFIX)
        if meta is None or not part.exists():
            continue
        found.append(
            PartialDownload(
                meta["repo_id"],
                meta["filename"],
                part.stat().st_size,
                int(meta["size"]),
                part,
                meta.get("revision", "main"),
                meta.get("sha256"),
                held_elsewhere(folder, basename),
            )
        )
    return found


def discard_partial(partial: PartialDownload | Path) -> bool:
    """Delete an unfinished download's part file and sidecar.

    Nothing is deleted while another window is downloading the file.

    Returns:
        True when the part is gone, False when another download holds it.
    """
    part = partial.path if isinstance(partial, PartialDownload) else Path(partial)
    if part.name.endswith(SIDECAR_SUFFIX):
        part = part.with_name(part.name[: -len(SIDECAR_SUFFIX)] + PART_SUFFIX)
    lock = PartLock(part.parent, part.name[: -len(PART_SUFFIX)])
    if not lock.try_acquire():
        return False
    try:
        part.unlink(missing_ok=True)
        part.with_name(part.name + ".json").unlink(missing_ok=True)
    finally:
        lock.release(remove_file=True)
    return True


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar's record, or None when it is missing, unreadable or incomplete."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not all(k in meta for k in ("repo_id", "filename", "size")):
        return None
    return meta


def same_file(meta: dict[str, Any], hub_file: HubFile) -> bool:
    """Whether a sidecar's record describes ``hub_file`` (by repository, name, size and sha256)."""
    same = (
        meta.get("repo_id") == hub_file.repo_id
        and meta.get("filename") == hub_file.filename
        and meta.get("size") == hub_file.size
        and meta.get("sha256") == hub_file.sha256
    )
    if hub_file.sha256 is None:  # nothing else identifies the content
        same = same and meta.get("revision") == hub_file.revision
    return same


def write_sidecar(path: Path, meta: dict[str, Any]) -> None:
    """Replace the sidecar atomically (through a temporary file)."""
    write_text_atomic(path, json.dumps(meta, indent=1))
