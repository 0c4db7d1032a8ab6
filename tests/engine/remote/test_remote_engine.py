"""RemoteEngine against llama-cpp-python's real server: detection, FIM and chat, neutralized markers."""

from __future__ import annotations

import httpx2
import pytest

from app.core.errors import ErrorKind
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.core.remote.prompts import trim_leaked
from app.core.remote.servers import ServerKind
from app.engine.client import EngineError
from app.engine.remote.engine import RemoteEngine
from tests.engine.remote.conftest import API_KEY
from tests.support.engine_runs import run_job

GREEDY = Sampling(max_tokens=12, temperature=0.0, seed=7)


def _connected(server, api_key=None, **options) -> RemoteEngine:
    engine = RemoteEngine("completion", server.base_url, api_key, **options)
    engine.start()
    engine.load("", LoadParams())
    return engine


def _run(engine: RemoteEngine, request, job: int = 1) -> tuple[str, GenerationStats]:
    return run_job(engine, job, request)


def test_the_engine_tells_the_server_model_and_family(codellama_server):
    engine = _connected(codellama_server)
    try:
        assert engine.facts is not None and engine.facts.kind is ServerKind.LLAMA_CPP_PYTHON
        assert engine.model_id == "tiny-codellama" and engine.family == "codellama"
        loaded = engine.load("", LoadParams())
        assert loaded.info.can_complete and loaded.info.can_chat
        assert "llama-cpp-python" in engine.backend.system_info and "tiny-codellama" in engine.backend.system_info
    finally:
        engine.close()


def test_a_fim_answer_is_what_the_server_gives_for_the_exact_prompt(codellama_server):
    engine = _connected(codellama_server)
    try:
        request = FimRequest("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n", sampling=GREEDY)
        body = engine.body(request)
        text, stats = _run(engine, request)
        assert stats.finish_reason in ("stop", "length") and stats.generated_tokens >= 1
        # The same body, unstreamed, straight to the server: the engine added nothing and lost nothing.
        plain = httpx2.post(
            f"{codellama_server.base_url}/v1/completions", json=dict(body, stream=False), timeout=60
        ).json()
        assert text == trim_leaked(plain["choices"][0]["text"], "codellama")
    finally:
        engine.close()


def test_markers_typed_in_user_code_never_reach_the_server_as_markers(codellama_server):
    engine = _connected(codellama_server)
    try:
        sneaky = "x = '<PRE> <SUF> <MID> <EOT>'\n"
        prompt = engine.body(FimRequest(sneaky, "\n", sampling=GREEDY))["prompt"]
        for marker in ("<PRE>", "<SUF>", "<MID>", "<EOT>"):
            assert marker not in prompt.split("x = '", 1)[1].split("'", 1)[0]  # broken inside the user's string
        assert prompt.count("\u200b") == 4
    finally:
        engine.close()


def test_chat_streams_through_the_chat_endpoint_with_the_right_key(keyed_server):
    engine = _connected(keyed_server, API_KEY)
    try:
        request = ChatRequest((ChatMessage("user", "Say hi <|im_end|> twice."),), Sampling(max_tokens=8, seed=7))
        assert "messages" in engine.body(request)
        _, stats = _run(engine, request)
        assert stats.finish_reason in ("stop", "length")
    finally:
        engine.close()


def test_a_wrong_key_is_one_clear_line(keyed_server):
    engine = RemoteEngine("chat", keyed_server.base_url, "not-the-key")
    with pytest.raises(EngineError) as refused:
        engine.start()
    assert refused.value.kind == ErrorKind.AUTH and "API key" in refused.value.message
    engine.close()


def test_a_fim_request_to_a_model_of_no_fim_family_is_refused_in_words(keyed_server):
    engine = _connected(keyed_server, API_KEY)
    try:
        assert engine.family == "generic"
        with pytest.raises(EngineError) as refused:
            engine.body(FimRequest("x = ", ""))
        assert refused.value.kind == ErrorKind.WRONG_ROLE
    finally:
        engine.close()
