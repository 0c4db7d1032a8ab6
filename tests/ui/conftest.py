"""Fixtures of the window tests."""

from __future__ import annotations

import pytest

from app.core.settings import Settings
from app.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tiny_models):
    """A main window on two tiny local models (chat: generic, completion: Code Llama), both loaded."""
    settings = Settings(
        chat_model=str(tiny_models["generic"]),
        completion_model=str(tiny_models["codellama"]),
        chat_params={"n_ctx": 4096},
        completion_params={"n_ctx": 1024},
    )
    win = MainWindow(settings)
    qtbot.addWidget(win)
    with qtbot.waitSignals([win.chat_engine.worker.loaded, win.completion_engine.worker.loaded], timeout=30_000):
        win.show()
    yield win
    win.close()
