"""Fixtures: llama-cpp-python's server and llama.cpp's llama-server as real processes, one per test module."""

from __future__ import annotations

import pytest

from tests.support.llama_cpp_server import LlamaCppServer, llama_server_binary
from tests.support.llama_server import LlamaServer
from tests.support.scripted_http import ScriptedServer

API_KEY = "test-key-0123"


@pytest.fixture(scope="module")
def codellama_server(tiny_models):
    """The tiny Code Llama-shaped model behind ``python -m llama_cpp.server`` (no API key).

    (The tiny CodeGemma model's greedy answers are control tokens, which print as nothing.)
    """
    with LlamaServer(tiny_models["codellama"], alias="tiny-codellama") as server:
        yield server


@pytest.fixture(scope="module")
def keyed_server(tiny_models):
    """The tiny generic model behind a server that wants ``API_KEY``."""
    with LlamaServer(tiny_models["generic"], alias="tiny-generic", api_key=API_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def starter_server(starter_model):
    """The real starter model (Gemma 3 270M) behind the server."""
    with LlamaServer(starter_model, alias="gemma-3-270m", n_ctx=2048) as server:
        yield server


@pytest.fixture
def scripted():
    """A loopback HTTP server that answers with whatever reply the test sets."""
    with ScriptedServer() as server:
        yield server


# ---- llama.cpp's own llama-server (built by `make llama-server`) ------------------------


@pytest.fixture(scope="session")
def llama_server_bin():
    """The llama-server binary; skips (or fails with FIMBLE_REQUIRE_LLAMA_SERVER=1) when it is not built."""
    return llama_server_binary()


@pytest.fixture(scope="module")
def codellama_llama_server(llama_server_bin, tiny_models):
    """The tiny Code Llama-shaped model behind llama-server."""
    with LlamaCppServer(llama_server_bin, tiny_models["codellama"], alias="tiny-codellama") as server:
        yield server


@pytest.fixture(scope="module")
def codegemma_llama_server(llama_server_bin, tiny_models):
    """The tiny CodeGemma-shaped model behind llama-server."""
    with LlamaCppServer(llama_server_bin, tiny_models["codegemma"], alias="tiny-codegemma") as server:
        yield server


@pytest.fixture(scope="module")
def keyed_llama_server(llama_server_bin, tiny_models):
    """The tiny generic model (no FIM tokens) behind llama-server, wanting ``API_KEY``."""
    with LlamaCppServer(llama_server_bin, tiny_models["generic"], alias="tiny-generic", api_key=API_KEY) as server:
        yield server
