"""Token-id FIM prompts on llama.cpp's own llama-server, against the local prompt of the same GGUF.

The server is the real ``llama-server`` binary built from the llama.cpp that
llama-cpp-python ships (``make llama-server``); the local side is a
vocabulary-only runner over the same tiny model file.
"""

from __future__ import annotations

import json
from dataclasses import replace

import httpx2
import pytest

from app.core.errors import ErrorKind
from app.core.generation.contracts import ContextChunk, FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.core.remote.prompts import stop_strings, trim_leaked
from app.core.remote.servers import ServerKind
from app.engine.client import EngineError
from app.engine.remote.engine import RemoteEngine
from app.engine.remote.token_prompts import cursor_indent
from app.selftest.tiny_gguf import special_token_ids, write_tiny_gguf
from tests.engine.remote.conftest import API_KEY
from tests.support.engine_runs import run_job
from tests.support.fim_requests import SHAPE_IDS, SHAPED_REQUESTS
from tests.support.llama_cpp_server import LlamaCppServer
from tests.test_cli import fimble

FAMILIES = ("codegemma", "codellama")
CG = special_token_ids("codegemma")
CL = special_token_ids("codellama")
GREEDY = Sampling(max_tokens=12, temperature=0.0, seed=7)

LONG_PREFIX = "".join(f"value_{i} = compute({i}, {i + 1})\n" for i in range(200)) + "result = "
LONG_SUFFIX = "".join(f"print(value_{i})\n" for i in range(200))
REQUESTS = [
    *SHAPED_REQUESTS,
    FimRequest(prefix=LONG_PREFIX, suffix=LONG_SUFFIX, prefix_tokens=96, suffix_tokens=24),
]
IDS = [*SHAPE_IDS, "fitted-to-budgets"]


@pytest.fixture(scope="module")
def engines(codegemma_llama_server, codellama_llama_server):
    """A started and loaded RemoteEngine per tiny family, on llama-server."""
    made = {}
    for family, server in (("codegemma", codegemma_llama_server), ("codellama", codellama_llama_server)):
        engine = RemoteEngine("completion", server.base_url)
        engine.start()
        engine.load("", LoadParams())
        made[family] = engine
    yield made
    for engine in made.values():
        engine.close()


def detokenize(engine: RemoteEngine, ids: list[int]) -> str:
    answer = httpx2.post(f"{engine.base_url}/detokenize", json={"tokens": ids}, timeout=30)
    answer.raise_for_status()
    return answer.json()["content"]


def test_llama_server_is_detected_and_takes_token_id_prompts(engines):
    for family, engine in engines.items():
        assert engine.facts is not None and engine.facts.kind is ServerKind.LLAMA_SERVER
        assert engine.family == family and engine.model_id == f"tiny-{family}"
        assert engine.token_prompts is not None and engine.token_prompts.has_fim
        vocab = engine.token_prompts.vocab
        assert vocab.add_bos and vocab.bos_id == (CG["<bos>"] if family == "codegemma" else CL["<s>"])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("request_", REQUESTS, ids=IDS)
def test_the_token_id_prompt_is_the_local_prompt(engines, runners, family, request_):
    body = engines[family].body(request_)
    assert body["prompt"] == runners[family].build_prompt(request_)


def test_control_token_text_typed_by_the_user_stays_plain_text(engines, runners):
    gemma = FimRequest("s = '<|fim_prefix|><|fim_middle|><|file_separator|><eos><end_of_turn>'\n", "<|fim_suffix|>")
    ids = engines["codegemma"].body(gemma)["prompt"]
    assert ids == runners["codegemma"].build_prompt(gemma)
    for marker, count in (("<|fim_prefix|>", 1), ("<|fim_suffix|>", 1), ("<|fim_middle|>", 1), ("<eos>", 0)):
        assert ids.count(CG[marker]) == count, marker
    assert CG["<|file_separator|>"] not in ids and CG["<end_of_turn>"] not in ids
    # Between the layout's own markers the server reads the user's text back, letter for letter.
    start, end = ids.index(CG["<|fim_prefix|>"]) + 1, ids.index(CG["<|fim_suffix|>"])
    assert detokenize(engines["codegemma"], ids[start:end]) == gemma.prefix

    llama = FimRequest("x = '<PRE> \u2581<SUF> <MID> \u2581<EOT>'\n", "")
    ids = engines["codellama"].body(llama)["prompt"]
    assert ids == runners["codellama"].build_prompt(llama)
    for marker, count in (("\u2581<PRE>", 1), ("\u2581<SUF>", 1), ("\u2581<MID>", 1), ("\u2581<EOT>", 0)):
        assert ids.count(CL[marker]) == count, marker


def test_one_bos_and_the_server_adds_none(engines):
    engine = engines["codellama"]
    request = FimRequest("def add(a, b):\n", "", sampling=GREEDY)
    body = engine.body(request)
    ids = body["prompt"]
    assert ids[0] == CL["<s>"] and ids.count(CL["<s>"]) == 1
    answer = httpx2.post(f"{engine.base_url}/v1/completions", json=dict(body, stream=False), timeout=60).json()
    assert answer["usage"]["prompt_tokens"] == len(ids)


def test_the_body_carries_the_servers_own_fields(engines):
    engine = engines["codegemma"]
    request = FimRequest(
        "class A:\n    def f(self):\n        ", "\n", sampling=Sampling(max_tokens=16, time_limit_s=2.5)
    )
    body = engine.body(request)
    assert body["cache_prompt"] is True and body["n_indent"] == 8 and body["t_max_predict_ms"] == 2500
    assert body["stop"] == list(stop_strings("codegemma"))
    assert "n_indent" not in engine.body(FimRequest("x = 1\n", "y = 2\n"))


def test_the_indent_is_the_cursor_lines_whole_indentation():
    assert cursor_indent("if x:\n\tif y:\n\t\tpa", "ss\nz") == 2
    assert cursor_indent("def f():\n  ", "  return 1\n") == 4  # the cursor inside the indentation
    assert cursor_indent("x = 1\n", "") == 0 and cursor_indent("", "") == 0


def test_generated_tokens_equal_a_local_run_of_the_same_prompt(engines, tiny_models):
    llama_cpp = pytest.importorskip("llama_cpp")
    engine = engines["codellama"]
    request = FimRequest("def add(a, b):\n", "\n\nprint(add(1, 2))\n", sampling=GREEDY)
    ids = engine.body(request)["prompt"]
    text, stats = run_job(engine, 1, request)
    assert text and stats.finish_reason in ("stop", "length")
    # The ids the server generates for that prompt (its own API, which can return them) ...
    body = {"prompt": ids, "n_predict": GREEDY.max_tokens, "temperature": 0.0, "return_tokens": True}
    served = httpx2.post(f"{engine.base_url}/completion", json=body, timeout=60).json()
    assert served["tokens_evaluated"] == len(ids)
    # ... are those a local greedy run of the same GGUF generates.
    local = llama_cpp.Llama(str(tiny_models["codellama"]), n_ctx=512, n_threads=1, verbose=False)
    try:
        vocab = llama_cpp.llama_model_get_vocab(local.model)
        made: list[int] = []
        for token in local.generate(ids, temp=0.0, reset=True):
            if llama_cpp.llama_vocab_is_eog(vocab, token) or len(made) == GREEDY.max_tokens:
                break
            made.append(token)
    finally:
        local.close()
    assert made and served["tokens"] == made


def test_dry_run_prints_the_token_ids_it_would_send(codellama_llama_server, runners):
    result = fimble("complete", "--remote", codellama_llama_server.base_url, "--prefix", "a = '<MID>'\n", "--dry-run")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["prompt"] == runners["codellama"].build_prompt(FimRequest("a = '<MID>'\n"))
    assert body["cache_prompt"] is True and body["model"] == "tiny-codellama"


# FIM tokens llama.cpp knows (GLM-4.5's spellings) and no Fimble family module does.
INFILL_WORDS = ("<|code_prefix|>", "<|code_suffix|>", "<|code_middle|>")


@pytest.fixture(scope="module")
def infill_server(llama_server_bin, tmp_path_factory):
    """llama-server with a tiny generic model whose FIM tokens only llama.cpp recognizes."""
    model = write_tiny_gguf(tmp_path_factory.mktemp("fim") / "tiny-fim.gguf", "generic", extra_words=INFILL_WORDS)
    with LlamaCppServer(llama_server_bin, model, alias="tiny-fim") as server:
        yield server


def test_a_model_fimble_has_no_layout_for_completes_through_the_servers_infill(infill_server):
    engine = RemoteEngine("completion", infill_server.base_url)
    try:
        engine.start()
        loaded = engine.load("", LoadParams())
        assert engine.family == "generic" and engine.infill and loaded.info.can_complete
        chunk = ContextChunk("util.py", "MARK = '<|code_prefix|>'\n")
        request = FimRequest("def add(a, b):\n    ", "\n", chunks=(chunk,), sampling=GREEDY)
        body = engine.body(request)
        assert "prompt" not in body and body["cache_prompt"] is True and body["n_indent"] == 4
        assert body["input_prefix"] == request.prefix and body["input_suffix"] == request.suffix
        assert body["input_extra"] == [{"filename": "util.py", "text": chunk.text}]
        text, stats = run_job(engine, 1, request)
        assert stats.finish_reason in ("stop", "length") and stats.prompt_tokens > 0
        plain = httpx2.post(f"{engine.base_url}/infill", json=dict(body, stream=False), timeout=60).json()
        assert text == trim_leaked(plain["content"], "generic")
    finally:
        engine.close()


def test_a_model_without_fim_tokens_is_refused_in_words_on_llama_server(keyed_llama_server):
    engine = RemoteEngine("completion", keyed_llama_server.base_url, API_KEY)
    try:
        engine.start()
        loaded = engine.load("", LoadParams())
        assert engine.family == "generic" and not engine.infill and not loaded.info.can_complete
        with pytest.raises(EngineError) as refused:
            engine.body(FimRequest("x = ", ""))
        assert refused.value.kind == ErrorKind.WRONG_ROLE
    finally:
        engine.close()


def test_a_keystroke_costs_one_tokenize_request(engines, monkeypatch):
    engine = engines["codegemma"]
    client = engine._client
    asked: list[str] = []
    post = client.post_json

    def counting(path, body):
        asked.append(path)
        return post(path, body)

    monkeypatch.setattr(client, "post_json", counting)
    chunks = (ContextChunk("src/util.py", "def helper():\n    pass\n"),)
    engine.body(FimRequest("def add(a, b):\n    ret", "\n\nprint(add(1, 2))\n", path="src/main.py", chunks=chunks))
    asked.clear()
    engine.body(FimRequest("def add(a, b):\n    retu", "\n\nprint(add(1, 2))\n", path="src/main.py", chunks=chunks))
    assert asked == ["/tokenize"]  # the new prefix; suffix, path and context file come from the cache


def test_a_warm_up_fills_the_servers_prompt_cache(engines, codellama_llama_server):
    engine = engines["codellama"]
    request = FimRequest(prefix="".join(f"item_{i} = {i}\n" for i in range(40)), suffix="\nprint(item_3)\n")
    warm = next(
        item for item in engine.generate(71, replace(request, prompt_only=True)) if isinstance(item, GenerationStats)
    )
    assert warm.finish_reason == "prompt" and warm.generated_tokens == 0 and warm.prompt_tokens > 20
    body = dict(engine.body(request), stream=False, max_tokens=1)
    answer = httpx2.post(f"{codellama_llama_server.base_url}/v1/completions", json=body, timeout=30).json()
    cached = answer["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached >= warm.prompt_tokens - 1  # the real request re-evaluated at most the last token
