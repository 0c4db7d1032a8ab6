"""Autosave of unsaved editor buffers, so that a crash or a kill loses nothing.

Each buffer is one JSON file in the store's folder, written atomically. A
session marker holding this process's id tells the next start whether the
app exited cleanly (no marker) or crashed (a marker whose process is gone).
The caller passes ``app_dirs().cache / "recovery"`` as the folder.

Typical use at start-up::

    store = RecoveryStore(app_dirs().cache / "recovery")
    if store.crashed_last_time():
        offer(store.pending())
    store.begin_session()
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.editor.text_files import FileRefused, read_text_file
from app.core.files import write_text_atomic

MARKER_FILE = "session.lock"
BUFFER_PREFIX = "buffer-"
FORMAT = 1


@dataclass(frozen=True)
class RecoveredBuffer:
    """An autosaved buffer found in the store."""

    buffer_id: str
    path: str | None
    title: str
    encoding: str
    text: str
    saved_at: float

    def differs_from_disk(self) -> bool:
        """Return True unless the buffer's file exists and holds the same text.

        Returns:
            True for an untitled buffer, a missing or unreadable file, or a
            file whose text (newlines normalised) is not the buffer's text.
        """
        if self.path is None:
            return True
        try:
            return read_text_file(self.path).text != self.text
        except (FileRefused, OSError):
            return True


class RecoveryStore:
    """One folder of autosaved buffers plus a session marker."""

    def __init__(self, folder: Path) -> None:
        """Use ``folder``; it is created on the first write.

        Args:
            folder: Where buffers and the marker are kept.
        """
        self.folder = Path(folder)
        self._last: dict[str, str] = {}

    def save(self, buffer_id: str, text: str, *, path: str | None, encoding: str = "utf-8", title: str = "") -> None:
        """Autosave one buffer, replacing its previous autosave.

        Nothing is written when text, path, encoding and title are the same
        as at this store's last save of ``buffer_id``.

        Args:
            buffer_id: A stable id for the editor buffer.
            text: The buffer's whole text.
            path: The file the buffer belongs to, or None when untitled.
            encoding: The encoding the file is saved with.
            title: What the editor tab shows.

        Raises:
            OSError: The folder cannot be written.
        """
        record = {
            "format": FORMAT,
            "id": buffer_id,
            "path": None if path is None else str(path),
            "title": title,
            "encoding": encoding,
            "text": text,
        }
        import hashlib  # not at startup

        digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()
        target = self._buffer_file(buffer_id)
        if self._last.get(buffer_id) == digest and target.exists():
            return
        record["saved_at"] = time.time()
        self._write(target, json.dumps(record))
        self._last[buffer_id] = digest

    def discard(self, buffer_id: str) -> None:
        """Forget one buffer's autosave, e.g. after the user saved or closed it.

        Args:
            buffer_id: The id given to ``save``.
        """
        self._buffer_file(buffer_id).unlink(missing_ok=True)
        self._last.pop(buffer_id, None)

    def pending(self) -> list[RecoveredBuffer]:
        """Return every autosaved buffer, oldest first.

        Returns:
            The buffers sorted by ``saved_at``; unreadable, corrupt or
            half-written files are skipped.
        """
        found = []
        for file in self._buffer_files():
            buffer = _parse(file)
            if buffer is not None:
                found.append(buffer)
        return sorted(found, key=lambda b: (b.saved_at, b.buffer_id))

    def clear(self) -> None:
        """Remove every autosaved buffer and stray temp file; the marker stays."""
        for file in [*self._buffer_files(), *self._temp_files()]:
            file.unlink(missing_ok=True)
        self._last.clear()

    def begin_session(self) -> None:
        """Mark this process as running; call ``crashed_last_time`` first.

        Raises:
            OSError: The folder cannot be written.
        """
        marker = {"pid": os.getpid(), "started_at": time.time()}
        self._write(self.folder / MARKER_FILE, json.dumps(marker))

    def end_session(self, *, keep_unsaved: bool = True) -> None:
        """Record a clean exit: remove the marker and the buffers saved to disk.

        Args:
            keep_unsaved: Keep autosaves whose text still differs from disk
                (untitled buffers included), so they are offered next time.
                False clears every autosave.
        """
        for buffer in self.pending():
            if not keep_unsaved or not buffer.differs_from_disk():
                self.discard(buffer.buffer_id)
        marker = self.folder / MARKER_FILE
        if _marker_pid(marker) in (os.getpid(), None):
            marker.unlink(missing_ok=True)

    def crashed_last_time(self) -> bool:
        """Tell whether a previous session ended without ``end_session``.

        Returns:
            True when a marker exists and its process is not running (on
            Windows: when a marker exists at all); False with no marker, or
            when the marker is this process's or a live process's.
        """
        marker = self.folder / MARKER_FILE
        if not marker.exists():
            return False
        pid = _marker_pid(marker)
        if pid is None:
            return True
        if pid == os.getpid():
            return False
        return not _pid_alive(pid)

    def buffers_left(self) -> bool:
        """Tell whether the last session left buffers to offer: it crashed, or a signal closed it
        without asking (then no other window's session marker is there either)."""
        return self.crashed_last_time() or not (self.folder / MARKER_FILE).exists()

    def _buffer_file(self, buffer_id: str) -> Path:
        """Return the file name for a buffer id; ids may hold any character."""
        import hashlib  # not at startup

        digest = hashlib.sha256(buffer_id.encode("utf-8")).hexdigest()[:32]
        return self.folder / f"{BUFFER_PREFIX}{digest}.json"

    def _buffer_files(self) -> list[Path]:
        """Return the buffer files now in the folder."""
        try:
            return sorted(self.folder.glob(f"{BUFFER_PREFIX}*.json"))
        except OSError:
            return []

    def _temp_files(self) -> list[Path]:
        """Return leftover temp files from interrupted writes."""
        try:
            return list(self.folder.glob(".*.tmp"))
        except OSError:
            return []

    def _write(self, target: Path, content: str) -> None:
        """Write content atomically: a temp file beside target, then os.replace."""
        write_text_atomic(target, content)


def _parse(file: Path) -> RecoveredBuffer | None:
    """Read one buffer file; None when it is unreadable or malformed."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        path = data["path"]
        fields = (data["id"], data["title"], data["encoding"], data["text"])
        saved_at = data["saved_at"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not all(isinstance(value, str) for value in fields):
        return None
    if not (path is None or isinstance(path, str)):
        return None
    if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)):
        return None
    buffer_id, title, encoding, text = fields
    return RecoveredBuffer(buffer_id, path, title, encoding, text, float(saved_at))


def _marker_pid(marker: Path) -> int | None:
    """Return the pid in a session marker; None when missing or malformed."""
    try:
        pid = json.loads(marker.read_text(encoding="utf-8"))["pid"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    return pid


def _pid_alive(pid: int) -> bool:
    """Return True if a process with this id may be running."""
    if os.name == "nt":
        # os.kill on Windows terminates the process, so it cannot probe;
        # without a safe probe, assume the marker's process is gone.
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists but belongs to another user
    except OSError:
        return False
    return True
