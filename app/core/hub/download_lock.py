"""One writer per ``.part`` file, across every Fimble window on the machine.

Two windows can queue the same file. Only the one holding ``NAME.part.lock``
(next to the part) may create, grow, truncate or delete ``NAME.part``; the
other waits and shows the first one's progress from the part's size.

The lock is an OS lock on an open file (``flock`` on POSIX, ``msvcrt.locking``
on Windows), so the OS drops it when its holder dies, ``kill -9`` included:
a lock never outlives a crashed window. The descriptor is not inherited by
child processes, so a quantizer started meanwhile cannot keep it alive.

The lock file is removed when nothing is left to protect (the download
finished, or its part was deleted). That is safe on POSIX because a new
holder checks, after locking, that the path still names the file it locked,
and starts over if the file was removed or replaced meanwhile. On Windows an
open file cannot be deleted, so removal simply fails while anyone waits on it.

``filelock`` (which huggingface_hub uses) is not used here: it hides the
descriptor, and that check needs it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOCK_SUFFIX = ".part.lock"

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only (and type-checked for it)
    import msvcrt

    def _lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _still_named(fd: int, path: Path) -> bool:
        return True  # an open file cannot be removed or replaced on Windows

else:
    import fcntl

    def _lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except PermissionError:  # some file systems report a held lock this way
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _still_named(fd: int, path: Path) -> bool:
        try:
            named = os.stat(path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def lock_path(dest_dir: Path, basename: str) -> Path:
    """The lock file that guards ``dest_dir / basename`` and its ``.part``."""
    return Path(dest_dir) / (basename + LOCK_SUFFIX)


class PartLock:
    """The lock on one file's download; one object per attempt, usable from any thread.

    Two ``PartLock`` objects exclude each other even in the same process.
    """

    def __init__(self, dest_dir: Path, basename: str) -> None:
        self.path = lock_path(dest_dir, basename)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits.

        Returns:
            True when this object now holds the lock, False when another
            holder (another window, or another job of this one) has it.

        Raises:
            OSError: The lock file cannot be created (read-only folder, full disk).
        """
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
            if not _lock(fd):
                os.close(fd)
                return False
            if _still_named(fd, self.path):
                self._fd = fd
                return True
            os.close(fd)  # the holder before removed the file: lock the one the path names now

    def release(self, *, remove_file: bool = False) -> None:
        """Give the lock up; ``remove_file`` also deletes the lock file (best effort)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if remove_file and os.name != "nt":
            self.path.unlink(missing_ok=True)  # while still locked, so a waiter sees it go
        try:
            _unlock(fd)
        finally:
            os.close(fd)
        if remove_file and os.name == "nt":  # pragma: no cover - Windows only
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass  # someone else has it open: it is theirs now

    def __del__(self) -> None:
        if self._fd is not None:  # dropped while held: the OS lock goes with the descriptor
            try:
                os.close(self._fd)
            except OSError:
                pass


def held_elsewhere(dest_dir: Path, basename: str) -> bool:
    """Whether some other holder is downloading ``basename`` into ``dest_dir`` right now.

    A missing lock file means nobody is (a holder always has the file), so
    looking creates no lock file when there is none.
    """
    if not lock_path(dest_dir, basename).exists():
        return False
    probe = PartLock(dest_dir, basename)
    try:
        if not probe.try_acquire():
            return True
    except OSError:  # a lock file this user cannot open: nobody of ours is writing there
        return False
    probe.release()
    return False
