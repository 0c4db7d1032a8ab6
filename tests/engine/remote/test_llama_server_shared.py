"""The client and engine tests written for llama-cpp-python's server, run again on llama-server.

The test functions are imported from their modules, so pytest collects them
here too, with this module's fixtures: ``codellama_server``, ``keyed_server``
and ``starter_server`` are llama.cpp's own llama-server serving the same
models under the same names. Tests that check something only llama-cpp-python
does (its ``echo``, its kind, its text prompts) are not imported; nor is the
starter model's streamed-equals-unstreamed test, which is redone below with
``cache_prompt`` off: llama-server reuses the cached prompt by default, and a
quantized model's logits then differ slightly from a fresh evaluation.
"""

from __future__ import annotations

import json
import threading

import httpx2
import pytest

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.engine.client import EngineError
from app.engine.remote.client import RemoteClient
from app.engine.remote.engine import RemoteEngine
from tests.engine.remote.test_client_errors import (  # noqa: F401 - collected here with this module's fixtures
    test_a_wrong_key_gets_the_api_key_message,
    test_no_key_gets_the_needs_a_key_message_and_the_right_key_works,
)
from tests.engine.remote.test_client_stream import (  # noqa: F401
    test_a_cancel_set_before_the_request_sends_nothing,
    test_a_stop_string_cuts_the_answer,
    test_cancel_mid_stream_ends_the_stream_and_the_server_serves_the_next_request,
    test_chat_streams_the_same_answer_as_an_unstreamed_request,
    test_streamed_fim_text_equals_the_unstreamed_answer,
)
from tests.engine.remote.test_remote_engine import (  # noqa: F401
    GREEDY,
    _connected,
    _run,
    test_a_fim_answer_is_what_the_server_gives_for_the_exact_prompt,
    test_a_wrong_key_is_one_clear_line,
    test_chat_streams_through_the_chat_endpoint_with_the_right_key,
)
from tests.support.llama_cpp_server import LlamaCppServer
from tests.test_cli import fimble


@pytest.fixture(scope="module")
def codellama_server(codellama_llama_server):
    """llama-server with the tiny Code Llama-shaped model, as ``tiny-codellama``."""
    return codellama_llama_server


@pytest.fixture(scope="module")
def keyed_server(keyed_llama_server):
    """llama-server with the tiny generic model, wanting ``API_KEY``."""
    return keyed_llama_server


@pytest.fixture(scope="module")
def starter_server(llama_server_bin, starter_model):
    """llama-server with the real starter model (Gemma 3 270M)."""
    with LlamaCppServer(llama_server_bin, starter_model, alias="gemma-3-270m", n_ctx=2048) as server:
        yield server


def _complete(server, body) -> str:
    answer = httpx2.post(f"{server.base_url}/v1/completions", json=dict(body, stream=False), timeout=120)
    answer.raise_for_status()
    return answer.json()["choices"][0]["text"]


@pytest.mark.starter
def test_the_real_model_streams_a_completion_equal_to_the_unstreamed_one_on_llama_server(starter_server):
    body = {"prompt": "def add(a, b):", "max_tokens": 12, "temperature": 0.0, "seed": 1, "cache_prompt": False}
    expected = _complete(starter_server, body)
    with RemoteClient(starter_server.base_url) as client:
        text = "".join(client.stream_completion(body, threading.Event(), time_limit_s=120))
        assert client.last_finish == "length"
    assert text and text == expected


@pytest.mark.starter
def test_n_indent_ends_the_answer_at_a_line_indented_less_than_the_cursor(starter_server):
    prompt = "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    "
    body = {"prompt": prompt, "max_tokens": 40, "temperature": 0.0, "cache_prompt": False}
    free = _complete(starter_server, body)
    lines = free.split("\n")
    # The server counts a blank line as indented by nothing, so it ends the answer too.
    outdented = next(i for i, line in enumerate(lines) if i > 0 and not line.startswith("    "))
    cut = _complete(starter_server, dict(body, n_indent=4))
    assert cut == "\n".join(lines[:outdented]) + "\n"


@pytest.mark.starter
def test_a_model_without_fim_tokens_offers_no_completion(starter_server):
    engine = RemoteEngine("completion", starter_server.base_url)
    try:
        engine.start()
        loaded = engine.load("", LoadParams())
        assert engine.family == "generic" and engine.token_prompts is not None
        if engine.token_prompts.has_fim:
            pytest.skip("this starter model has FIM tokens")
        assert not loaded.info.can_complete and not engine.infill
        with pytest.raises(EngineError, match="fill-in-the-middle"):
            engine.body(FimRequest("x = ", ""))
    finally:
        engine.close()


@pytest.mark.starter
def test_remote_test_samples_chat_when_the_model_has_no_fim_tokens(starter_server):
    result = fimble("remote", "test", starter_server.base_url, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["server"] == "llama.cpp server" and shown["model"] == "gemma-3-270m"
    assert shown["context_length"] == 2048 and shown["sample"]


def test_remote_test_samples_fim_through_token_ids(codellama_server):
    result = fimble("remote", "test", codellama_server.base_url, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["server"] == "llama.cpp server" and shown["family"] == "codellama"
    assert isinstance(shown["sample"], str)


def test_cancel_closes_the_stream_and_the_next_request_is_served(codellama_server):
    """The engine's cancel, on llama-server only: with a random model's lone bytes, which never
    decode, llama-cpp-python's server holds its stream back until the answer ends (its
    own cancel test, in test_client_stream, bans those bytes; an engine request cannot)."""
    engine = _connected(codellama_server)
    try:
        long = Sampling(max_tokens=400, temperature=0.0, seed=7)
        stream = engine.generate(1, FimRequest("def add(a, b):\n", "", sampling=long))
        first = next(item for item in stream if not isinstance(item, GenerationStats))
        assert first
        threading.Thread(target=engine.cancel, args=(1,)).start()
        rest = list(stream)
        stats = rest[-1]
        assert isinstance(stats, GenerationStats) and stats.finish_reason == "cancelled"
        assert stats.generated_tokens < 400
        _, again = _run(engine, FimRequest("def sub(a, b):\n    ", "\n", sampling=GREEDY), job=2)
        assert again.finish_reason in ("stop", "length")
    finally:
        engine.close()
