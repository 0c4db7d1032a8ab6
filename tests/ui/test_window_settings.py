"""The window's one way to change settings: saved when the change ends, a failure reported once."""

from __future__ import annotations

import pytest

from app.core.paths import app_dirs
from app.core.settings import Settings, load_settings
from app.ui.window_settings import WindowSettings


def test_a_change_is_saved_when_its_block_ends():
    reports: list[str] = []
    prefs = WindowSettings(Settings(), reports.append)
    with prefs.change() as settings:
        settings.system_prompt = "Be brief."
    assert load_settings(app_dirs().config).system_prompt == "Be brief."
    assert reports == []


def test_a_change_that_raises_is_not_saved():
    prefs = WindowSettings(Settings(), [].append)
    with pytest.raises(RuntimeError), prefs.change() as settings:
        settings.system_prompt = "half done"
        raise RuntimeError("interrupted")
    assert load_settings(app_dirs().config).system_prompt is None


def test_a_save_that_fails_is_reported_as_one_line_and_kept_in_memory(fimble_home):
    fimble_home.mkdir(parents=True)
    (fimble_home / "config").write_text("a file where the config folder should be")
    reports: list[str] = []
    prefs = WindowSettings(Settings(), reports.append)
    with prefs.change() as settings:
        settings.recent_files = ["/a.py"]
    assert len(reports) == 1 and reports[0].startswith("settings not saved: ") and "\n" not in reports[0]
    assert prefs.settings.recent_files == ["/a.py"]
