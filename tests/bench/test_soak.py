"""``bench soak``: the harness drives the real window, and notices crashes, hangs and leftovers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import soak
from bench.__main__ import main as bench_main
from bench.soak_report import is_alive, lost_markers, read_events, start_ticks

ROOT = Path(__file__).resolve().parents[2]


def _busy_children() -> list[int]:
    """Busy loops this process started and has not reaped."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and b"while True: pass" in command:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def kept_folders():
    """Remove the folders failed soaks keep for inspection."""
    folders: list[str] = []
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_short_soak_drives_the_whole_window_and_reports_every_figure():
    process = subprocess.run(
        [sys.executable, "-m", "bench", "soak", "--minutes", "0.3", "--seed", "7", "--load", "1", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    result = json.loads(process.stdout)
    for key in (
        "steps",
        "crashes",
        "qt_thread_warnings",
        "lost_messages",
        "leaked_processes",
        "max_stall_ms",
        "p99_stall_ms",
        "seed",
        "minutes",
        "load",
        "actions",
        "warnings",
    ):
        assert key in result, key
    assert (result["seed"], result["minutes"], result["load"]) == (7, 0.3, 1)
    assert result["steps"] >= 50 and result["max_stall_ms"] >= result["p99_stall_ms"] >= 0
    done = result["actions"]
    for action in ("type", "send", "open_file", "resize", "open_manager"):
        assert done.get(action, 0) > 0, (action, done)
    assert result["sent_messages"] == done["send"] > 0
    assert result["processes_seen"].get("engine-chat", 0) >= 1
    assert result["processes_seen"].get("engine-completion", 0) >= 1
    assert result["child_exit"] == "exit status 0"
    # The soak's verdict on the app: no crash, no thread warning, nothing lost, nothing left running.
    assert (result["crashes"], result["qt_thread_warnings"], result["lost_messages"], result["leaked_processes"]) == (
        0,
        0,
        0,
        0,
    ), result
    assert process.returncode == 0 and result["ok"] is True
    assert _busy_children() == []


@pytest.mark.slow
def test_a_child_that_dies_is_a_crash_with_the_step_it_died_at(kept_folders):
    result = soak.run(False, minutes=0.5, seed=3, load=1, fault={"kind": "abort", "at_step": 4})
    kept_folders.append(result["log_dir"])
    assert result["crashes"] == 1 and result["ok"] is False
    assert result["child_exit"] == "killed by SIGABRT" and result["crash"] == "killed by SIGABRT"
    assert result["last_step"]["step"] == 4 and result["steps"] == 4
    assert any("Aborted" in line or "File" in line for line in result["stderr_tail"])
    assert _busy_children() == []  # the busy loop was ended as well
    events = read_events(Path(result["log_dir"]) / "events.jsonl")
    assert events.summary is None and events.started


@pytest.mark.slow
def test_a_child_that_stops_responding_is_stopped_and_counted_as_a_crash(kept_folders):
    result = soak.run(False, minutes=0.5, seed=3, load=0, fault={"kind": "hang", "at_step": 3}, hang_s=5)
    kept_folders.append(result["log_dir"])
    assert result["crashes"] == 1
    assert "stopped responding" in result["crash"]
    assert result["child_exit"] == "killed by SIGABRT"  # faulthandler printed the stacks first
    assert result["last_step"] == {"step": 3, "action": result["last_step"]["action"]}
    stderr = (Path(result["log_dir"]) / "child.stderr").read_text()
    assert "_fault" in stderr  # the GUI thread's stack, where it hung


@pytest.mark.slow
def test_a_process_left_running_after_the_window_closed_is_counted_and_ended(kept_folders):
    result = soak.run(False, minutes=0.1, seed=5, load=0, fault={"kind": "orphan", "at_step": 2})
    kept_folders.append(result["log_dir"])
    assert result["crashes"] == 0 and result["leaked_processes"] == 1 and result["ok"] is False
    [(pid, kind)] = result["leaked"].items()
    assert kind == "orphan"
    assert not is_alive(int(pid), None)  # the parent ended it


def test_lost_markers_are_the_ones_no_user_message_holds(tmp_path):
    from app.core.chat.store import ChatStore

    store = ChatStore(tmp_path / "chats.sqlite3")
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "soak1m00001 How do I reverse a list?")
    store.add_message(chat.id, "assistant", "soak1m00002 appears only in an answer")
    store.close()
    missing, error = lost_markers(tmp_path / "chats.sqlite3", ["soak1m00001", "soak1m00002"])
    assert (missing, error) == (["soak1m00002"], None)
    missing, error = lost_markers(tmp_path / "absent.sqlite3", ["soak1m00001"])
    assert missing == ["soak1m00001"] and "not found" in error


def test_a_process_is_alive_only_while_it_runs_as_the_same_process():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = start_ticks(sleeper.pid)
        assert is_alive(sleeper.pid, start)
        assert not is_alive(sleeper.pid, start + 1)  # a reused pid is another process
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not is_alive(sleeper.pid, start)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["engine", "--minutes", "1"], "--minutes only applies to the soak benchmark"),
        (["soak", "--minutes", "0"], "--minutes must be more than 0"),
        (["soak", "--load", "-1"], "--load must be 0 or more"),
    ],
)
def test_soak_options_are_checked_before_anything_runs(capsys, argv, message):
    assert bench_main(argv) == 2
    assert capsys.readouterr().err.strip() == f"bench: error: {message}"
