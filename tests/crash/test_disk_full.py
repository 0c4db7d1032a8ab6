"""A full disk at the chat database: one clear line, nothing typed is lost, the file stays sound.

sqlite's ``max_page_count`` on the window's own connection makes the
database unable to grow, so every write that needs a new page fails with
SQLITE_FULL exactly as on a full disk.
"""

from __future__ import annotations

import pytest

from app.core.chat.store import ChatStore, StoreFull
from app.core.chat.store_rescue import open_chat_store
from app.ui.main_window import MainWindow
from tests.crash.store_damage import integrity

FOREVER = {"max_tokens": 1_000_000, "temperature": 0.8, "ignore_eos": True}


def fill_disk(store: ChatStore) -> None:
    """Let the database grow no more: sqlite raises the cap to the current size."""
    with store._lock:
        store._conn.execute("PRAGMA max_page_count = 1")


def free_disk(store: ChatStore) -> None:
    """Lift the cap again."""
    with store._lock:
        store._conn.execute("PRAGMA max_page_count = 1073741823")


@pytest.fixture
def window(qtbot, crash_settings):
    win = MainWindow(crash_settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: "chat" in win.loaded_models, timeout=120_000)
    yield win
    win.close()


def test_the_store_reports_a_full_disk_and_keeps_its_rows(tmp_path):
    store = ChatStore(tmp_path / "chats.sqlite3")
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "fits")
    fill_disk(store)
    with pytest.raises(StoreFull) as caught:
        store.add_exchange(chat.id, "x" * 50_000)
    assert str(caught.value).startswith("disk full: cannot save to the chat database")
    assert "\n" not in str(caught.value)
    assert [m.content for m in store.messages(chat.id)] == ["fits"]  # neither half of the exchange
    store.close()
    assert integrity(tmp_path / "chats.sqlite3") == "ok"


def test_a_message_that_cannot_be_saved_stays_in_the_input(qtbot, window):
    pane, service = window.chat_pane, window.chat_service
    conversation = service.new_conversation()
    window.chat_store.set_sampling(conversation.id, {"max_tokens": 4, "ignore_eos": True})
    started = []
    service.answer_started.connect(lambda job, _mid: started.append(job))
    text = "Please review this long module:\n" + "def f(x):\n    return x * 2\n" * 2000
    fill_disk(window.chat_store)
    pane.input.setPlainText(text)
    pane.send()
    assert pane.banner_bar.isVisible()
    line = pane.banner.text()
    assert line.startswith("disk full: ") and line.endswith("the message was not sent") and "\n" not in line
    assert pane.input.toPlainText() == text  # nothing typed is lost
    assert started == [] and service.messages() == [] and not service.busy
    assert pane.send_button.isEnabled()

    free_disk(window.chat_store)  # space was freed: the same text goes through
    with qtbot.waitSignal(service.answer_finished, timeout=60_000):
        pane.send()
    assert pane.input.toPlainText() == ""
    assert [m.content for m in service.messages()][0] == text.strip()
    path = window.chat_store.path
    window.close()
    assert integrity(path) == "ok"
    opened = open_chat_store(path)
    assert opened.notice is None and len(opened.store.messages(conversation.id)) == 2
    opened.store.close()


def test_a_full_disk_while_an_answer_streams_stops_it_and_keeps_what_was_saved(qtbot, window):
    pane, service, store = window.chat_pane, window.chat_service, window.chat_store
    conversation = service.new_conversation()
    store.set_sampling(conversation.id, FOREVER)
    pieces: list[str] = []
    service.answer_piece.connect(lambda _job, text: pieces.append(text))
    pane.input.setPlainText("Tell me a story that never ends")
    with qtbot.waitSignal(service.answer_started, timeout=10_000):
        pane.send()
    answer_id = service.messages()[-1].id
    qtbot.waitUntil(lambda: len(store.messages(conversation.id)[-1].content) > 20, timeout=60_000)
    fill_disk(store)
    qtbot.waitUntil(lambda: pane.banner_bar.isVisible(), timeout=60_000)
    qtbot.waitUntil(lambda: not service.busy, timeout=60_000)
    line = pane.banner.text()
    assert line.startswith("disk full: ") and "the answer was stopped" in line and "\n" not in line
    assert pane.send_button.isEnabled() and not pane.stop_button.isEnabled()
    user, answer = service.messages()
    assert (user.content, answer.id) == ("Tell me a story that never ends", answer_id)
    assert answer.partial and len(answer.content) > 20
    assert "".join(pieces).startswith(answer.content)  # what was saved is what streamed first
    assert answer.stop_reason in (None, "not saved: disk full")
    path = store.path
    window.close()
    assert integrity(path) == "ok"
    reopened = ChatStore(path)  # the next start opens it, with the saved part
    assert reopened.messages(conversation.id)[-1].content == answer.content
    reopened.close()
