"""Fixtures: llama-cpp-python's OpenAI-compatible server as a real process, one per test module."""

from __future__ import annotations

import pytest

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
