"""The chat pane shows the transcript-mode line once, below the first answer, where it stays."""

from __future__ import annotations

import pytest

from app.core.chat.store import ChatStore
from app.core.models.load_params import LoadParams
from app.services.chat_service import ChatService
from app.services.engine_worker import EngineController
from app.ui.chat_pane import ChatPane

NOTE = "Plain-text transcript mode"


@pytest.mark.starter
def test_the_note_follows_the_first_answer_and_is_not_repeated(qtbot, tmp_path, starter_model):
    controller = EngineController("chat")
    store = ChatStore(tmp_path / "chats.sqlite3")
    service = ChatService(controller, store)
    pane = ChatPane(service)
    qtbot.addWidget(pane)
    try:
        with qtbot.waitSignal(controller.worker.loaded, timeout=60_000):
            controller.load(str(starter_model), LoadParams(n_ctx=1024))
        conversation = service.new_conversation()
        store.set_sampling(conversation.id, {"max_tokens": 8, "temperature": 0.0})
        for question in ("Write hello world in C.", "And in Go?"):
            with qtbot.waitSignal(service.answer_finished, timeout=60_000):
                service.send(question)
            qtbot.wait(50)  # the pane's slots for the same answer run after the wait returns
            shown = pane.view.toPlainText()
            assert shown.count(NOTE) == (1 if question.startswith("Write") else 0), shown
        first = pane.view.toPlainText()
    finally:
        service.shutdown()
        assert controller.shutdown(10_000)
        store.close()
    assert "User:" not in first
