"""Shared fixtures: a private app home per test, tiny GGUF models, the starter model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.tiny_gguf import FAMILIES, write_tiny_gguf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def fimble_home(tmp_path, monkeypatch) -> Path:
    """Send config, data, cache and logs to a temp folder for every test."""
    home = tmp_path / "fimble-home"
    monkeypatch.setenv("FIMBLE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """One tiny random-weight GGUF per family: codegemma, codellama, generic."""
    folder = tmp_path_factory.mktemp("tiny-models")
    return {family: write_tiny_gguf(folder / f"{family}.gguf", family) for family in FAMILIES}


@pytest.fixture(scope="session")
def starter_model(tmp_path_factory) -> Path:
    """The real Gemma 3 270M Q4_K_M from the ``starter`` extra."""
    from app.core.starter import starter_available, starter_model_path

    if not starter_available():
        pytest.skip("the starter extra is not installed")
    return starter_model_path(tmp_path_factory.mktemp("starter"))


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """Answer the app's questions without opening modal dialogs."""
    answers = {"save": "discard", "restore": False}
    try:
        from app.ui.editor_tabs import EditorTabs
        from app.ui.main_window import MainWindow
    except ImportError:  # a test run without Qt widgets
        return answers
    monkeypatch.setattr(EditorTabs, "ask_save", lambda self, tab: answers["save"])
    monkeypatch.setattr(MainWindow, "ask_restore", lambda self, buffers: answers["restore"])
    return answers
