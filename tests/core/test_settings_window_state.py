"""The window's remembered state in the settings: checked when read, and this window's own when saved."""

from __future__ import annotations

import json

import pytest

from app.core.settings import SETTINGS_FILE, Settings, load_settings, open_settings, save_settings


def test_the_window_state_round_trips(tmp_path):
    files = [f"/p/file_{i}.py" for i in range(14)]  # more than the recent-files limit
    settings = Settings(
        window_geometry="AdnQywADAAA=",
        splitter_sizes={"main": [640, 640], "editor": [200, 800]},
        open_files=files,
        current_file=files[3],
        project_folder="/p",
        project_tree=False,
        zoom={"editor": 2, "chat": -1},
    )
    save_settings(tmp_path, settings)
    opened = open_settings(tmp_path)
    assert opened.notice is None
    got = opened.settings
    assert (got.window_geometry, got.splitter_sizes, got.open_files) == (
        "AdnQywADAAA=",
        {"main": [640, 640], "editor": [200, 800]},
        files,
    )
    assert (got.current_file, got.project_folder, got.project_tree, got.zoom) == (
        files[3],
        "/p",
        False,
        {"editor": 2, "chat": -1},
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("window_geometry", "not base64 !"),
        ("window_geometry", 12),
        ("splitter_sizes", {"main": [640]}),
        ("splitter_sizes", {"main": [640, -1]}),
        ("splitter_sizes", {"sidebar": [1, 2]}),
        ("open_files", "/p/a.py"),
        ("current_file", ["/p/a.py"]),
        ("project_folder", 3),
        ("project_tree", "yes"),
        ("zoom", {"editor": 99}),
        ("zoom", {"terminal": 1}),
        ("zoom", {"chat": 1.5}),
    ],
)
def test_a_bad_window_field_falls_back_to_its_default_and_keeps_the_rest(tmp_path, name, value):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({name: value, "chat_model": "/m/c.gguf"}), encoding="utf-8")
    opened = open_settings(tmp_path)
    assert getattr(opened.settings, name) == getattr(Settings(), name)
    assert opened.settings.chat_model == "/m/c.gguf"
    assert opened.notice is not None and name in opened.notice


def test_open_tabs_are_the_closing_windows_own_not_merged_with_anothers(tmp_path):
    first, second = load_settings(tmp_path), load_settings(tmp_path)
    first.open_files = ["/p/a.py", "/p/b.py"]
    save_settings(tmp_path, first)
    second.open_files = ["/q/c.py"]
    save_settings(tmp_path, second)
    assert load_settings(tmp_path).open_files == ["/q/c.py"]
