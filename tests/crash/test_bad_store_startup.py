"""The window starts whatever the chat database holds, and a failed start stops its threads."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.chat.store import ChatStore
from app.core.editor.recovery import RecoveryStore
from app.core.paths import app_dirs
from app.ui import window_services
from app.ui.main_window import MainWindow
from tests.crash.store_damage import KINDS, damage

STORE_OPEN_MS = 60_000


@pytest.fixture
def made_engines(monkeypatch) -> list:
    """Every engine controller the window makes, from now on."""
    made = []

    class Recorded(window_services.EngineController):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(window_services, "EngineController", Recorded)
    return made


def _db() -> Path:
    return app_dirs().data / "chats.sqlite3"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_window_starts_on_a_bad_chat_database(qtbot, crash_settings, kind):
    written = damage(_db(), kind)
    window = MainWindow(crash_settings)
    qtbot.addWidget(window)
    try:
        window.show()
        pane = window.chat_pane
        qtbot.waitUntil(lambda: window.chat_service.store_is_open, timeout=STORE_OPEN_MS)  # opened off the GUI thread
        assert pane.banner_bar.isVisible()
        notice = pane.banner.text()
        moved = [
            p
            for p in _db().parent.iterdir()
            if p.name.startswith(f"chats.sqlite3.{KINDS[kind]}-") and not p.name.endswith(("-wal", "-shm"))
        ]
        assert len(moved) == 1 and str(moved[0]) in notice and "\n" not in notice
        assert notice == window.chat_store_notice
        for suffix, data in written.items():
            assert Path(f"{moved[0]}{suffix}").read_bytes() == data
        assert window.chat_store.path == _db() and not window.chat_store.in_memory
        assert pane.list.count() == 0
        qtbot.mouseClick(pane.banner_close, Qt.MouseButton.LeftButton)
        assert not pane.banner_bar.isVisible()
        assert window.chat_engine.worker_thread.isRunning() and window.completion_engine.worker_thread.isRunning()
    finally:
        window.close()
    assert not window.chat_engine.worker_thread.isRunning()
    reopened = ChatStore(_db())  # the new store is sound
    reopened.close()


def test_a_new_store_after_a_bad_one_chats(qtbot, crash_settings):
    damage(_db(), "random-with-wal")
    window = MainWindow(crash_settings)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitUntil(lambda: "chat" in window.loaded_models, timeout=120_000)
        conversation = window.chat_service.new_conversation()
        window.chat_store.set_sampling(conversation.id, {"max_tokens": 8, "ignore_eos": True, "temperature": 0.0})
        window.chat_pane.input.setPlainText("hello after the rescue")
        with qtbot.waitSignal(window.chat_service.answer_finished, timeout=60_000):
            window.chat_pane.send()
        assert [m.role for m in window.chat_service.messages()] == ["user", "assistant"]
    finally:
        window.close()
    store = ChatStore(_db())
    assert [c.title for c in store.conversations()] == ["hello after the rescue"]
    store.close()


def test_a_chat_database_that_cannot_be_opened_keeps_chats_in_memory(qtbot, crash_settings):
    _db().parent.mkdir(parents=True, exist_ok=True)
    _db().mkdir()  # sqlite cannot open a folder; moving it aside would not help
    window = MainWindow(crash_settings)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitUntil(lambda: window.chat_service.store_is_open, timeout=STORE_OPEN_MS)
        assert window.chat_store.in_memory
        notice = window.chat_pane.banner.text()
        assert notice.startswith("Cannot open the chat database") and "in memory only" in notice
        assert window.chat_service.new_conversation() is not None
    finally:
        window.close()
    assert _db().is_dir()


def test_a_session_marker_that_cannot_be_written_stops_the_start_before_any_engine(
    qtbot, crash_settings, monkeypatch, made_engines
):
    def refuse(_self) -> None:
        raise PermissionError(13, "Permission denied", "session.lock")

    monkeypatch.setattr(RecoveryStore, "begin_session", refuse)
    with pytest.raises(PermissionError):
        MainWindow(crash_settings)  # the marker is written while the window is built, before its services
    assert made_engines == []


@pytest.fixture
def refusing_window(qtbot, crash_settings, monkeypatch, made_engines) -> MainWindow:
    """A window whose completion service refuses to be made."""

    def refuse(*_args, **_kwargs) -> None:
        raise RuntimeError("no completion service today")

    monkeypatch.setattr(window_services, "CompletionService", refuse)
    window = MainWindow(crash_settings)
    qtbot.addWidget(window)
    return window


def _engines_stopped(made: list) -> bool:
    return len(made) == 2 and all(c.worker_thread.wait(5000) and not c.worker_thread.isRunning() for c in made)


def test_a_start_that_fails_while_making_the_services_ends_without_waiting_forever(
    qtbot, refusing_window, made_engines
):
    window = refusing_window
    with qtbot.waitSignal(window.start_failed, timeout=5000):  # announced to the app whoever asked first
        with pytest.raises(RuntimeError, match="no completion service today"):
            window.services  # noqa: B018 - the chat store it began to open is closed, not waited for in vain
    with pytest.raises(RuntimeError, match="no completion service today"):  # the same failure; nothing made twice
        window.chat_service  # noqa: B018
    assert _engines_stopped(made_engines)


def test_services_that_fail_after_the_first_frame_leave_the_error_for_the_app(qtbot, refusing_window, made_engines):
    window = refusing_window
    with qtbot.waitSignal(window.start_failed, timeout=30_000):
        window.show()  # the services are made just after the first frame, and fail
    assert str(window.start_error) == "no completion service today"  # run_gui raises it once the loop ends
    assert _engines_stopped(made_engines)
    assert window.chat_model_label.text().endswith("starting…")  # no model load was asked for
    window.close()
