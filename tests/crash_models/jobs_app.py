"""Crash tests' app process: real job code in a process of its own, which a test can ``kill -9``.

``crash_app(mode, *args)`` starts ``jobs_driver.py`` with the worktree's root
on ``PYTHONPATH``, so it and its spawned children import this checkout's
``app``. Process trees are read from ``/proc``, so these tests run on Linux.
Test modules import the fixture and the helpers from here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "jobs_driver.py"


class AppProcess:
    """One driver process: its status file, its children, and a way to kill it."""

    def __init__(self, status_path: Path, mode: str, args: list[str], log_path: Path) -> None:
        self.status_path = status_path
        self.log_path = log_path
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, str(DRIVER), str(status_path), mode, *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.popen.pid
        self.seen_children: set[int] = set()

    def status(self) -> dict:
        """The driver's last written status (empty before the first)."""
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def job(self) -> dict:
        """The driver's only job, or an empty dict before it is queued."""
        jobs = self.status().get("jobs", {})
        return next(iter(jobs.values()), {})

    def wait_until(self, predicate, timeout: float, what: str) -> None:
        """Poll ``predicate`` (given the status); fail early if the driver died."""

        def check() -> bool:
            if self.popen.poll() is not None and not predicate(self.status()):
                pytest.fail(
                    f"the app process ended (code {self.popen.returncode}) before {what}: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            return predicate(self.status())

        wait_for(check, timeout, what)

    def children(self) -> list[int]:
        """The driver's live children now (remembered for clean-up)."""
        found = children_of(self.pid)
        self.seen_children.update(found)
        return found

    def kill(self) -> None:
        """``kill -9`` the driver and reap it; its children are remembered for ``clean_up``."""
        self.children()
        os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(60)

    def clean_up(self) -> None:
        """Kill the driver and any child it left, so a failed test leaks nothing."""
        if self.popen.poll() is None:
            self.kill()
        for pid in self.seen_children:
            if running(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces


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
