"""Ctrl+C (SIGINT), SIGTERM, SIGHUP and the session's end quit like File → Quit: no traceback, no
question, unsaved buffers in the recovery folder, no engine host left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from app.core.editor.recovery import RecoveryStore
from app.core.paths import app_dirs
from app.core.settings import Settings, load_settings, save_settings
from app.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).resolve().parent / "signal_child.py"
READY_S = 240  # two engine hosts start and load a model each, on a loaded machine
EXIT_S = 60


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _start_child(home: Path, tiny_models) -> subprocess.Popen:
    config = app_dirs(home).ensure().config
    save_settings(
        config,
        Settings(
            chat_model=str(tiny_models["generic"]),
            completion_model=str(tiny_models["codellama"]),
            chat_params={"n_ctx": 1024},
            completion_params={"n_ctx": 1024},
        ),
    )
    env = {
        **os.environ,
        "FIMBLE_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, str(CHILD)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_typed(child: subprocess.Popen) -> dict:
    got: dict = {}

    def read() -> None:
        for line in child.stdout:
            if line.startswith("{"):
                got.update(json.loads(line))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(READY_S)
    if not got:
        child.kill()
        pytest.fail(f"the app did not get ready in {READY_S} s: {child.stderr.read()[-3000:]}")
    return got


@pytest.fixture
def sigint_as_from_a_terminal():
    """SIGINT handled as in a terminal, even when this run was started in the background (SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "number",
    [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
    ids=["SIGINT", "SIGTERM", "SIGHUP (terminal or session gone)"],
)
def test_a_signal_quits_the_app_like_file_quit(tmp_path, tiny_models, number):
    home = tmp_path / "home"
    child = _start_child(home, tiny_models)
    try:
        typed = _wait_for_typed(child)
        hosts = typed["hosts"]
        assert len(hosts) == 2 and all(_alive(pid) for pid in hosts)
        children = psutil.Process(child.pid).children(recursive=True)

        child.send_signal(number)
        _out, err = child.communicate(timeout=EXIT_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert child.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p.pid) for p in children):
        time.sleep(0.2)
    assert not [p.pid for p in children if _alive(p.pid)], "an engine host outlived the app"
    recovery = RecoveryStore(app_dirs(home).cache / "recovery")
    assert [(b.path, b.text) for b in recovery.pending()] == [(None, typed["text"])]
    assert not (recovery.folder / "session.lock").exists()  # the app ended its session cleanly


def test_quitting_quietly_puts_unsaved_work_in_recovery_without_asking(qtbot, window, no_modal_dialogs, tmp_path):
    source = tmp_path / "kept.py"
    source.write_text("x = 1\n", encoding="utf-8")
    window.open_path(str(source))
    opened = window.editor_pane.tabs.current_tab()
    cursor = opened.editor.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    cursor.insertText("x = 2\n")  # typed: the buffer is modified
    untitled = window.editor_pane.tabs.new_tab()
    untitled.editor.textCursor().insertText("scratch")
    no_modal_dialogs["save"] = "cancel"  # a question would keep the window open
    engines = [c.worker.engine for c in (window.chat_engine, window.completion_engine)]
    hosts = [engine.pid for engine in engines if engine is not None and engine.pid is not None]
    assert len(hosts) == 2

    window.quit_quietly("SIGINT")

    assert window.isHidden()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in hosts):
        time.sleep(0.2)
    assert not [pid for pid in hosts if _alive(pid)]
    pending = {b.path: b.text for b in RecoveryStore(app_dirs().cache / "recovery").pending()}
    assert pending == {str(source): "x = 1\nx = 2\n", None: "scratch"}
    assert source.read_text(encoding="utf-8") == "x = 1\n"  # nothing saved behind the user
    saved = load_settings(app_dirs().config)
    assert saved.open_files == [str(source)] and saved.current_file is None

    # The next start offers them back, although the app ended its session cleanly.
    no_modal_dialogs["restore"] = True
    again = MainWindow(saved)
    qtbot.addWidget(again)
    try:
        restored = {tab.path: tab.editor.toPlainText() for tab in again.editor_pane.tabs.tabs() if tab.modified}
        assert restored == {str(source): "x = 1\nx = 2\n", None: "scratch"}
        paths = [tab.path for tab in again.editor_pane.tabs.tabs()]
        assert paths.count(str(source)) == 1  # the open file and its recovered buffer are one tab
    finally:
        no_modal_dialogs["save"] = "discard"
        again.close()


def test_the_session_ending_and_about_to_quit_take_the_same_path(qtbot, window, sigint_as_from_a_terminal):
    from PySide6.QtWidgets import QApplication

    from app.ui.quit_signals import QuitOnSignal

    reasons: list[str] = []
    quitter = QuitOnSignal(QApplication.instance())
    quitter.on_quit = reasons.append
    try:
        quitter._on_session_end(None)
        quitter._on_about_to_quit()
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: noted, then handled on the GUI thread
        qtbot.wait(200)
    finally:
        quitter.uninstall()
    assert reasons == ["the desktop session is ending"]  # once, however many follow
    assert quitter.received == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_ignored_at_start_stays_ignored(qtbot):
    from PySide6.QtWidgets import QApplication

    from app.ui.quit_signals import QuitOnSignal

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        quitter = QuitOnSignal(QApplication.instance())
        try:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the others are handled
        finally:
            quitter.uninstall()
    finally:
        signal.signal(signal.SIGHUP, previous)
