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
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from app import __version__
from app.core import machine
from app.core.errors import UserFacingError
from app.core.hub import HubClient, HubFile, gated_message, offline_message, short_reason

try:
    import httpx2 as httpx  # what huggingface_hub 2.x ships with
except ImportError:  # pragma: no cover - older stacks
    import httpx  # type: ignore[no-redef]

CHUNK_SIZE = 1024 * 1024
# Kept free beyond the file itself, for the sidecar and the rest of the system.
DISK_MARGIN = 32 * 1024 * 1024
PROGRESS_INTERVAL_S = 0.1
FLUSH_INTERVAL_S = 0.05
SPEED_WINDOW_S = 3.0
CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 30.0
PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"
_HASH_QUEUE_CHUNKS = 64
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class DownloadProgress:
    """Where a download stands; ``state`` is ``downloading``, ``verifying`` or ``done``."""

    done: int
    total: int
    speed_bps: float
    eta_s: float | None
    state: str


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

    def hub_file(self) -> HubFile:
        """The ``HubFile`` to pass to ``download_file`` to continue it."""
        from app.core import quant_types

        return HubFile(self.repo_id, self.filename, self.size, self.sha256,
                       quant_types.from_filename(self.filename), self.revision)


class DownloadError(UserFacingError):
    """A download that stopped, with a one-line message.

    Attributes:
        kind: ``disk_full``, ``checksum``, ``cancelled``, ``paused``,
            ``gated``, ``auth``, ``offline``, ``http`` or ``changed`` (the
            file on the Hub is not the one that was listed).
    """


class DownloadPaused(DownloadError):
    """Raised when ``DownloadControl.pause`` stopped a download; the part file is kept."""

    def __init__(self, message: str) -> None:
        super().__init__("paused", message)


class DownloadCancelled(DownloadError):
    """Raised when ``DownloadControl.cancel`` stopped a download; the part file is gone."""

    def __init__(self, message: str) -> None:
        super().__init__("cancelled", message)


class DownloadControl:
    """Pause or cancel a running download from any thread.

    The download checks between chunks; use a new control for each attempt.
    """

    def __init__(self) -> None:
        self._paused = threading.Event()
        self._cancelled = threading.Event()

    def pause(self) -> None:
        """Stop soon and keep what was downloaded."""
        self._paused.set()

    def cancel(self) -> None:
        """Stop soon and delete what was downloaded."""
        self._cancelled.set()

    @property
    def paused(self) -> bool:
        """Whether ``pause`` was called."""
        return self._paused.is_set()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called."""
        return self._cancelled.is_set()


def part_paths(dest_dir: Path, basename: str) -> tuple[Path, Path]:
    """The ``.part`` file and its sidecar for a file name in a folder."""
    return dest_dir / (basename + PART_SUFFIX), dest_dir / (basename + SIDECAR_SUFFIX)


def download_file(
    hub_file: HubFile,
    dest_dir: Path,
    *,
    client: HubClient,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    control: DownloadControl | None = None,
) -> Path:
    """Download one Hub file into ``dest_dir``, resuming and verifying it.

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
        DownloadCancelled: Cancelled; the part file and sidecar are deleted.
        DownloadError: Anything else, with ``kind`` saying what.
    """
    return _Transfer(hub_file, Path(dest_dir), client, on_progress, control or DownloadControl()).run()


def partial_downloads(dest_dir: Path) -> list[PartialDownload]:
    """Unfinished downloads in a folder, read from their sidecars, by file name."""
    found = []
    folder = Path(dest_dir)
    if not folder.is_dir():
        return found
    for sidecar in sorted(folder.glob("*" + SIDECAR_SUFFIX)):
        meta = _read_sidecar(sidecar)
        part = sidecar.with_name(sidecar.name[: -len(SIDECAR_SUFFIX)] + PART_SUFFIX)
        if meta is None or not part.exists():
            continue
        found.append(PartialDownload(meta["repo_id"], meta["filename"], part.stat().st_size, int(meta["size"]),
                                     part, meta.get("revision", "main"), meta.get("sha256")))
    return found


def discard_partial(partial: PartialDownload | Path) -> None:
    """Delete an unfinished download's part file and sidecar."""
    part = partial.path if isinstance(partial, PartialDownload) else Path(partial)
    if part.name.endswith(SIDECAR_SUFFIX):
        part = part.with_name(part.name[: -len(SIDECAR_SUFFIX)] + PART_SUFFIX)
    part.unlink(missing_ok=True)
    part.with_name(part.name + ".json").unlink(missing_ok=True)


# -- internals ------------------------------------------------------------------------


class _Restart(Exception):
    """The server's answer means the part on disk is no good: start from byte 0."""


def _write(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a file descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_sidecar(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not all(k in meta for k in ("repo_id", "filename", "size")):
        return None
    return meta


def _write_sidecar(path: Path, meta: dict) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(temp, path)


def _normalize_etag(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def _percent(done: int, total: int) -> int:
    return int(done * 100 / total) if total else 100


class _Hasher:
    """sha256 on its own thread: first a prefix already on disk, then queued chunks."""

    def __init__(self, prefix: Path | None, prefix_len: int) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_HASH_QUEUE_CHUNKS)
        self._digest = hashlib.sha256()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(prefix, prefix_len), name="sha256", daemon=True)
        self._thread.start()

    def _run(self, prefix: Path | None, prefix_len: int) -> None:
        try:
            if prefix is not None and prefix_len:
                with open(prefix, "rb") as handle:
                    left = prefix_len
                    while left > 0:
                        block = handle.read(min(8 * CHUNK_SIZE, left))
                        if not block:
                            raise OSError(f"{prefix.name} is shorter than expected")
                        self._digest.update(block)
                        left -= len(block)
        except BaseException as exc:  # noqa: BLE001 - reported by hexdigest()
            self._error = exc
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                self._digest.update(chunk)

    def feed(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        """Wait for every queued chunk and return the digest."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def stop(self) -> None:
        """End the thread without waiting for a result."""
        self._queue.put(None)


class _Speed:
    """Progress callbacks, throttled, with a moving-window speed and an ETA."""

    def __init__(self, callback: Callable[[DownloadProgress], None] | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._samples: deque[tuple[float, int]] = deque()
        self._last = 0.0

    def update(self, done: int, state: str = "downloading", force: bool = False) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        first_t, first_done = self._samples[0]
        speed = (done - first_done) / (now - first_t) if now > first_t else 0.0
        eta = (self._total - done) / speed if speed > 0 and state == "downloading" else None
        if state == "done":
            eta = 0.0
        self._callback(DownloadProgress(done, self._total, max(speed, 0.0), eta, state))

    def reset(self) -> None:
        self._samples.clear()


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
        self.speed = _Speed(on_progress, hub_file.size)
        self.done = 0
        self.url = client.file_url(hub_file)

    # -- the steps ----------------------------------------------------------------

    def run(self) -> Path:
        size = self.file.size
        if self.final.exists() and self.final.stat().st_size == size:
            self._drop_part_if_ours()
            self.speed.update(size, "done", force=True)
            return self.final
        self.dest_dir.mkdir(parents=True, exist_ok=True)
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

    def _accept(self, response) -> _Hasher | None:
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
            old = _read_sidecar(self.sidecar) or {}
            if start != self.done or (old.get("etag") and etag and old["etag"] != etag):
                raise _Restart()
        elif self.done:  # the server ignored the Range: take the whole body from here
            self.done = 0
            self.speed.reset()
        _write_sidecar(self.sidecar, {
            "repo_id": self.file.repo_id, "filename": self.file.filename, "revision": self.file.revision,
            "size": self.file.size, "sha256": self.file.sha256, "etag": etag, "url": self.url,
        })
        if self.file.sha256 is None:
            return None
        return _Hasher(self.part if self.done else None, self.done)

    def _receive(self, response, hasher: _Hasher | None) -> str | None:
        """Stream the body into the part file; return the sha256 (None when not checked)."""
        fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            os.ftruncate(fd, self.done)
            os.lseek(fd, self.done, os.SEEK_SET)
            self.speed.update(self.done, force=True)
            for chunk in _chunks(response):
                try:
                    _write(fd, chunk)
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                        self.done = os.fstat(fd).st_size
                        raise self._disk_filled() from None
                    raise
                if hasher is not None:
                    hasher.feed(chunk)
                self.done += len(chunk)
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
        meta = _read_sidecar(self.sidecar) if self.sidecar.exists() else None
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
        meta = _read_sidecar(self.sidecar) if self.sidecar.exists() else None
        if meta is not None and self._same_file(meta):
            self._discard()

    def _check_space(self, remaining: int) -> None:
        if remaining <= 0:
            return
        free = machine.disk_free(self.dest_dir)
        needed = remaining + DISK_MARGIN
        if free < needed:
            raise DownloadError("disk_full", f"not enough disk space for {self.name}: needs "
                                             f"{machine.human_bytes(needed)}, {machine.human_bytes(free)} "
                                             f"free in {self.dest_dir}")

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
        return _Hasher(self.part, self.done).hexdigest()

    def _discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)

    def _interrupted(self, exc: BaseException | None) -> DownloadError:
        if self.part.exists():
            self.done = self.part.stat().st_size
        reason = "stalled" if isinstance(exc, httpx.TimeoutException) else "was interrupted"
        return DownloadError("http", f"the download of {self.name} {reason} at "
                                     f"{_percent(self.done, self.file.size)}%; it will resume from there")

    def _disk_filled(self) -> DownloadError:
        free = machine.human_bytes(machine.disk_free(self.dest_dir))
        return DownloadError("disk_full", f"the disk filled up while downloading {self.name} ({free} free in "
                                          f"{self.dest_dir}); free some space and it will resume from "
                                          f"{_percent(self.done, self.file.size)}%")

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


def _chunks(response) -> Iterator[bytes]:
    """The response body in pieces of about ``CHUNK_SIZE``, or less on a slow link.

    A piece is handed over once ``CHUNK_SIZE`` bytes have arrived or
    ``FLUSH_INTERVAL_S`` has passed, so progress and pause stay responsive.
    When the connection fails, the bytes received so far come out first, so
    a resume never fetches them again.
    """
    pending: list[bytes] = []
    size = 0
    last = time.monotonic()
    try:
        for piece in response.iter_raw():
            pending.append(piece)
            size += len(piece)
            if size >= CHUNK_SIZE or time.monotonic() - last >= FLUSH_INTERVAL_S:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending, size, last = [], 0, time.monotonic()
    except httpx.TransportError:
        if pending:
            yield b"".join(pending)
        raise
    if pending:
        yield b"".join(pending)
