"""SIGKILL of the whole app: nothing the user made is lost, and no engine host lingers."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from app.core.editor.recovery import RecoveryStore
from app.core.paths import app_dirs
from app.core.settings import load_settings
from app.ui.main_window import MainWindow
from tests.crash.app_process import process_alive

READY_S = 240  # two engine hosts start and load a model each, on a loaded machine
HOSTS_GONE_S = 60


def _poll(check, timeout: float, what: str):
    """Call ``check`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _saved_answer(db: Path) -> str | None:
    """The partial answer's text as another process reads it from the file now."""
    if not db.exists():
        return None
    conn = sqlite3.connect(db, timeout=10)
    try:
        row = conn.execute(
            "SELECT content FROM messages WHERE role = 'assistant' AND partial = 1 ORDER BY id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError:
        return None  # the schema is still being created
    finally:
        conn.close()
    return row[0] if row and len(row[0]) >= 40 else None


def _assert_hosts_exit(hosts: list[int]) -> None:
    assert len(hosts) == 2, f"the app reported engine hosts {hosts}, not one per role"
    deadline = time.monotonic() + HOSTS_GONE_S
    while time.monotonic() < deadline and any(process_alive(pid) for pid in hosts):
        time.sleep(0.2)
    lingering = [pid for pid in hosts if process_alive(pid)]
    assert not lingering, f"engine hosts {lingering} outlived the killed app by {HOSTS_GONE_S} s"


def _restart(qtbot) -> MainWindow:
    window = MainWindow(load_settings(app_dirs().config))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.chat_service.store_is_open, timeout=60_000)  # opened off the GUI thread
    return window


@pytest.mark.timeout(600)
def test_killed_while_an_answer_streams_keeps_the_partial_answer(qtbot, app_child):
    child = app_child("chat")
    hosts = child.wait_for("ready", READY_S)["hosts"]
    sent = child.wait_for("sent", 60)
    db = app_dirs().data / "chats.sqlite3"
    saved = _poll(lambda: _saved_answer(db), 120, "part of the answer in the chat database")
    assert child.process.poll() is None, "the app stopped streaming by itself"

    assert child.kill() != 0
    _assert_hosts_exit(hosts)

    window = _restart(qtbot)
    try:
        assert window.chat_store_notice is None  # the file opened as it was
        assert window.chat_service.current_id == sent["conversation"]
        user, answer = window.chat_service.messages()
        assert (user.role, user.content, user.partial) == ("user", sent["message"], False)
        assert answer.role == "assistant" and answer.partial
        assert answer.content.startswith(saved)  # at least what had been seen saved
        shown = window.chat_pane.view
        assert shown.messages[answer.id] == answer
        transcript = shown.toPlainText()
        assert sent["message"] in transcript and "partial" in transcript
    finally:
        window.close()


@pytest.mark.timeout(600)
def test_killed_while_editing_restores_every_unsaved_buffer(qtbot, app_child, no_modal_dialogs, tmp_path):
    source = tmp_path / "notes.py"
    source.write_text("print('saved on disk')\n", encoding="utf-8")
    child = app_child("edit", str(source))
    hosts = child.wait_for("ready", READY_S)["hosts"]
    typed = child.wait_for("typed", 60)["buffers"]
    assert [b["modified"] for b in typed] == [True, True]
    expected = {b["path"]: b["text"] for b in typed}
    assert expected[str(source)] != "print('saved on disk')\n" and expected[None]
    recovery = RecoveryStore(app_dirs().cache / "recovery")
    _poll(lambda: {b.path: b.text for b in recovery.pending()} == expected, 60, "both buffers in the recovery folder")

    assert child.kill() != 0
    _assert_hosts_exit(hosts)

    no_modal_dialogs["restore"] = True
    window = _restart(qtbot)
    try:
        tabs = window.editor_pane.tabs.tabs()
        restored = {tab.path: tab.editor.toPlainText() for tab in tabs if tab.modified}
        assert restored == expected
        assert source.read_text(encoding="utf-8") == "print('saved on disk')\n"  # nothing saved behind the user
    finally:
        window.close()
