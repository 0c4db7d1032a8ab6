"""Model roles: stable keys, the labels the window shows, and the settings they index."""

from __future__ import annotations

import json

import pytest

from app.core.models.roles import ModelRole
from app.core.settings import Settings


def test_roles_are_keyed_by_their_value_and_labelled_for_the_window():
    assert [r.value for r in ModelRole] == ["chat", "completion"]
    assert [r.label for r in ModelRole] == ["Chat", "Completion"]
    assert ModelRole("chat") is ModelRole.CHAT
    with pytest.raises(ValueError):
        ModelRole("Chat")  # the label is not a key


def test_a_role_reads_as_its_value_in_text_json_and_dictionaries():
    role = ModelRole.COMPLETION
    assert (str(role), f"{role}", f"{role:>12}") == ("completion", "completion", "  completion")
    assert json.dumps({role: role}) == '{"completion": "completion"}'
    assert {"completion": 1}[role] == 1 and "completion" in {role: 1}


def test_settings_look_roles_up_in_their_on_disk_fields():
    settings = Settings(
        chat_model="/c.gguf", completion_model="/f.gguf", chat_params={"n_ctx": 2048}, completion_params={"n_ctx": 512}
    )
    assert settings.model_for(ModelRole.CHAT) == "/c.gguf"
    assert settings.model_for(ModelRole.COMPLETION) == "/f.gguf"
    assert settings.load_params(ModelRole.CHAT).n_ctx == 2048
    assert settings.load_params(ModelRole.COMPLETION).n_ctx == 512
