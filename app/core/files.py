"""Write a file so that readers see the old content or the new, never a torn one.

``atomic_writer`` is the one place Fimble does this: the content goes to a
uniquely named temporary file beside the target, is flushed to disk, and is
then moved over the target with ``os.replace``. On any failure, including a
cancel that raises, the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".tmp"


def temp_name(target: Path) -> Path:
    """A fresh hidden name beside ``target`` for its next content (``os.urandom``: ``secrets`` is slow to import)."""
    return target.with_name(f".{target.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}")


@contextlib.contextmanager
def atomic_writer(
    target: str | os.PathLike[str], *, keep_mode: bool = False, private: bool = False
) -> Iterator[IO[bytes]]:
    """Yield a binary file whose content replaces ``target`` when the block ends well.

    Args:
        target: The file to create or replace; its folder is created.
        keep_mode: Give the new file the permission bits of the one it replaces.
        private: Make the new file readable by its owner only (0o600).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = None
    if keep_mode:
        with contextlib.suppress(OSError):
            previous = stat.S_IMODE(target.stat().st_mode)
    while True:
        temp = temp_name(target)
        try:
            # 0o666 lets the umask pick the mode of a brand-new file.
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600 if private else 0o666
            )
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if previous is not None:
            os.chmod(temp, previous)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes, **options: bool) -> None:
    """Replace ``target`` with ``data`` atomically; see ``atomic_writer`` for the options."""
    with atomic_writer(target, **options) as handle:
        handle.write(data)


def write_text_atomic(target: str | os.PathLike[str], text: str, **options: bool) -> None:
    """Replace ``target`` with ``text`` in UTF-8, atomically."""
    write_bytes_atomic(target, text.encode("utf-8"), **options)
