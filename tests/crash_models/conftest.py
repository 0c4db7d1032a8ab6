"""The crash_app fixture: window processes started for a test and killed at its end."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.crash_models.jobs_app import AppProcess


@pytest.fixture
def crash_app(tmp_path, monkeypatch):
    """Start driver processes: ``crash_app(mode, *args)``; all are killed at the end."""
    if not Path("/proc/self/stat").exists() or not hasattr(signal, "SIGKILL"):
        pytest.skip("crash tests read process trees from /proc and need SIGKILL")
    hf_home = tmp_path / "hf-home-child"
    hf_home.mkdir()
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_TOKEN_PATH", str(hf_home / "token"))
    started: list[AppProcess] = []

    def start(mode: str, *args) -> AppProcess:
        index = len(started)
        app = AppProcess(tmp_path / f"app-{index}.json", mode, [str(a) for a in args], tmp_path / f"app-{index}.log")
        started.append(app)
        return app

    yield start
    for app in started:
        app.clean_up()
