"""Engine fixtures: in-process runners over real vocabularies, and host engines."""

from __future__ import annotations

import threading

import pytest

from app.core.models.load_params import LoadParams
from app.engine.host_client import HostEngine
from app.engine.runner import ModelRunner


def vocab_runner(path) -> ModelRunner:
    """Load only the vocabulary of ``path`` in this process (no weights)."""
    runner = ModelRunner(threading.Event())
    runner.load(str(path), LoadParams(n_ctx=512), True, lambda _f: None)
    return runner


@pytest.fixture(scope="module")
def runners(tiny_models):
    """A vocabulary-only runner per tiny family."""
    loaded = {family: vocab_runner(path) for family, path in tiny_models.items()}
    yield loaded
    for runner in loaded.values():
        runner.unload()


@pytest.fixture
def host(tmp_path):
    """A started engine host; always closed afterwards."""
    engine = HostEngine("test", log_path=str(tmp_path / "host.log"))
    engine.start()
    yield engine
    engine.close()
