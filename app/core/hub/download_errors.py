"""How a download stops short: one error base with a kind, and the three stops callers branch on."""

from __future__ import annotations

from pathlib import Path

from app.core import machine
from app.core.errors import ErrorKind, UserFacingError

# Free disk kept beyond the file itself, for the sidecar and the rest of the system.
DISK_HEADROOM_BYTES = 32 * 1024 * 1024


class DownloadError(UserFacingError):
    """A download that stopped, with a one-line message.

    Attributes:
        kind: ``DISK_FULL``, ``CHECKSUM``, ``CANCELLED``, ``PAUSED``,
            ``GATED``, ``AUTH``, ``OFFLINE``, ``HTTP`` (the Hub answered an
            error, or the transfer broke off and the tries ran out) or
            ``CHANGED`` (the file on the Hub is not the one that was listed).
    """


class DiskFullError(DownloadError):
    """The disk has no room for the rest of a file; the part downloaded so far is kept.

    Attributes:
        filename: The file's name.
        needed: Bytes that must be free to finish (the rest of the file plus headroom).
        free: Bytes free now.
        kept: Bytes of the part kept on disk; resuming continues after them.
        folder: Where the file goes.
    """

    def __init__(self, message: str, *, filename: str, needed: int, free: int, kept: int, folder: Path) -> None:
        super().__init__(ErrorKind.DISK_FULL, message)
        self.filename, self.needed, self.free, self.kept, self.folder = filename, needed, free, kept, folder


class DownloadPaused(DownloadError):
    """Raised when ``DownloadControl.pause`` stopped a download; the part file is kept."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.PAUSED, message)


class DownloadCancelled(DownloadError):
    """Raised when ``DownloadControl.cancel`` stopped a download; its part is gone unless another window owns it."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.CANCELLED, message)


def percent(done: int, total: int) -> int:
    """``done`` as a whole percentage of ``total`` (100 for an empty file)."""
    return int(done * 100 / total) if total else 100


def disk_full_error(name: str, folder: Path, size: int, done: int, *, filled: bool = False) -> DiskFullError:
    """The error for a folder without room for the rest of a file; its ``free < needed`` says if it applies.

    Args:
        name: The file's name.
        folder: Where it goes.
        size: The whole file's size.
        done: Bytes of it already on disk (kept for resuming).
        filled: The disk filled up while writing (worded so).
    """
    free = machine.disk_free(folder)
    needed = size - done + DISK_HEADROOM_BYTES
    have, room = machine.human_bytes(needed), machine.human_bytes(free)
    kept = f"the {percent(done, size)}% downloaded so far is kept — free some space and resume to continue"
    if filled:
        message = f"the disk is full: {name} needs {have} more, {room} free in {folder}; {kept}"
    elif not done:
        message = f"not enough disk space for {name}: needs {have}, {room} free in {folder}"
    else:
        message = f"not enough disk space to finish {name}: needs {have} more, {room} free in {folder}; {kept}"
    return DiskFullError(message, filename=name, needed=needed, free=free, kept=done, folder=folder)
