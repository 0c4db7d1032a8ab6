"""Shared fixtures: a private app home per test, tiny GGUF models, the starter model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.selftest.tiny_gguf import FAMILIES, write_tiny_gguf
from tests.support import gui_thread_waits

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the keyring of the machine running the tests: API keys go to the
# 0600 file under FIMBLE_HOME (tests of the keyring path pass their own backend).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
gui_thread_waits.install()


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
    from app.core.models.starter import starter_available, starter_model_path

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


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A Hub-compatible server on 127.0.0.1, with HF_ENDPOINT and the token file pointed at it."""
    import huggingface_hub.constants as hf_constants

    from tests.support.hub_server import HubServer

    token_dir = tmp_path / "hf-home"
    token_dir.mkdir()
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(token_dir / "token"))
    monkeypatch.setattr(hf_constants, "HF_STORED_TOKENS_PATH", str(token_dir / "stored_tokens"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def full_precision_model(tmp_path_factory) -> Path:
    """A tiny F16 CodeGemma-shaped model whose rows suit k-quants (256 wide)."""
    folder = tmp_path_factory.mktemp("f16-model")
    return write_tiny_gguf(
        folder / "codegemma-tiny.gguf", "codegemma", n_embd=256, n_ff=512, file_type="F16", name="codegemma-tiny"
    )
