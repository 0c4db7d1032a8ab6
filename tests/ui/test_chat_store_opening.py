"""The window opens its chat database off the GUI thread and shows the saved chats when it is open."""

from __future__ import annotations

import pytest

from app.core.chat.store import ChatStore
from app.core.paths import app_dirs
from app.core.settings import Settings
from app.ui.main_window import LOAD_FALLBACK_MS, MainWindow

STORE_OPEN_MS = 60_000


def _saved_chats(titles: list[str]) -> None:
    store = ChatStore(app_dirs().ensure().data / "chats.sqlite3")
    try:
        for title in titles:
            conversation = store.create_conversation(system_prompt=None)
            store.rename(conversation.id, title)
    finally:
        store.close()


def _window(qtbot, tiny_models) -> MainWindow:
    settings = Settings(chat_model=str(tiny_models["generic"]), completion_model=str(tiny_models["codellama"]))
    window = MainWindow(settings)
    qtbot.addWidget(window)
    return window


def test_the_saved_chats_are_listed_once_the_store_is_open(qtbot, tiny_models):
    _saved_chats(["first chat", "second chat"])
    window = _window(qtbot, tiny_models)
    try:
        window.show()
        qtbot.waitUntil(lambda: window.chat_service.store_is_open, timeout=STORE_OPEN_MS)
        pane = window.chat_pane
        titles = sorted(pane.list.item(row).text() for row in range(pane.list.count()))
        assert titles == ["first chat", "second chat"]
        assert window.chat_service.current_id is not None  # the latest chat is shown
        assert window.chat_store_notice is None and not pane.banner_bar.isVisible()
    finally:
        window.close()


def test_asking_for_the_store_before_it_is_announced_waits_for_it(qtbot, tiny_models):
    _saved_chats(["kept"])
    window = _window(qtbot, tiny_models)
    try:
        store = window.chat_store  # no event loop has run: the pool thread may still be opening it
        assert [c.title for c in store.conversations()] == ["kept"]
        qtbot.waitUntil(lambda: window.chat_service.store_is_open, timeout=STORE_OPEN_MS)
        assert window.chat_pane.list.count() == 1
    finally:
        window.close()


def test_a_store_that_opens_after_the_window_closed_is_not_announced(qtbot, tiny_models):
    window = _window(qtbot, tiny_models)
    service = window.chat_service  # the services are made now, and the store starts opening
    window.close()  # closes the store as soon as it is open
    qtbot.wait(200)  # the pool thread's result reaches the GUI thread
    assert not service.store_is_open


def test_a_window_closed_before_its_first_frame_makes_no_services(qtbot, tiny_models):
    window = _window(qtbot, tiny_models)
    marker = window.recovery.folder / "session.lock"
    assert marker.exists()  # the session began while the window was built
    window.close()
    assert not marker.exists()  # and ended with it, services or not
    qtbot.wait(LOAD_FALLBACK_MS + 200)  # past the time a window never shown starts them
    with pytest.raises(RuntimeError, match="closed before its services were made"):
        window.services  # noqa: B018
    assert window.model_jobs is None and window.shutdown_engines()
