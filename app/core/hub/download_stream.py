"""The moving parts of one transfer: its controls, the sha256 thread and the progress meter."""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

READ_BLOCK = 8 * 1024 * 1024
PROGRESS_INTERVAL_S = 0.1
SPEED_WINDOW_S = 3.0
# Pieces waiting to be hashed before the writer waits for the hasher.
HASH_QUEUE_PIECES = 512


@dataclass
class DownloadProgress:
    """Where a download stands.

    ``state`` is ``downloading``, ``verifying``, ``done``, ``elsewhere``
    while another Fimble window downloads the same file (``done`` is then
    the size of its part file), or ``retrying`` while it waits to try again
    after network trouble: ``attempt`` of ``attempts`` is the try to come,
    and ``note`` says so in words ("the connection was lost, retrying (2/5)…").
    """

    done: int
    total: int
    speed_bps: float
    eta_s: float | None
    state: str
    note: str = ""
    attempt: int = 0
    attempts: int = 0


class DownloadControl:
    """Pause or cancel a running download from any thread.

    The download checks after each piece it writes; use a new control for each attempt.
    """

    def __init__(self) -> None:
        self._paused = threading.Event()
        self._cancelled = threading.Event()
        self._stop = threading.Event()  # either of them

    def pause(self) -> None:
        """Stop soon and keep what was downloaded."""
        self._paused.set()
        self._stop.set()

    def cancel(self) -> None:
        """Stop soon and delete what was downloaded."""
        self._cancelled.set()
        self._stop.set()

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking at once on ``pause`` or ``cancel``."""
        self._stop.wait(seconds)

    @property
    def paused(self) -> bool:
        """Whether ``pause`` was called."""
        return self._paused.is_set()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called."""
        return self._cancelled.is_set()


class Hasher:
    """sha256 on its own thread: first a prefix already on disk, then queued pieces."""

    def __init__(self, prefix: Path | None, prefix_len: int) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=HASH_QUEUE_PIECES)
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
                        block = handle.read(min(READ_BLOCK, left))
                        if not block:
                            raise OSError(f"{prefix.name} is shorter than expected")
                        self._digest.update(block)
                        left -= len(block)
        except BaseException as exc:  # noqa: BLE001 - reported by hexdigest()
            self._error = exc
        while (piece := self._queue.get()) is not None:
            if self._error is None:
                self._digest.update(piece)

    def feed(self, piece: bytes) -> None:
        """Queue bytes that follow the ones already hashed."""
        self._queue.put(piece)

    def hexdigest(self) -> str:
        """Wait for every queued piece and return the digest."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def stop(self) -> None:
        """End the thread without waiting for a result."""
        self._queue.put(None)


class Speedometer:
    """Progress callbacks, throttled, with a moving-window speed and an ETA."""

    def __init__(self, callback: Callable[[DownloadProgress], None] | None, total: int) -> None:
        self._callback = callback
        self._total = total
        self._samples: deque[tuple[float, int]] = deque()
        self._last = 0.0
        self._state = ""

    def update(
        self,
        done: int,
        state: str = "downloading",
        force: bool = False,
        *,
        note: str = "",
        attempt: int = 0,
        attempts: int = 0,
    ) -> None:
        """Report ``done`` bytes; at most every ``PROGRESS_INTERVAL_S`` unless forced or the state changed.

        ``note``, ``attempt`` and ``attempts`` go into the report as they are (see ``DownloadProgress``).
        """
        if self._callback is None:
            return
        now = time.monotonic()
        if not force and state == self._state and now - self._last < PROGRESS_INTERVAL_S:
            return
        if state != self._state:
            self._samples.clear()
        self._last, self._state = now, state
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        first_t, first_done = self._samples[0]
        speed = (done - first_done) / (now - first_t) if now > first_t else 0.0
        eta = (self._total - done) / speed if speed > 0 and state in ("downloading", "elsewhere") else None
        if state == "done":
            eta = 0.0
        self._callback(DownloadProgress(done, self._total, max(speed, 0.0), eta, state, note, attempt, attempts))

    def reset(self) -> None:
        """Forget the speed samples (the byte count jumped)."""
        self._samples.clear()
