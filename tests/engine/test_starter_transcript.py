"""The real starter model (a base model, no chat template) answering through the engine host as a transcript."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.core.chat.defaults import DEFAULT_SYSTEM_PROMPT, default_sampling
from app.core.generation.contracts import ChatMessage, ChatRequest, GenerationStats
from app.core.models.load_params import LoadParams
from bench.starter_echo import ECHO_WORDS, echo_sources, echoes

pytestmark = pytest.mark.starter

SAMPLING = replace(default_sampling("generic"), max_tokens=160, temperature=0.0, seed=0)


def _answer(host, job: int, messages: tuple[ChatMessage, ...]) -> tuple[str, GenerationStats]:
    pieces, stats = [], None
    for item in host.generate(job, ChatRequest(messages, SAMPLING)):
        if isinstance(item, GenerationStats):
            stats = item
        else:
            pieces.append(item)
    assert stats is not None
    return "".join(pieces), stats


def test_a_coding_question_gets_an_answer_not_the_instructions_back(host, starter_model):
    loaded = host.load(str(starter_model), LoadParams(n_ctx=2048))
    assert not loaded.info.has_chat_template and loaded.info.family == "generic"
    question = "Write a Python function that reverses a string."
    answer, stats = _answer(host, 1, (ChatMessage("system", DEFAULT_SYSTEM_PROMPT), ChatMessage("user", question)))
    assert answer.strip(), stats
    assert not echoes(answer, echo_sources(DEFAULT_SYSTEM_PROMPT), ECHO_WORDS), answer
    assert "User:" not in answer and "Assistant:" not in answer  # the next turn's marker is cut, never shown
    assert stats.finish_reason == "stop", (stats, answer)  # it ended at that marker, well short of the limit
    assert answer == answer.strip()  # no space after "Assistant:" and no blank line before the next turn


def test_old_turns_are_left_out_to_fit_the_context(host, starter_model):
    host.load(str(starter_model), LoadParams(n_ctx=512))
    history: list[ChatMessage] = [ChatMessage("system", DEFAULT_SYSTEM_PROMPT)]
    for index in range(8):
        history += [ChatMessage("user", f"question {index} " + "word " * 30), ChatMessage("assistant", "ok " * 30)]
    history.append(ChatMessage("user", "How do I print hello in Python?"))
    answer, stats = _answer(host, 2, tuple(history))
    assert stats.dropped_turns > 0 and stats.notice and "left out" in stats.notice
    assert stats.prompt_tokens + min(SAMPLING.max_tokens, stats.n_ctx // 2) <= stats.n_ctx
    assert "User:" not in answer
