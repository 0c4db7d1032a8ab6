"""ChatService over a real engine host and a real sqlite store."""

from __future__ import annotations

import os
import signal

import pytest

from app.core.chat.store import ChatStore
from app.services.chat_service import ChatService
from app.services.engine_worker import EngineController

FOREVER = {"max_tokens": 100_000, "temperature": 0.8, "ignore_eos": True}


@pytest.fixture
def make_chat(chat_over, tiny_models):
    """Build a ChatService over a host loaded with a tiny model; all are closed afterwards."""

    def make(family: str = "generic", n_ctx: int = 4096) -> ChatService:
        return chat_over(tiny_models[family], n_ctx)

    return make


@pytest.fixture
def chat(make_chat):
    return make_chat()


def _send(qtbot, chat, text, timeout=10_000):
    with qtbot.waitSignal(chat.answer_finished, timeout=timeout) as done:
        chat.send(text)
    return done.args[1]


def test_user_message_is_saved_before_the_answer_starts(qtbot, chat):
    conversation = chat.new_conversation()
    chat.store.set_sampling(conversation.id, {"max_tokens": 4, "ignore_eos": True})
    seen = []
    chat.answer_started.connect(lambda _job, _mid: seen.append([m.role for m in chat.store.messages(conversation.id)]))
    _send(qtbot, chat, "first question")
    assert seen == [["user", "assistant"]]  # the user turn was committed, the answer created empty
    messages = chat.messages()
    assert messages[0].content == "first question"
    assert chat.store.conversation(conversation.id).title == "first question"
    assert not messages[1].partial and messages[1].stats["generated_tokens"] == 4


def test_stop_keeps_the_partial_answer_and_marks_it(qtbot, chat):
    conversation = chat.new_conversation()
    chat.store.set_sampling(conversation.id, FOREVER)
    with qtbot.waitSignal(chat.answer_piece, timeout=10_000):
        chat.send("tell me everything")
    qtbot.wait(100)
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000) as done:
        chat.stop()
    assert done.args[1].finish_reason == "cancelled"
    answer = chat.messages()[-1]
    assert answer.partial and answer.stop_reason == "cancelled" and answer.content


def test_a_killed_host_leaves_a_saved_partial_answer(qtbot, chat):
    conversation = chat.new_conversation()
    chat.store.set_sampling(conversation.id, FOREVER)
    with qtbot.waitSignal(chat.answer_piece, timeout=10_000):
        chat.send("go on")
    qtbot.wait(400)  # at least one flush to the store
    with qtbot.waitSignal(chat.answer_failed, timeout=30_000):
        os.kill(chat.engine.worker.engine.pid, signal.SIGKILL)
    answer = chat.messages()[-1]
    assert answer.role == "assistant" and answer.partial and answer.content
    assert answer.stop_reason == "crashed"


def test_regenerate_and_edit_resend_rewrite_history(qtbot, chat):
    conversation = chat.new_conversation()
    chat.store.set_sampling(conversation.id, {"max_tokens": 3, "ignore_eos": True, "temperature": 1.0})
    _send(qtbot, chat, "one")
    _send(qtbot, chat, "two")
    assert [m.role for m in chat.messages()] == ["user", "assistant", "user", "assistant"]
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000):
        chat.regenerate()
    assert [m.content for m in chat.messages() if m.role == "user"] == ["one", "two"]
    assert len(chat.messages()) == 4
    first_user = chat.messages()[0]
    with qtbot.waitSignal(chat.answer_finished, timeout=10_000):
        chat.edit_and_resend(first_user.id, "one, edited")
    messages = chat.messages()
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content == "one, edited"


def test_overflow_drops_old_turns_but_keeps_the_system_prompt(qtbot, make_chat):
    service = make_chat(n_ctx=256)
    store = service.store
    conversation = service.new_conversation()
    store.set_system_prompt(conversation.id, "SYSTEM RULES")
    store.set_sampling(conversation.id, {"max_tokens": 16, "ignore_eos": True})
    for index in range(8):
        store.add_message(conversation.id, "user", f"question {index} " + "word " * 20)
        store.add_message(conversation.id, "assistant", f"answer {index} " + "word " * 20)
    notices = []
    service.notice.connect(notices.append)
    with qtbot.waitSignal(service.answer_finished, timeout=10_000) as done:
        service.send("the last question")
    stats = done.args[1]
    assert stats.dropped_turns > 0 and stats.prompt_tokens + 16 <= stats.n_ctx
    assert notices and "left out" in notices[0]


def test_a_base_model_is_refused_with_a_message(make_chat):
    service = make_chat("codellama", n_ctx=512)
    notices = []
    service.notice.connect(notices.append)
    assert service.send("hello") is None
    assert notices and "not a chat model" in notices[0]
    assert service.messages() == []


def test_an_answer_that_fails_after_switching_chats_is_removed_from_its_own(qtbot, tmp_path):
    controller = EngineController("chat")  # no model loaded: the worker answers that it has none
    store = ChatStore(tmp_path / "chats.sqlite3")
    service = ChatService(controller, store)
    try:
        with qtbot.captureExceptions() as exceptions:
            with qtbot.waitSignal(service.answer_failed, timeout=10_000):
                service.send("How do I reverse a list?")
                first = service.current_id
                service.new_conversation()  # the failure arrives while another chat is shown
        assert exceptions == []
        assert [(m.role, m.content) for m in store.messages(first)] == [("user", "How do I reverse a list?")]
        assert service.messages() == [] and not service.busy
    finally:
        assert controller.shutdown(2000)
        store.close()
