"""A role's remote engine in the settings: URLs people type, the stored shape, and what loads."""

from __future__ import annotations

import json

import pytest

from app.core.remote.choice import RemoteChoice, RemoteTarget, check_url, valid_remotes, where
from app.core.settings import Settings, load_settings, open_settings, save_settings


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("gpu-box:8000", "http://gpu-box:8000"),
        ("  http://gpu-box:8000/  ", "http://gpu-box:8000"),
        ("https://x.endpoints.huggingface.cloud/v1", "https://x.endpoints.huggingface.cloud"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_urls_people_type_become_base_urls(typed, url):
    assert check_url(typed) == url


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "give the server's URL"),
        ("ftp://box:21", "must start with http:// or https://"),
        ("http://", "names no host"),
        ("http://box:99999", "port is not a number from 1 to 65535"),
    ],
)
def test_a_bad_url_gets_one_line_that_says_why(typed, says):
    with pytest.raises(ValueError, match=says) as caught:
        check_url(typed)
    assert "\n" not in str(caught.value)


def test_the_status_bar_shows_host_and_port():
    assert where("http://gpu-box:8000") == "gpu-box:8000"
    assert where("https://endpoint.example") == "endpoint.example"
    assert where("http://[::1]:8080") == "[::1]:8080"


def test_a_choice_round_trips_through_its_stored_form():
    choice = RemoteChoice("http://gpu-box:8000", "google/codegemma-7b-it", "codegemma", True)
    assert RemoteChoice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice
    assert valid_remotes({"chat": choice.to_dict()})
    assert not valid_remotes({"editor": choice.to_dict()})
    assert not valid_remotes({"chat": {**choice.to_dict(), "family": "gpt"}})
    assert not valid_remotes({"chat": {**choice.to_dict(), "active": "yes"}})


def test_the_key_a_target_carries_is_never_in_its_repr():
    target = RemoteTarget(RemoteChoice("http://gpu-box:8000"), new_key="sk-secret-123")
    assert "sk-secret-123" not in repr(target)
    assert str(target) == "http://gpu-box:8000"


def test_settings_say_what_each_role_loads(tmp_path):
    settings = Settings(chat_model="/models/chat.gguf")
    settings.remote_engines["completion"] = RemoteChoice("http://box:8000", "codellama-7b").to_dict()
    settings.remote_engines["chat"] = RemoteChoice("http://box:8000", active=False).to_dict()
    save_settings(tmp_path, settings)
    again = load_settings(tmp_path)
    assert again.source_for("chat") == "/models/chat.gguf"  # remembered but not in use
    completion = again.source_for("completion")
    assert isinstance(completion, RemoteTarget) and completion.choice.model == "codellama-7b"
    assert "key" not in (tmp_path / "settings.json").read_text()


def test_a_bad_remote_field_falls_back_alone(tmp_path):
    (tmp_path / "settings.json").write_text(
        json.dumps({"chat_model": "/m.gguf", "remote_engines": {"chat": {"url": 5}}}), encoding="utf-8"
    )
    opened = open_settings(tmp_path)
    assert opened.settings.remote_engines == {} and opened.settings.chat_model == "/m.gguf"
    assert opened.notice is not None and "remote_engines" in opened.notice
