"""Pausing one generation job between tokens, inside the engine host.

The host's pipe reader marks job ids as held or released; the token loop on
the main thread asks the gate, at each token boundary, to wait while its job
is held. A cancel wakes the wait at once (whoever sets the cancel event calls
``wake``), so a held job can still be cancelled within one token.
"""

from __future__ import annotations

import threading
import time

# Held ids of jobs that have not started yet are kept up to this many (the
# oldest dropped first): a hold for a job that never comes must not pile up.
MAX_PENDING_HOLDS = 64
# How often a held job looks at the cancel event even if nobody wakes it.
WAKE_CHECK_S = 0.25


class HoldGate:
    """The set of held job ids and the wait for the running one; thread-safe."""

    def __init__(self, cancel: threading.Event) -> None:
        self._cancel = cancel
        self._changed = threading.Condition()
        self._held: dict[int, None] = {}  # insertion-ordered: the oldest hold first
        self._current: int | None = None

    def set(self, job_id: int, on: bool) -> None:
        """Hold (``on``) or release job ``job_id``, running or not yet started."""
        with self._changed:
            self._held.pop(job_id, None)
            if on:
                self._held[job_id] = None
                excess = len(self._held) - MAX_PENDING_HOLDS
                for stale in [held for held in self._held if held != self._current][: max(excess, 0)]:
                    del self._held[stale]
            self._changed.notify_all()

    def start(self, job_id: int | None) -> None:
        """Job ``job_id`` (None: a command that is no job) runs now; a hold sent before applies."""
        with self._changed:
            self._current = job_id

    def finish(self) -> None:
        """The running job ended: forget it and any hold on it."""
        with self._changed:
            if self._current is not None:
                self._held.pop(self._current, None)
            self._current = None

    def wake(self) -> None:
        """Make a waiting job look again (call after setting the cancel event)."""
        with self._changed:
            self._changed.notify_all()

    def is_held(self, job_id: int) -> bool:
        """Say whether ``job_id`` is held now."""
        with self._changed:
            return job_id in self._held

    def pause(self) -> float:
        """Wait while the running job is held and not cancelled; return the seconds waited."""
        with self._changed:
            if not self._held_now():
                return 0.0
            started = time.perf_counter()
            while self._held_now():
                # woken by a release or a cancel; the timeout only guards a cancel set without ``wake``
                self._changed.wait(WAKE_CHECK_S)
            return time.perf_counter() - started

    def _held_now(self) -> bool:
        return self._current is not None and self._current in self._held and not self._cancel.is_set()
