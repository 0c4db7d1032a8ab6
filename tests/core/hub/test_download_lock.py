"""The lock that lets one window at a time write a download's part file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import app.core.hub.download_lock as download_lock
from app.core.hub.download_lock import PartLock, held_elsewhere, lock_path
from app.core.hub.download_parts import discard_partial, write_sidecar

ROOT = Path(__file__).resolve().parents[3]
HOLDER = """
import sys, time
from pathlib import Path
from app.core.hub.download_lock import PartLock
lock = PartLock(Path(sys.argv[1]), sys.argv[2])
print("held" if lock.try_acquire() else "busy", flush=True)
time.sleep(300)
"""


def test_two_locks_on_one_file_exclude_each_other_until_released(tmp_path):
    first, second = PartLock(tmp_path, "m.gguf"), PartLock(tmp_path, "m.gguf")
    assert first.try_acquire() and first.held
    assert not second.try_acquire() and not second.held
    assert PartLock(tmp_path, "other.gguf").try_acquire()  # another file is not affected
    first.release()
    assert second.try_acquire()
    assert lock_path(tmp_path, "m.gguf").exists()
    second.release(remove_file=True)
    assert not lock_path(tmp_path, "m.gguf").exists()


def test_a_lock_dies_with_a_killed_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), "m.gguf"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        assert held_elsewhere(tmp_path, "m.gguf")
        assert not PartLock(tmp_path, "m.gguf").try_acquire()
    finally:
        child.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
        child.wait(60)
    assert not held_elsewhere(tmp_path, "m.gguf")
    assert PartLock(tmp_path, "m.gguf").try_acquire()


def test_a_waiter_that_locked_a_removed_lock_file_takes_the_new_one(tmp_path, monkeypatch):
    if os.name == "nt":
        pytest.skip("an open file cannot be removed on Windows")
    holder = PartLock(tmp_path, "m.gguf")
    assert holder.try_acquire()
    real_lock, calls = download_lock._lock, []

    def racing_lock(fd):
        # The holder finishes between this waiter's open() and its lock call.
        calls.append(fd)
        if len(calls) == 1:
            holder.release(remove_file=True)
            PartLock(tmp_path, "m.gguf").try_acquire()  # a third window creates and drops a new file
        return real_lock(fd)

    monkeypatch.setattr(download_lock, "_lock", racing_lock)
    waiter = PartLock(tmp_path, "m.gguf")
    assert waiter.try_acquire() and len(calls) >= 2
    monkeypatch.setattr(download_lock, "_lock", real_lock)
    # The waiter holds the file the path names now, so nobody else can take it.
    assert not PartLock(tmp_path, "m.gguf").try_acquire()
    assert held_elsewhere(tmp_path, "m.gguf")


def test_looking_for_a_holder_creates_no_lock_file(tmp_path):
    assert not held_elsewhere(tmp_path, "m.gguf")
    assert list(tmp_path.iterdir()) == []


def test_a_part_another_window_holds_is_not_discarded(tmp_path):
    part = tmp_path / "m.gguf.part"
    part.write_bytes(b"half")
    write_sidecar(tmp_path / "m.gguf.part.json", {"repo_id": "a/b", "filename": "m.gguf", "size": 8})
    other = PartLock(tmp_path, "m.gguf")
    assert other.try_acquire()
    assert discard_partial(part) is False and part.exists()
    other.release()
    assert discard_partial(part) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == []
