"""The pinned completion window setting: "auto" by default, checked when read."""

from __future__ import annotations

import json

import pytest

from app.core.settings import (
    SETTINGS_FILE,
    WINDOW_MAX_TOKENS,
    WINDOW_MIN_TOKENS,
    Settings,
    open_settings,
    save_settings,
)


def test_the_window_is_sized_to_the_machine_unless_pinned(tmp_path):
    assert Settings().completion_window is None
    save_settings(tmp_path, Settings(completion_window=768))
    assert json.loads((tmp_path / SETTINGS_FILE).read_text(encoding="utf-8"))["completion_window"] == 768
    opened = open_settings(tmp_path)
    assert opened.settings.completion_window == 768 and opened.notice is None


@pytest.mark.parametrize(
    "value",
    ["768", 768.0, True, WINDOW_MIN_TOKENS - 1, WINDOW_MAX_TOKENS + 1, -5, [768]],
)
def test_a_bad_pinned_window_falls_back_to_auto_and_keeps_the_rest(tmp_path, value):
    data = {"completion_window": value, "chat_model": "/m/c.gguf"}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(data), encoding="utf-8")
    opened = open_settings(tmp_path)
    assert opened.settings.completion_window is None
    assert opened.settings.chat_model == "/m/c.gguf"
    assert opened.notice is not None and "completion_window" in opened.notice
