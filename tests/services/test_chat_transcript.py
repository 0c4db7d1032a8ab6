"""ChatService says once per conversation that a model chats as a plain-text transcript."""

from __future__ import annotations

import pytest

from app.services.chat_service import ChatService

SHORT = {"max_tokens": 6, "temperature": 0.0}


@pytest.fixture
def service_for(chat_over):
    """A ChatService over a real host loaded with the given model; closed afterwards."""

    def make(model) -> ChatService:
        return chat_over(model, 1024)

    return make


def _ask(qtbot, service: ChatService, text: str) -> None:
    with qtbot.waitSignal(service.answer_finished, timeout=60_000):
        assert service.send(text) is not None


def _new_chat(service: ChatService) -> None:
    conversation = service.new_conversation()
    assert conversation is not None
    service.store.set_sampling(conversation.id, SHORT)


@pytest.mark.starter
def test_the_transcript_notice_comes_once_per_conversation(qtbot, service_for, starter_model):
    service = service_for(starter_model)
    assert service.transcript_mode
    notices: list[str] = []
    service.notice.connect(notices.append)
    _new_chat(service)
    _ask(qtbot, service, "Write a Python function that adds two numbers.")
    assert len(notices) == 1 and notices[0].startswith("Plain-text transcript mode:")
    assert service.model_name in notices[0]
    _ask(qtbot, service, "And one that subtracts them?")
    assert len(notices) == 1  # not again in the same conversation
    answers = [m.content for m in service.messages() if m.role == "assistant"]
    assert len(answers) == 2 and all("User:" not in a for a in answers)
    _new_chat(service)
    _ask(qtbot, service, "How do I print in Python?")
    assert len(notices) == 2  # once in the new conversation too
    assert sum("transcript mode" in n for n in notices) == 2


def test_a_model_with_a_chat_template_gets_no_transcript_notice(qtbot, service_for, tiny_models):
    service = service_for(tiny_models["generic"])  # the tiny generic model carries a ChatML template
    assert not service.transcript_mode
    notices: list[str] = []
    service.notice.connect(notices.append)
    _new_chat(service)
    _ask(qtbot, service, "hello")
    assert notices == []
