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
only what the kernel still buffered. A dropped connection, a stalled read or
an HTTP 5xx/408/429 is retried with growing waits, each try continuing from
the part (``retry``); a pause or cancel ends the waiting at once.

``NAME.part.lock`` (``download_lock``) lets one Fimble window at a time write
the part; another window's download of the same file waits, reporting the
part's growth, and carries on from it.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx  # the HTTP client huggingface_hub 2.x ships with

from app import __version__
from app.core import machine
from app.core.errors import ErrorKind
from app.core.hub import retry as retries
from app.core.hub.client import HubClient, HubFile, offline_message, short_reason
from app.core.hub.download_errors import (
    DISK_HEADROOM_BYTES,
    DiskFullError,
    DownloadCancelled,
    DownloadError,
    DownloadPaused,
    disk_full_error,
    percent,
)
from app.core.hub.download_http import lost_note, range_start, refused_error, response_etag, response_total
from app.core.hub.download_lock import PartLock
from app.core.hub.download_parts import (
    PartialDownload,
    discard_partial,
    part_paths,
    partial_downloads,
    read_sidecar,
    same_file,
    write_sidecar,
)
from app.core.hub.download_stream import DownloadControl, DownloadProgress, Hasher, Speedometer
from app.core.hub.retry import Retrier, RetryPolicy, Transient, retry_after_seconds, retryable_status

CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 30.0
# How often a download waiting for another window looks at the part and the lock.
WAIT_POLL_S = 0.2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DISK_FULL_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))

__all__ = [
    "DISK_HEADROOM_BYTES",
    "DownloadProgress",
    "PartialDownload",
    "DownloadError",
    "DiskFullError",
    "DownloadPaused",
    "DownloadCancelled",
    "DownloadControl",
    "RetryPolicy",
    "download_file",
    "partial_downloads",
    "discard_partial",
    "part_paths",
]


def download_file(
    hub_file: HubFile,
    dest_dir: Path,
    *,
    client: HubClient,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    control: DownloadControl | None = None,
    retry: RetryPolicy | None = None,
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
        retry: How network trouble is ridden out; ``retry.DEFAULT_RETRY``
            (read when called) unless given; ``retry.NO_RETRY`` stops at the first drop.

    Returns:
        The final path, ``dest_dir / <file name>``.

    Raises:
        DownloadPaused: Paused; the part file and sidecar are kept.
        DownloadCancelled: Cancelled; the part file and sidecar are deleted
            (unless another download of the file owned them).
        DownloadError: Anything else, with ``kind`` saying what.
    """
    policy = retry or retries.DEFAULT_RETRY  # read now: tests and callers may change the default
    return _Transfer(hub_file, Path(dest_dir), client, on_progress, control or DownloadControl(), policy).run()


# -- internals ------------------------------------------------------------------------


class _Restart(Exception):
    """The server's answer means the part on disk is no good: start from byte 0."""


def _write(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a file descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Transfer:
    """One call of ``download_file``."""

    def __init__(
        self,
        hub_file: HubFile,
        dest_dir: Path,
        client: HubClient,
        on_progress: Callable[[DownloadProgress], None] | None,
        control: DownloadControl,
        retry: RetryPolicy,
    ) -> None:
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
        self.retry = retry
        self.reached = False  # the server answered once in this call: a refused connection is a blip

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
                raise DownloadCancelled(
                    f"the download of {self.name} was cancelled here; another Fimble window is still downloading it"
                )
            if self.control.paused:
                raise DownloadPaused(
                    f"the download of {self.name} is paused here; another Fimble window is still downloading it"
                )
            if lock.try_acquire():
                self.speed.reset()
                return
            try:
                self.done = self.part.stat().st_size
            except OSError:  # not made yet, or just renamed to its final name: keep the last size
                pass
            self.speed.update(self.done, "elsewhere")
            time.sleep(WAIT_POLL_S)

    def _run_locked(self) -> Path:
        size = self.file.size
        if self.final.exists() and self.final.stat().st_size == size:
            self._drop_part_if_ours()
            self.speed.update(size, "done", force=True)
            return self.final
        self.done = self._resumable_bytes()
        self._check_space()
        self._check_control()
        if self.done == size and self.done > 0:  # finished earlier but never verified
            return self._finish(self._hash_part())
        if self.client.offline:
            raise DownloadError(ErrorKind.OFFLINE, offline_message())
        timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        headers = {"User-Agent": f"fimble/{__version__}", "Accept-Encoding": "identity", **self.client.auth_headers()}
        with httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as http:
            retrier = Retrier(self.retry, self.control, self._on_disk, self._retrying)
            return retrier.run(lambda: self._restarts(http))

    def _restarts(self, http: httpx.Client) -> Path:
        """One try; a part the server says is no good is dropped and fetched again from byte 0."""
        for _restart in range(3):
            self._check_control()  # a pause or cancel during the wait before this try
            try:
                return self._attempt(http)
            except _Restart:
                self._discard()
                self.done = 0
        raise DownloadError(
            ErrorKind.CHANGED, f"the Hub kept sending a different {self.name}; refresh the file list and try again"
        )

    def _attempt(self, http: httpx.Client) -> Path:
        headers = {"Range": f"bytes={self.done}-"} if self.done else {}
        try:
            with http.stream("GET", self.url, headers=headers) as response:
                self.reached = True
                hasher = self._accept(response)
                digest = self._receive(response, hasher)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            error = DownloadError(ErrorKind.OFFLINE, offline_message(short_reason(exc)))
            if not self.reached:  # not once in this call: offline, say so at once
                raise error from None
            raise Transient(error, "the connection was lost") from None
        except httpx.TransportError as exc:
            if self.part.exists():
                raise Transient(self._interrupted(exc), lost_note(exc)) from None
            raise Transient(
                DownloadError(
                    ErrorKind.HTTP, f"the Hugging Face Hub did not answer for {self.name}: {short_reason(exc)}"
                ),
                lost_note(exc),
            ) from None
        return self._finish(digest)

    def _accept(self, response: httpx.Response) -> Hasher | None:
        """Check the answer's status and headers, prepare the part file; return the hasher."""
        status = response.status_code
        if status in (401, 403):
            raise refused_error(response, self.file.repo_id, self.client)
        if status == 404:
            raise DownloadError(
                ErrorKind.CHANGED,
                f"{self.file.filename} is no longer in {self.file.repo_id} on the Hub; refresh the file list",
            )
        if status == 416 and self.done:
            raise _Restart()
        if status not in (200, 206):
            error = DownloadError(ErrorKind.HTTP, f"the Hugging Face Hub answered HTTP {status} for {self.name}")
            if retryable_status(status):
                raise Transient(
                    error, f"the Hub answered HTTP {status}", retry_after_seconds(response.headers.get("Retry-After"))
                )
            raise error
        etag, linked = response_etag(response)
        total = response_total(response)
        if total is not None and total != self.file.size:
            self._discard()
            raise DownloadError(
                ErrorKind.CHANGED,
                f"{self.name} changed on the Hub since it was listed "
                f"({machine.human_bytes(total)} now); refresh the file list",
            )
        if linked and self.file.sha256 and etag and _SHA256.match(etag) and etag != self.file.sha256:
            self._discard()
            raise DownloadError(
                ErrorKind.CHANGED, f"{self.name} changed on the Hub since it was listed; refresh the file list"
            )
        if status == 206:
            start = range_start(response)
            old = read_sidecar(self.sidecar) or {}
            if start != self.done or (old.get("etag") and etag and old["etag"] != etag):
                raise _Restart()
        elif self.done:  # the server ignored the Range: take the whole body from here
            self.done = 0
            self.speed.reset()
        try:
            write_sidecar(
                self.sidecar,
                {
                    "repo_id": self.file.repo_id,
                    "filename": self.file.filename,
                    "revision": self.file.revision,
                    "size": self.file.size,
                    "sha256": self.file.sha256,
                    "etag": etag,
                    "url": self.url,
                },
            )
        except OSError as exc:
            if exc.errno in _DISK_FULL_ERRNOS:
                raise self._disk_filled() from None
            raise
        if self.file.sha256 is None:
            return None
        return Hasher(self.part if self.done else None, self.done)

    def _receive(self, response: httpx.Response, hasher: Hasher | None) -> str | None:
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
            raise Transient(self._interrupted(None), "the connection was lost")
        self.speed.update(self.done, "verifying", force=True)
        return hasher.hexdigest() if hasher is not None else None

    def _finish(self, digest: str | None) -> Path:
        """Check the part (hashed already) and move it to its final name."""
        actual = self.part.stat().st_size
        if actual != self.file.size:
            self._discard()
            raise DownloadError(
                ErrorKind.CHECKSUM,
                f"{self.name} came out {machine.human_bytes(actual)} instead of "
                f"{machine.human_bytes(self.file.size)} and was deleted; "
                "download it again",
            )
        if self.file.sha256 is not None and digest != self.file.sha256:
            self._discard()
            raise DownloadError(
                ErrorKind.CHECKSUM, f"{self.name} failed its sha256 check and was deleted; download it again"
            )
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
        if meta is None or not same_file(meta, self.file):
            self._discard()
            return 0
        have = self.part.stat().st_size
        if have > self.file.size:
            self._discard()
            return 0
        return have

    def _drop_part_if_ours(self) -> None:
        meta = read_sidecar(self.sidecar) if self.sidecar.exists() else None
        if meta is not None and same_file(meta, self.file):
            self._discard()

    def _check_space(self) -> None:
        error = disk_full_error(self.name, self.dest_dir, self.file.size, self.done)
        if self.done < self.file.size and error.free < error.needed:
            raise error

    def _check_control(self) -> None:
        if self.control.cancelled:
            self._discard()
            raise DownloadCancelled(f"the download of {self.name} was cancelled")
        if self.control.paused:
            raise DownloadPaused(f"the download of {self.name} is paused at {percent(self.done, self.file.size)}%")

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
        return DownloadError(
            ErrorKind.HTTP,
            f"the download of {self.name} {reason} at {percent(self.done, self.file.size)}%; it will resume from there",
        )

    def _on_disk(self) -> int:
        return self.done

    def _retrying(self, note: str, next_try: int, attempts: int, wait_s: float) -> None:
        self.speed.update(
            self.done,
            "retrying",
            force=True,
            note=f"{note}, retrying ({next_try}/{attempts})…",
            attempt=next_try,
            attempts=attempts,
        )

    def _disk_filled(self) -> DiskFullError:
        return disk_full_error(self.name, self.dest_dir, self.file.size, self.done, filled=True)
