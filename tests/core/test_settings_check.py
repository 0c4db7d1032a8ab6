"""Settings are checked when read: a bad file gives one line, the defaults, and is kept aside."""

from __future__ import annotations

import json
import os
import time
from dataclasses import fields
from pathlib import Path

import pytest

from app.core.settings import (
    _CHECKS,
    SETTINGS_FILE,
    Settings,
    load_settings,
    open_settings,
    save_settings,
)

WHEN = time.mktime((2026, 11, 29, 18, 15, 0, 0, 0, -1))
STAMP = "20261129-181500"


def _write(folder: Path, raw: bytes) -> None:
    (folder / SETTINGS_FILE).write_bytes(raw)


def _on_disk(folder: Path) -> object:
    return json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))


def _kept(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(f"{SETTINGS_FILE}.bad-"))


def test_a_missing_file_gives_the_defaults_quietly(tmp_path):
    opened = open_settings(tmp_path / "config")
    assert opened.settings == Settings()
    assert (opened.notice, opened.kept_at) == (None, None)
    assert not (tmp_path / "config").exists()  # reading creates nothing


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"chat_model": "/m/a.gguf",\n  "system_prompt": "caf\xc3\xa9" oops', "is not valid JSON"),
        (b"\xff\xfe\x00 not text at all", "is not valid JSON"),
        (b'["a", "list"]\n', "does not hold a JSON object"),
        (b"null", "does not hold a JSON object"),
    ],
)
def test_a_file_that_is_not_a_settings_object_gives_the_defaults_and_is_kept(tmp_path, raw, says):
    _write(tmp_path, raw)
    opened = open_settings(tmp_path, now=lambda: WHEN)
    assert opened.settings == Settings()
    notice = opened.notice
    assert notice is not None and "\n" not in notice and "\r" not in notice
    assert says in notice and "defaults are used" in notice
    assert opened.kept_at == tmp_path / f"{SETTINGS_FILE}.bad-{STAMP}"
    assert opened.kept_at.name in notice
    assert opened.kept_at.read_bytes() == raw  # exactly what the user had
    assert _on_disk(tmp_path) == {}  # the file itself is usable again
    again = open_settings(tmp_path)
    assert (again.notice, again.kept_at) == (None, None)  # told once, not at every start
    assert _kept(tmp_path) == [opened.kept_at]


def test_values_of_the_wrong_type_fall_back_field_by_field(tmp_path):
    data = {
        "chat_model": 3,
        "recent_files": "oops",
        "chat_params": {"n_ctx": "big"},
        "model_params": {"/m/a.gguf": {"n_ctx": 2048}, "/m/b.gguf": {"type_k": "q9_9"}},
        "chat_templates": {"explain": ["not", "text"]},
        "system_prompt": "Be brief.",
        "completion_params": {"n_ctx": 512, "rope_freq_base": 10000},
        "completion_model": None,
        "from_a_newer_fimble": {"x": 1},
    }
    raw = json.dumps(data, indent=1).encode("utf-8")
    _write(tmp_path, raw)
    opened = open_settings(tmp_path, now=lambda: WHEN)
    assert opened.settings == Settings(
        system_prompt="Be brief.", completion_params={"n_ctx": 512, "rope_freq_base": 10000}
    )
    assert opened.notice == (
        f"The settings file {tmp_path / SETTINGS_FILE} has values of the wrong type for chat_model, chat_params,"
        f" chat_templates, recent_files, model_params; those use their defaults, and the file was kept as"
        f" {SETTINGS_FILE}.bad-{STAMP}"
    )
    assert opened.kept_at is not None and opened.kept_at.read_bytes() == raw
    # The file keeps what was good, and what this version does not know.
    assert _on_disk(tmp_path) == {
        "system_prompt": "Be brief.",
        "completion_params": {"n_ctx": 512, "rope_freq_base": 10000},
        "completion_model": None,
        "from_a_newer_fimble": {"x": 1},
    }
    assert open_settings(tmp_path).notice is None


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"n_ctx": 2048, "n_threads": None, "flash_attn": True, "type_k": "q8_0"}, True),
        ({"rope_freq_scale": 1}, True),  # an int where a float goes
        ({"a_setting_from_later": [1, 2]}, True),  # unknown keys are ignored by the engine, kept here
        ({"n_ctx": True}, False),  # a boolean is not a number
        ({"flash_attn": 1}, False),
        ({"n_threads": 2.5}, False),
        ({"n_ctx": -5}, False),  # the engine's own range check
        ({"type_v": "f64"}, False),
        (["n_ctx", 2048], False),
    ],
)
def test_load_settings_are_checked_as_the_engine_would(tmp_path, params, ok):
    _write(tmp_path, json.dumps({"chat_params": params}).encode("utf-8"))
    opened = open_settings(tmp_path)
    assert (opened.settings.chat_params == params) is ok
    assert (opened.notice is None) is ok


def test_a_later_save_writes_a_good_file(tmp_path):
    _write(tmp_path, b'{"recent_files": ["/a.py", 7], "chat_model": "/m/c.gguf"}')
    settings = load_settings(tmp_path)
    assert settings == Settings(chat_model="/m/c.gguf")
    settings.recent_files = ["/b.py"]
    save_settings(tmp_path, settings)
    data = _on_disk(tmp_path)
    assert isinstance(data, dict) and set(data) == {f.name for f in fields(Settings)}
    assert (data["chat_model"], data["recent_files"]) == ("/m/c.gguf", ["/b.py"])
    opened = open_settings(tmp_path)
    assert opened.notice is None and opened.settings.recent_files == ["/b.py"]
    assert len(_kept(tmp_path)) == 1


def test_a_file_that_went_bad_after_loading_is_kept_before_a_save_replaces_it(tmp_path):
    save_settings(tmp_path, Settings(system_prompt="Mine."))
    settings = load_settings(tmp_path)
    _write(tmp_path, b"{ half written by hand")
    settings.chat_model = "/m/x.gguf"
    save_settings(tmp_path, settings, now=lambda: WHEN)
    assert [p.read_bytes() for p in _kept(tmp_path)] == [b"{ half written by hand"]
    assert load_settings(tmp_path) == Settings(chat_model="/m/x.gguf", system_prompt="Mine.")


def test_files_kept_aside_in_the_same_second_get_their_own_names(tmp_path):
    for raw in (b"first", b"second"):
        _write(tmp_path, raw)
        open_settings(tmp_path, now=lambda: WHEN)
    kept = _kept(tmp_path)
    assert [p.name for p in kept] == [f"{SETTINGS_FILE}.bad-{STAMP}", f"{SETTINGS_FILE}.bad-{STAMP}-2"]
    assert [p.read_bytes() for p in kept] == [b"first", b"second"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="needs a folder the user cannot write")
def test_a_bad_file_that_cannot_be_kept_aside_is_left_as_it_is(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    _write(folder, b"not json")
    (folder / "settings.json.lock").touch()
    folder.chmod(0o500)
    try:
        opened = open_settings(folder)
    finally:
        folder.chmod(0o700)
    assert opened.settings == Settings() and opened.kept_at is None
    assert opened.notice is not None and "could not be kept aside" in opened.notice and "\n" not in opened.notice
    assert (folder / SETTINGS_FILE).read_bytes() == b"not json"


def test_a_settings_file_that_is_a_folder_is_reported_and_left_alone(tmp_path):
    (tmp_path / SETTINGS_FILE).mkdir()
    opened = open_settings(tmp_path)
    assert opened.settings == Settings() and opened.kept_at is None
    notice = opened.notice
    assert notice is not None and "\n" not in notice
    assert "cannot be read" in notice and "could not be kept aside" in notice
    assert (tmp_path / SETTINGS_FILE).is_dir()


def test_every_setting_has_a_check():
    assert set(_CHECKS) == {f.name for f in fields(Settings)}
