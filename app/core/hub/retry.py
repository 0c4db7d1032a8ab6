"""Riding out network trouble during a download: what is worth another try, and how long to wait.

A connection that drops in the middle of the body, a read that stalls, an
HTTP 5xx, 408 or 429 is ``Transient``: the download waits (1 s, 2 s, 4 s, ...
up to ``max_wait_s``, or what a ``Retry-After`` asks, within the same bound)
and tries again, continuing from its ``.part`` with a ``Range`` request.
``attempts`` tries in a row that bring no new byte end it; a try that brings
bytes starts the count again, so a long download over a flaky line keeps
going. ``total_wait_s`` bounds the waiting in one call. A pause or a cancel
ends the wait at once.

Anything else (a refused token, a file that is gone, a full disk) is not
retried. The loop is ``tenacity``'s; this module only says what to retry and
for how long.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import tenacity

from app.core.errors import UserFacingError

T = TypeVar("T")
# HTTP answers that say "not now" rather than "no".
RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a download tries before it gives up.

    Attributes:
        attempts: Tries in a row without a new byte before giving up (1: no retry).
        first_wait_s: The wait after the first failure; each further one doubles it.
        max_wait_s: The longest single wait (a server's ``Retry-After`` included).
        total_wait_s: The most time one download spends waiting, all waits together.
    """

    attempts: int = 5
    first_wait_s: float = 1.0
    max_wait_s: float = 30.0
    total_wait_s: float = 120.0


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


class Transient(Exception):
    """A failure worth another try; ``error`` is raised when the tries run out.

    Args:
        error: The one-line error for the user.
        note: What happened, for the progress report ("connection lost").
        retry_after_s: How long the server asked the client to wait, if it did.
    """

    def __init__(self, error: UserFacingError, note: str, retry_after_s: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.note = note
        self.retry_after_s = retry_after_s


class Waiter(Protocol):
    """Something that sleeps, waking early when the user pauses or cancels."""

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; return early on pause or cancel."""


def retryable_status(status: int) -> bool:
    """Whether an HTTP status means "try again later" (5xx, 408, 429)."""
    return status >= 500 or status in RETRY_STATUSES


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (a number or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Retrier:
    """Runs one download's tries under a ``RetryPolicy``.

    Args:
        policy: How many tries and how long to wait.
        waiter: Sleeps between tries; a pause or cancel wakes it.
        progress: Bytes on disk now; a try that raised it resets the count of tries.
        on_retry: Told ``(note, next_try, attempts, wait_s)`` before each wait.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        waiter: Waiter,
        progress: Callable[[], int],
        on_retry: Callable[[str, int, int, float], None],
    ) -> None:
        self.policy = policy
        self._waiter = waiter
        self._progress = progress
        self._on_retry = on_retry
        self.failures = 0  # tries in a row that brought nothing new
        self._last: Transient | None = None

    def run(self, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it returns or fails for good.

        Raises:
            UserFacingError: The last transient failure's error, once the tries ran out.
            Exception: Whatever ``attempt`` raised that is not ``Transient``, at once.
        """
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Transient),
            stop=self._stop,
            wait=self._wait,
            sleep=self._waiter.wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            result: T = retrying(self._counted, attempt)
            return result
        except Transient as exc:
            raise exc.error from None

    def _counted(self, attempt: Callable[[], T]) -> T:
        before = self._progress()
        try:
            return attempt()
        except Transient as exc:
            self.failures = 1 if self._progress() > before else self.failures + 1
            self._last = exc
            raise

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        return self.failures >= self.policy.attempts or state.idle_for >= self.policy.total_wait_s

    def _wait(self, state: tenacity.RetryCallState) -> float:
        policy = self.policy
        wait = min(policy.max_wait_s, policy.first_wait_s * 2.0 ** max(0, self.failures - 1))
        asked = self._last.retry_after_s if self._last is not None else None
        if asked is not None:
            wait = max(wait, min(asked, policy.max_wait_s))
        return max(0.0, min(wait, policy.total_wait_s - state.idle_for))

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        note = self._last.note if self._last is not None else "connection lost"
        wait = state.upcoming_sleep
        self._on_retry(note, self.failures + 1, self.policy.attempts, wait)
