"""Landing a cancel inside a prompt's evaluation, whatever this machine's speed and load.

How long a batch takes depends on the machine, so a test that must cancel
between batches retries with an adapted wait: shorter when the prompt was
already done ("late"), longer when no batch had finished yet ("early").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

LATE, EARLY, INSIDE = "late", "early", "inside"
_T = TypeVar("_T")


def land_inside(attempt: Callable[[int, float], tuple[str, _T]], delay_s: float, tries: int = 12) -> _T:
    """Call ``attempt(number, delay_s)`` until it reports INSIDE; return what that attempt gave.

    Fails the test with the list of outcomes when no attempt landed inside.
    """
    outcomes: list[str] = []
    for number in range(tries):
        outcome, result = attempt(number, delay_s)
        if outcome == INSIDE:
            return result
        outcomes.append(outcome)
        delay_s = delay_s / 2 if outcome == LATE else delay_s * 2
    pytest.fail(f"no cancel landed inside a prompt's evaluation: {outcomes}")
