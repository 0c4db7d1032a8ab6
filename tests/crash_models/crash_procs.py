"""Process-tree helpers for crash tests, read from Linux's ``/proc``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # the name in parentheses may hold spaces


def running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate`` until it is true; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def all_gone(pids) -> bool:
    """Whether none of ``pids`` runs any more."""
    return not any(running(pid) for pid in pids)
