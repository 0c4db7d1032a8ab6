"""Fixtures for the crash tests: tiny models in the settings, and the app in a child process."""

from __future__ import annotations

import pytest

from app.core.paths import app_dirs
from app.core.settings import Settings, save_settings
from tests.crash.app_process import AppChild


@pytest.fixture
def crash_settings(tiny_models, fimble_home) -> Settings:
    """Settings in the test's app home naming tiny models, as the child and the restart read them."""
    settings = Settings(
        chat_model=str(tiny_models["generic"]),
        completion_model=str(tiny_models["codellama"]),
        chat_params={"n_ctx": 2048},
        completion_params={"n_ctx": 1024},
    )
    save_settings(app_dirs().ensure().config, settings)
    return settings


@pytest.fixture
def app_child(crash_settings):
    """Start the app in a child process: ``app_child(mode, *args)``; all are killed afterwards."""
    started: list[AppChild] = []

    def start(mode: str, *args: str) -> AppChild:
        child = AppChild(mode, *args)
        started.append(child)
        return child

    yield start
    for child in started:
        child.cleanup()
