"""Crash tests: run real app code in a process of its own, then ``kill -9`` it.

The driver (``crash_driver.py``) is started with the worktree's root on
``PYTHONPATH`` so it and its spawned children import this checkout's ``app``.
Process trees are read from ``/proc``, so these tests run on Linux.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from crash_procs import children_of, running, wait_for

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "crash_driver.py"


class AppProcess:
    """One driver process: its status file, its children, and a way to kill it."""

    def __init__(self, status_path: Path, mode: str, args: list[str], log_path: Path) -> None:
        self.status_path = status_path
        self.log_path = log_path
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen([sys.executable, str(DRIVER), str(status_path), mode, *args],
                                          cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
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
                pytest.fail(f"the app process ended (code {self.popen.returncode}) before {what}: "
                            f"{self.log_path.read_text(errors='replace')[-2000:]}")
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


@pytest.fixture
def crash_app(tmp_path, monkeypatch):
    """Start driver processes: ``crash_app(mode, *args)``; all are killed at the end."""
    if not Path("/proc/self/stat").exists() or not hasattr(signal, "SIGKILL"):
        pytest.skip("crash tests read process trees from /proc and need SIGKILL")
    hf_home = tmp_path / "hf-home-child"
    hf_home.mkdir()
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_TOKEN_PATH", str(hf_home / "token"))
    started: list[AppProcess] = []

    def start(mode: str, *args) -> AppProcess:
        index = len(started)
        app = AppProcess(tmp_path / f"app-{index}.json", mode, [str(a) for a in args], tmp_path / f"app-{index}.log")
        started.append(app)
        return app

    yield start
    for app in started:
        app.clean_up()
