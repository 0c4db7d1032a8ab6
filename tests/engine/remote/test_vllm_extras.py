"""vLLM's ``stop_token_ids``, through a loopback server that answers as vLLM does.

vLLM itself needs a GPU stack, so the scripted server plays it: its
``/v1/models`` says ``owned_by: vllm`` and its ``/tokenize`` takes
``{"model", "prompt", "add_special_tokens"}`` and answers ``{"tokens": [...]}``.
"""

from __future__ import annotations

import json

from app.core.generation.contracts import FimRequest, Sampling
from app.core.models.load_params import LoadParams
from app.core.remote.prompts import stop_strings
from app.core.remote.servers import ServerKind
from app.engine.remote.engine import RemoteEngine
from tests.support.engine_runs import run_job
from tests.support.scripted_http import Reply, json_reply, sse_reply

MODELS = json.dumps(
    {"object": "list", "data": [{"id": "google/codegemma-2b", "owned_by": "vllm", "max_model_len": 8192}]}
)
# CodeGemma's real ids for its control tokens; anything else is "several tokens".
IDS = {"<|file_separator|>": 70, "<|fim_prefix|>": 67, "<|fim_suffix|>": 69, "<|fim_middle|>": 68, "<eos>": 1}
IDS["<end_of_turn>"] = 107


def tokenize(body: bytes) -> Reply:
    asked = json.loads(body)
    assert asked["model"] == "google/codegemma-2b" and asked["add_special_tokens"] is False
    text = asked["prompt"]
    tokens = [IDS[text]] if text in IDS else [500 + i for i, _ in enumerate(text)]
    return json_reply(200, json.dumps({"count": len(tokens), "max_model_len": 8192, "tokens": tokens}))


def answer() -> Reply:
    chunk = {"choices": [{"index": 0, "text": "return a + b", "finish_reason": None}]}
    last = {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}
    return sse_reply(json.dumps(chunk), json.dumps(last), "[DONE]")


def as_vllm(scripted, *, has_tokenize: bool = True) -> None:
    scripted.reply = json_reply(404, '{"detail":"Not Found"}')
    scripted.routes["GET /v1/models"] = json_reply(200, MODELS)
    if has_tokenize:
        scripted.routes["POST /tokenize"] = tokenize
    scripted.routes["POST /v1/completions"] = answer()


def sent_bodies(scripted, path: str) -> list[dict]:
    return [json.loads(body) for method, at, body in scripted.requests if method == "POST" and at == path]


def test_vllm_gets_the_ids_of_the_familys_stop_tokens_looked_up_once(scripted):
    as_vllm(scripted)
    engine = RemoteEngine("completion", scripted.base_url)
    try:
        engine.start()
        engine.load("", LoadParams())
        assert engine.facts is not None and engine.facts.kind is ServerKind.VLLM
        assert engine.family == "codegemma"
        wanted = [IDS[s] for s in stop_strings("codegemma")]
        assert engine.stop_token_ids == wanted
        looked_up = len(sent_bodies(scripted, "/tokenize"))
        assert looked_up == len(stop_strings("codegemma"))

        request = FimRequest("def add(a, b):\n    ", "\n", sampling=Sampling(max_tokens=8, temperature=0.0))
        body = engine.body(request)
        # The prompt stays text (vLLM's tokenizer would read markers in it), the stops go as ids too.
        assert isinstance(body["prompt"], str) and body["prompt"].startswith("<|fim_prefix|>")
        assert body["stop_token_ids"] == wanted and body["stop"] == list(stop_strings("codegemma"))
        assert "cache_prompt" not in body and "n_indent" not in body

        text, stats = run_job(engine, 1, request)
        assert text == "return a + b" and stats.finish_reason == "stop"
        sent = sent_bodies(scripted, "/v1/completions")
        assert sent[-1]["stop_token_ids"] == wanted and sent[-1]["prompt"] == body["prompt"]
        assert len(sent_bodies(scripted, "/tokenize")) == looked_up  # no look-up per request
    finally:
        engine.close()


def test_a_vllm_without_tokenize_sends_the_stop_strings_alone(scripted):
    as_vllm(scripted, has_tokenize=False)
    engine = RemoteEngine("completion", scripted.base_url)
    try:
        engine.start()
        engine.load("", LoadParams())
        assert engine.stop_token_ids == []
        body = engine.body(FimRequest("x = ", ""))
        assert "stop_token_ids" not in body and body["stop"]
    finally:
        engine.close()
