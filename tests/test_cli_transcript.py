"""``fimble chat`` with a model that chats as a plain-text transcript says so once, on stderr."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import fimble


@pytest.mark.starter
def test_chat_with_the_starter_prints_the_transcript_notice_once(starter_model):
    question = "Say hello in Python."
    result = fimble("chat", "--model", starter_model, "--max-tokens", "40", "--temperature", "0", question)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Plain-text transcript mode:") == 1, result.stderr
    assert "User:" not in result.stdout and result.stdout.strip()
    dry = fimble("chat", "--model", starter_model, "--dry-run", "hi")
    pieces = "".join(json.loads(dry.stdout)["pieces"])
    assert pieces.endswith("\n\nUser: hi\nAssistant:") and "<start_of_turn>" not in pieces


def test_chat_with_a_template_prints_no_notice(tiny_models):
    result = fimble("chat", "--model", tiny_models["generic"], "--max-tokens", "4", "hello")
    assert result.returncode == 0, result.stderr
    assert "transcript mode" not in result.stderr
