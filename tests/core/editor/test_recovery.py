"""Unsaved buffers survive a crash and are offered again; a clean exit clears them."""

import itertools
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from app.core.editor import recovery
from app.core.editor.recovery import MARKER_FILE, RecoveredBuffer, RecoveryStore
from app.core.paths import app_dirs


@pytest.fixture
def store() -> RecoveryStore:
    return RecoveryStore(app_dirs().cache / "recovery")


def dead_pid() -> int:
    """Return the pid of a child process that has finished and been reaped."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(child.stdout)


def write_marker(store: RecoveryStore, pid: int) -> None:
    store.folder.mkdir(parents=True, exist_ok=True)
    (store.folder / MARKER_FILE).write_text(json.dumps({"pid": pid, "started_at": 0}))


def test_save_pending_discard(store, tmp_path, monkeypatch):
    ticks = itertools.count(1000)
    monkeypatch.setattr(recovery, "time", SimpleNamespace(time=lambda: float(next(ticks))))
    assert store.pending() == []
    store.save("tab-1", "first\n", path=str(tmp_path / "a.py"), title="a.py")
    store.save("untitled/2", "second", path=None, encoding="cp1252", title="Untitled 2")
    found = store.pending()
    assert [b.buffer_id for b in found] == ["tab-1", "untitled/2"]
    first, second = found
    assert (first.path, first.title, first.encoding, first.text) == (str(tmp_path / "a.py"), "a.py", "utf-8", "first\n")
    assert (second.path, second.encoding, second.text) == (None, "cp1252", "second")
    assert first.saved_at < second.saved_at

    store.save("tab-1", "first, edited\n", path=str(tmp_path / "a.py"), title="a.py")
    assert [b.buffer_id for b in store.pending()] == ["untitled/2", "tab-1"]
    assert store.pending()[1].text == "first, edited\n"

    store.discard("tab-1")
    store.discard("never-saved")
    assert [b.buffer_id for b in store.pending()] == ["untitled/2"]
    store.clear()
    assert store.pending() == []


def test_unchanged_content_is_not_rewritten(store):
    store.save("tab", "same", path=None)
    first = store.pending()[0].saved_at
    store.save("tab", "same", path=None)
    assert store.pending()[0].saved_at == first
    store.save("tab", "same", path="/elsewhere.txt")  # Save As: path changed
    assert store.pending()[0].path == "/elsewhere.txt"


def test_deleted_autosave_is_written_again(store):
    store.save("tab", "same", path=None)
    RecoveryStore(store.folder).clear()  # e.g. another instance cleared the folder
    store.save("tab", "same", path=None)
    assert [b.text for b in store.pending()] == ["same"]


def test_unicode_and_odd_ids_round_trip(store):
    text = "caf\u00e9 \u2603 \U0001f600\r\nline\n"
    store.save("../../etc/passwd", text, path=None)
    assert store.pending()[0].text == text
    assert store.pending()[0].buffer_id == "../../etc/passwd"
    assert all(p.parent == store.folder for p in store.folder.iterdir())


def test_writes_leave_no_temp_files(store):
    store.begin_session()
    for round_ in range(5):
        store.save("tab", f"text {round_}", path=None)
    assert not [p for p in store.folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"id": "x", "path": null, "title": "", "encoding": "utf-8", "text": "cut off',
        "[1, 2, 3]",
        '{"id": "x", "path": 5, "title": "", "encoding": "utf-8", "text": "", "saved_at": 1}',
        '{"id": "x", "path": null, "title": "", "encoding": "utf-8", "text": ""}',
    ],
)
def test_corrupt_file_is_skipped(store, content):
    store.save("good", "kept", path=None)
    (store.folder / "buffer-corrupt.json").write_text(content)
    (store.folder / "buffer-binary.json").write_bytes(b"\xff\xfe\x00garbage")
    assert [b.text for b in store.pending()] == ["kept"]


def test_no_marker_means_no_crash(store):
    assert not store.crashed_last_time()
    store.begin_session()
    assert not store.crashed_last_time()  # our own, live session


def test_simulated_crash_is_detected_and_buffers_are_offered(store, tmp_path):
    before = RecoveryStore(store.folder)
    before.begin_session()
    before.save("tab-1", "unsaved work\n", path=str(tmp_path / "work.py"), title="work.py")
    write_marker(store, dead_pid())  # the process that wrote the marker has died

    after = RecoveryStore(store.folder)
    assert after.crashed_last_time()
    offered = after.pending()
    assert [(b.buffer_id, b.text) for b in offered] == [("tab-1", "unsaved work\n")]
    assert offered[0].differs_from_disk()  # work.py was never written
    after.begin_session()
    assert not after.crashed_last_time()


@pytest.mark.skipif(os.name != "posix", reason="probing a live pid needs POSIX")
def test_marker_of_a_live_process_is_not_a_crash(store):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        write_marker(store, child.pid)
        assert not store.crashed_last_time()
    finally:
        child.kill()
        child.wait()
    assert store.crashed_last_time()


@pytest.mark.parametrize("content", ["", "garbage", '{"pid": 0}', '{"pid": "12"}'])
def test_unreadable_marker_counts_as_crash(store, content):
    store.folder.mkdir(parents=True)
    (store.folder / MARKER_FILE).write_text(content)
    assert store.crashed_last_time()


def test_clean_end_session_clears(store, tmp_path):
    saved_file = tmp_path / "saved.py"
    saved_file.write_bytes(b"done\r\n")
    store.begin_session()
    store.save("saved", "done\n", path=str(saved_file), title="saved.py")
    store.save("untitled", "draft", path=None, title="Untitled")
    store.end_session()
    assert not (store.folder / MARKER_FILE).exists()
    assert not RecoveryStore(store.folder).crashed_last_time()
    # The buffer that matches its file is gone; the unsaved draft is kept.
    assert [b.buffer_id for b in store.pending()] == ["untitled"]

    store.begin_session()
    store.end_session(keep_unsaved=False)
    assert store.pending() == []
    assert not store.crashed_last_time()


def test_end_session_keeps_another_live_instances_marker(store):
    write_marker(store, os.getppid())
    store.end_session()
    assert (store.folder / MARKER_FILE).exists()


def test_differs_from_disk(tmp_path):
    path = tmp_path / "f.txt"

    def buffer(text, file_path):
        return RecoveredBuffer("id", file_path, "f.txt", "utf-8", text, 0.0)

    assert buffer("x", None).differs_from_disk()
    assert buffer("x", str(path)).differs_from_disk()  # missing
    path.write_bytes(b"x\r\ny\r\n")
    assert not buffer("x\ny\n", str(path)).differs_from_disk()
    assert buffer("x\nz\n", str(path)).differs_from_disk()
    path.write_bytes(b"\x00\x01binary")
    assert buffer("x\ny\n", str(path)).differs_from_disk()
