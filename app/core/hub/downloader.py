"""Resumable, verified downloads of Hub files.

``huggingface_hub`` no longer resumes an interrupted plain-HTTP download
across runs, so Fimble fetches a file's resolve address itself while
``HubClient`` supplies the metadata and the token. The bytes go to
``<name>.part`` next to a ``<name>.part.json`` sidecar that says which file
they belong to, so a pause, a dropped connection, a full disk or a crash all
leave something the next call continues with a ``Range`` request.

The sha256 is computed on a second thread while the bytes arrive (hashlib
releases the GIL), checked against the Hub's LFS object id after the last
byte, and only then is the part renamed to its final name.

Each piece is written as soon as it arrives, so a crash or ``kill -9`` loses
only what the kernel still buffered. ``NAME.part.lock`` (``download_lock``)
lets one Fimble window at a time write the part; another window's download of
the same file waits, reporting the part's growth, and carries on from it.
"""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path
from typing import Callable

from app import __version__
from app.core import machine
from app.core.hub.download_lock import PartLock
from app.core.hub.download_parts import (PartialDownload, discard_partial, part_paths, partial_downloads,
                                     read_sidecar, write_sidecar)
from app.core.hub.download_stream import DownloadControl, DownloadProgress, Hasher, Speedometer
from app.core.errors import UserFacingError
from app.core.hub.client import HubClient, HubFile, gated_message, offline_message, short_reason

try:
    import httpx2 as httpx  # what huggingface_hub 2.x ships with
except ImportError:  # pragma: no cover - older stacks
    import httpx  # type: ignore[no-redef]

# Kept free beyond the file itself, for the sidecar and the rest of the system.
DISK_MARGIN = 32 * 1024 * 1024
CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 30.0
# How often a download waiting for another window looks at the part and the lock.
WAIT_POLL_S = 0.2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DISK_FULL_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))

__all__ = ["DownloadProgress", "PartialDownload", "DownloadError", "DiskFullError", "DownloadPaused",
           "DownloadCancelled", "DownloadControl", "download_file", "partial_downloads", "discard_partial",
           "part_paths"]


class DownloadError(UserFacingError):
    """A download that stopped, with a one-line message.

    Attributes:
        kind: ``disk_full``, ``checksum``, ``cancelled``, ``paused``,
            ``gated``, ``auth``, ``offline``, ``http`` or ``changed`` (the
            file on the Hub is not the one that was listed).
    """


class DiskFullError(DownloadError):
    """The disk has no room for the rest of a file; the part downloaded so far is kept.

    Attributes:
        filename: The file's name.
        needed: Bytes that must be free to finish (the rest of the file plus a margin).
        free: Bytes free now.
        kept: Bytes of the part kept on disk; resuming continues after them.
        folder: Where the file goes.
    """

    def __init__(self, message: str, *, filename: str, needed: int, free: int, kept: int, folder: Path) -> None:
        super().__init__("disk_full", message)
        self.filename, self.needed, self.free, self.kept, self.folder = filename, needed, free, kept, folder


class DownloadPaused(DownloadError):
    """Raised when ``DownloadControl.pause`` stopped a download; the part file is kept."""

    def __init__(self, message: str) -> None:
        super().__init__("paused", message)


class DownloadCancelled(DownloadError):
    """Raised when ``DownloadControl.cancel`` stopped a download; its part is gone unless another window owns it."""

    def __init__(self, message: str) -> None:
        super().__init__("cancelled", message)


def download_file(
    hub_file: HubFile,
    dest_dir: Path,
    *,
    client: HubClient,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    control: DownloadControl | None = None,
) -> Path:
    """Download one Hub file into ``dest_dir``, resuming and verifying it.

    While another download of the same file runs (another Fimble window,
    or another job), this one waits, reporting state ``elsewhere`` with the
    size of that download's part; then it finds the file done, or continues
    from the part that download left.

    Args:
        hub_file: The file, as listed by ``HubClient.repo`` (size and sha256 from the Hub).
        dest_dir: Folder for the file; created if missing.
        client: Gives the download address and the token.
        on_progress: Called on the downloading thread, at most about ten
            times a second, and once for each change of state.
        control: Lets another thread pause or cancel.

    Returns:
        The final path, ``dest_dir / <file name>``.

    Raises:
        DownloadPaused: Paused; the part file and sidecar are kept.
        DownloadCancelled: Cancelled; the part file and sidecar are deleted
            (unless another download of the file owned them).
        DownloadError: Anything else, with ``kind`` saying what.
    """
    return _Transfer(hub_file, Path(dest_dir), client, on_progress, control or DownloadControl()).run()


# -- internals ------------------------------------------------------------------------


class _Restart(Exception):
    """The server's answer means the part on disk is no good: start from byte 0."""


def _write(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a file descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _normalize_etag(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _percent(done: int, total: int) -> int:
    return int(done * 100 / total) if total else 100


class _Transfer:
    """One call of ``download_file``."""

    def __init__(self, hub_file: HubFile, dest_dir: Path, client: HubClient,
                 on_progress: Callable[[DownloadProgress], None] | None, control: DownloadControl) -> None:
        self.file = hub_file
        self.dest_dir = dest_dir
        self.client = client
        self.control = control
        self.name = hub_file.basename
        self.final = dest_dir / self.name
        self.part, self.sidecar = part_paths(dest_dir, self.name)
        self.speed = Speedometer(on_progress, hub_file.size)
        self.done = 0
        self.url = client.file_url(hub_file)

    # -- the steps ----------------------------------------------------------------

    def run(self) -> Path:
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        lock = PartLock(self.dest_dir, self.name)
        if not lock.try_acquire():
            self._wait_for(lock)
        try:
            return self._run_locked()
        finally:
            # Nothing left to guard once the part is gone (renamed, discarded or never made).
            lock.release(remove_file=not self.part.exists())

    def _wait_for(self, lock: PartLock) -> None:
        """Another window downloads this file: report its part's growth until the lock is ours."""
        while True:
            if self.control.cancelled:
                raise DownloadCancelled(f"the download of {self.name} was cancelled here; another Fimble "
                                        "window is still downloading it")
            if self.control.paused:
                raise DownloadPaused(f"the download of {self.name} is paused here; another Fimble window is "
                                     "still downloading it")
            if lock.try_acquire():
                self.speed.reset()
                return
            try:
                self.done = self.part.stat().st_size
            except OSError:
                self.done = 0
            self.speed.update(self.done, "elsewhere")
            time.sleep(WAIT_POLL_S)

    def _run_locked(self) -> Path:
        size = self.file.size
        if self.final.exists() and self.final.stat().st_size == size:
            self._drop_part_if_ours()
            self.speed.update(size, "done", force=True)
            return self.final
        self.done = self._resumable_bytes()
        self._check_space(size - self.done)
        self._check_control()
        if self.done == size and self.done > 0:  # finished earlier but never verified
            return self._finish(self._hash_part())
        if self.client.offline:
            raise DownloadError("offline", offline_message())
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        headers = {"User-Agent": f"fimble/{__version__}", "Accept-Encoding": "identity", **self.client.auth_headers()}
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as http:
            for _attempt in range(3):
                try:
                    return self._attempt(http)
                except _Restart:
                    self._discard()
                    self.done = 0
        raise DownloadError("changed", f"the Hub kept sending a different {self.name}; "
                                       "refresh the file list and try again")

    def _attempt(self, http) -> Path:
        headers = {"Range": f"bytes={self.done}-"} if self.done else {}
        try:
            with http.stream("GET", self.url, headers=headers) as response:
                hasher = self._accept(response)
                digest = self._receive(response, hasher)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise DownloadError("offline", offline_message(short_reason(exc))) from None
        except httpx.TransportError as exc:
            if self.part.exists():
                raise self._interrupted(exc) from None
            raise DownloadError("http", f"the Hugging Face Hub did not answer for {self.name}: "
                                        f"{short_reason(exc)}") from None
        return self._finish(digest)

    def _accept(self, response) -> Hasher | None:
        """Check the answer's status and headers, prepare the part file; return the hasher."""
        status = response.status_code
        if status in (401, 403):
            raise self._refused(response)
        if status == 404:
            raise DownloadError("changed", f"{self.file.filename} is no longer in {self.file.repo_id} "
                                           "on the Hub; refresh the file list")
        if status == 416 and self.done:
            raise _Restart()
        if status not in (200, 206):
            raise DownloadError("http", f"the Hugging Face Hub answered HTTP {status} for {self.name}")
        etag, linked = self._etag(response)
        total = self._total(response, status)
        if total is not None and total != self.file.size:
            self._discard()
            raise DownloadError("changed", f"{self.name} changed on the Hub since it was listed "
                                           f"({machine.human_bytes(total)} now); refresh the file list")
        if linked and self.file.sha256 and etag and _SHA256.match(etag) and etag != self.file.sha256:
            self._discard()
            raise DownloadError("changed", f"{self.name} changed on the Hub since it was listed; "
                                           "refresh the file list")
        if status == 206:
            start = self._range_start(response)
            old = read_sidecar(self.sidecar) or {}
            if start != self.done or (old.get("etag") and etag and old["etag"] != etag):
                raise _Restart()
        elif self.done:  # the server ignored the Range: take the whole body from here
            self.done = 0
            self.speed.reset()
        try:
            write_sidecar(self.sidecar, {
                "repo_id": self.file.repo_id, "filename": self.file.filename, "revision": self.file.revision,
                "size": self.file.size, "sha256": self.file.sha256, "etag": etag, "url": self.url,
            })
        except OSError as exc:
            if exc.errno in _DISK_FULL_ERRNOS:
                raise self._disk_filled() from None
            raise
        if self.file.sha256 is None:
            return None
        return Hasher(self.part if self.done else None, self.done)

    def _receive(self, response, hasher: Hasher | None) -> str | None:
        """Stream the body into the part file; return the sha256 (None when not checked).

        Every piece goes to the file as soon as it arrives, so a crash loses
        at most what the kernel still buffers.
        """
        fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            os.ftruncate(fd, self.done)
            os.lseek(fd, self.done, os.SEEK_SET)
            self.speed.update(self.done, force=True)
            for piece in response.iter_raw():
                try:
                    _write(fd, piece)
                except OSError as exc:
                    if exc.errno in _DISK_FULL_ERRNOS:
                        self.done = os.fstat(fd).st_size
                        raise self._disk_filled() from None
                    raise
                if hasher is not None:
                    hasher.feed(piece)
                self.done += len(piece)
                self.speed.update(self.done)
                if self.control.cancelled or self.control.paused:
                    break
        except BaseException:
            if hasher is not None:
                hasher.stop()
            raise
        finally:
            os.close(fd)
        if self.control.cancelled or (self.control.paused and self.done != self.file.size):
            if hasher is not None:
                hasher.stop()
            self._check_control()
        if self.done != self.file.size:
            if hasher is not None:
                hasher.stop()
            raise self._interrupted(None)
        self.speed.update(self.done, "verifying", force=True)
        return hasher.hexdigest() if hasher is not None else None

    def _finish(self, digest: str | None) -> Path:
        """Check the part (hashed already) and move it to its final name."""
        actual = self.part.stat().st_size
        if actual != self.file.size:
            self._discard()
            raise DownloadError("checksum", f"{self.name} came out {machine.human_bytes(actual)} instead of "
                                            f"{machine.human_bytes(self.file.size)} and was deleted; "
                                            "download it again")
        if self.file.sha256 is not None and digest != self.file.sha256:
            self._discard()
            raise DownloadError("checksum", f"{self.name} failed its sha256 check and was deleted; "
                                            "download it again")
        os.replace(self.part, self.final)
        self.sidecar.unlink(missing_ok=True)
        self.speed.update(self.file.size, "done", force=True)
        return self.final

    # -- helpers ----------------------------------------------------------------------

    def _resumable_bytes(self) -> int:
        """Bytes of a matching part file on disk; a part that isn't this file's is deleted."""
        meta = read_sidecar(self.sidecar) if self.sidecar.exists() else None
        if not self.part.exists():
            self.sidecar.unlink(missing_ok=True)
            return 0
        if meta is None or not self._same_file(meta):
            self._discard()
            return 0
        have = self.part.stat().st_size
        if have > self.file.size:
            self._discard()
            return 0
        return have

    def _same_file(self, meta: dict) -> bool:
        f = self.file
        same = (meta.get("repo_id") == f.repo_id and meta.get("filename") == f.filename
                and meta.get("size") == f.size and meta.get("sha256") == f.sha256)
        if f.sha256 is None:  # nothing else identifies the content
            same = same and meta.get("revision") == f.revision
        return same

    def _drop_part_if_ours(self) -> None:
        meta = read_sidecar(self.sidecar) if self.sidecar.exists() else None
        if meta is not None and self._same_file(meta):
            self._discard()

    def _check_space(self, remaining: int) -> None:
        if remaining <= 0:
            return
        free = machine.disk_free(self.dest_dir)
        needed = remaining + DISK_MARGIN
        if free >= needed:
            return
        have, room = machine.human_bytes(needed), machine.human_bytes(free)
        if not self.done:
            message = f"not enough disk space for {self.name}: needs {have}, {room} free in {self.dest_dir}"
        else:
            message = (f"not enough disk space to finish {self.name}: needs {have} more, {room} free in "
                       f"{self.dest_dir}; the {_percent(self.done, self.file.size)}% downloaded so far is kept "
                       "— free some space and resume to continue")
        raise DiskFullError(message, filename=self.name, needed=needed, free=free, kept=self.done,
                            folder=self.dest_dir)

    def _check_control(self) -> None:
        if self.control.cancelled:
            self._discard()
            raise DownloadCancelled(f"the download of {self.name} was cancelled")
        if self.control.paused:
            raise DownloadPaused(f"the download of {self.name} is paused at "
                                 f"{_percent(self.done, self.file.size)}%")

    def _hash_part(self) -> str | None:
        if self.file.sha256 is None:
            return None
        self.speed.update(self.done, "verifying", force=True)
        return Hasher(self.part, self.done).hexdigest()

    def _discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)

    def _interrupted(self, exc: BaseException | None) -> DownloadError:
        if self.part.exists():
            self.done = self.part.stat().st_size
        reason = "stalled" if isinstance(exc, httpx.TimeoutException) else "was interrupted"
        return DownloadError("http", f"the download of {self.name} {reason} at "
                                     f"{_percent(self.done, self.file.size)}%; it will resume from there")

    def _disk_filled(self) -> DiskFullError:
        free = machine.disk_free(self.dest_dir)
        needed = self.file.size - self.done + DISK_MARGIN
        return DiskFullError(
            f"the disk is full: {self.name} needs {machine.human_bytes(needed)} more, "
            f"{machine.human_bytes(free)} free in {self.dest_dir}; the {_percent(self.done, self.file.size)}% "
            "downloaded so far is kept — free some space and resume to continue",
            filename=self.name, needed=needed, free=free, kept=self.done, folder=self.dest_dir)

    def _refused(self, response) -> DownloadError:
        repo = self.file.repo_id
        gated = response.headers.get("X-Error-Code") == "GatedRepo"
        if not self.client.token:
            kind = "gated" if gated else "auth"
            if gated:
                return DownloadError(kind, gated_message(repo, self.client.web_base))
            return DownloadError(kind, f"{repo} needs a Hugging Face token; add one in Fimble")
        if gated:
            return DownloadError("auth", gated_message(repo, self.client.web_base, token_refused=True))
        return DownloadError("auth", f"the Hugging Face Hub refused the token for {repo} "
                                     f"(HTTP {response.status_code}); check the token saved in Fimble")

    @staticmethod
    def _etag(response) -> tuple[str | None, bool]:
        """The file's ETag and whether it came from the Hub itself (not a CDN)."""
        for hop in [*response.history, response]:
            linked = hop.headers.get("X-Linked-Etag")
            if linked:
                return _normalize_etag(linked), True
        return _normalize_etag(response.headers.get("ETag")), not response.history

    @staticmethod
    def _total(response, status: int) -> int | None:
        if status == 206:
            content_range = response.headers.get("Content-Range", "")
            tail = content_range.rsplit("/", 1)[-1]
            return int(tail) if tail.isdigit() else None
        length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    @staticmethod
    def _range_start(response) -> int:
        match = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
        return int(match[1]) if match else -1
