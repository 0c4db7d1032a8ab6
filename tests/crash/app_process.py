"""The whole app in a child process: start it, read the JSON events it prints, SIGKILL it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).resolve().parent / "app_child.py"


def process_alive(pid: int) -> bool:
    """Whether a process runs; a zombie (dead, not yet reaped) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


class AppChild:
    """The app's child process and the JSON events it prints."""

    def __init__(self, mode: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), mode, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.hosts: list[int] = []
        self._events: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                continue
        self._events.put(None)

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line)

    def stderr_tail(self) -> str:
        """The last lines the child wrote on stderr, for failure messages."""
        return "".join(self._stderr[-30:])

    def wait_for(self, event: str, timeout: float) -> dict:
        """Return the next event called ``event``, failing if the child dies or goes quiet first."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"the app did not report {event!r} within {timeout:.0f} s:\n{self.stderr_tail()}")
            try:
                got = self._events.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if got is None:
                pytest.fail(f"the app exited ({self.process.wait()}) before {event!r}:\n{self.stderr_tail()}")
            if got.get("event") == "ready":
                self.hosts = list(got.get("hosts", []))
            if got.get("event") == event:
                return got

    def kill(self) -> int:
        """SIGKILL the app (its engine hosts are left to notice by themselves) and reap it."""
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=60)

    def cleanup(self) -> None:
        """Kill whatever of this test's processes is still running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
        for pid in self.hosts:
            if process_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for reader in self._readers:  # they end at the pipes' end, now the child is gone
            reader.join(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()
