"""Server detection, family guessing and the one-line description."""

from __future__ import annotations

import pytest

from app.core.generation.families import FAMILIES
from app.core.remote.servers import (
    RemoteFormatError,
    ServerFacts,
    ServerKind,
    describe,
    detect_server,
    display_name,
    guess_family,
)

# Bodies shaped after each server's documented fields.
LLAMA_PROPS = {
    "default_generation_settings": {"n_ctx": 8192, "params": {"n_predict": -1}},
    "total_slots": 1,
    "model_path": "/models/codegemma-7b-it-Q4_K_M.gguf",
    "chat_template": "{{ bos_token }}",
    "build_info": "b6500-abc1234",
    "is_sleeping": False,
}
LLAMA_MODELS = {
    "object": "list",
    "data": [{"id": "codegemma", "object": "model", "owned_by": "llamacpp", "meta": {"n_ctx": 4096}}],
}
TGI_INFO = {
    "model_id": "google/codegemma-7b-it",
    "model_sha": "abc",
    "max_concurrent_requests": 128,
    "max_best_of": 2,
    "max_stop_sequences": 4,
    "max_input_tokens": 4095,
    "max_total_tokens": 8192,
    "router": "text-generation-router",
    "version": "3.3.7",
}
TGI_MODELS = {"object": "list", "data": [{"id": "google/codegemma-7b-it", "owned_by": "google/codegemma-7b-it"}]}
VLLM_MODELS = {
    "object": "list",
    "data": [
        {
            "id": "codellama/CodeLlama-7b-hf",
            "object": "model",
            "owned_by": "vllm",
            "root": "codellama/CodeLlama-7b-hf",
            "max_model_len": 16384,
        }
    ],
}
OLLAMA_MODELS = {"object": "list", "data": [{"id": "codegemma:7b-code", "object": "model", "owned_by": "library"}]}
LCP_MODELS = {"object": "list", "data": [{"id": "starter", "object": "model", "owned_by": "me", "permissions": []}]}
LMSTUDIO_MODELS = {
    "object": "list",
    "data": [{"id": "codellama-7b-instruct", "object": "model", "owned_by": "organization_owner"}],
}


def test_llama_server_from_props():
    facts = detect_server(LLAMA_PROPS, None, None, LLAMA_MODELS)
    assert facts == ServerFacts(
        ServerKind.LLAMA_SERVER,
        "codegemma",
        context_length=8192,
        accepts_token_ids=True,
        adds_bos_to_strings=True,
        has_tokenize=True,
        version="b6500-abc1234",
        model_ids=("codegemma",),
    )


def test_llama_server_without_models_names_the_model_file():
    facts = detect_server(LLAMA_PROPS, None, None, None)
    assert facts.model_id == "codegemma-7b-it-Q4_K_M.gguf"
    windows = dict(LLAMA_PROPS, model_path="C:\\models\\codellama-7b.gguf")
    assert detect_server(windows, None, None, None).model_id == "codellama-7b.gguf"


def test_llama_server_known_by_its_models_owner_when_props_failed():
    facts = detect_server(None, None, None, LLAMA_MODELS)
    assert facts.kind is ServerKind.LLAMA_SERVER
    assert facts.context_length == 4096
    assert facts.accepts_token_ids and facts.has_tokenize


def test_tgi_from_info():
    facts = detect_server(None, TGI_INFO, None, TGI_MODELS)
    assert facts.kind is ServerKind.TGI
    assert facts.model_id == "google/codegemma-7b-it"
    assert facts.context_length == 8192
    assert facts.max_stop_sequences == 4
    assert facts.version == "3.3.7"
    assert not facts.accepts_token_ids and facts.adds_bos_to_strings


def test_tgi_older_info_and_no_models_list():
    older = {k: v for k, v in TGI_INFO.items() if k not in ("max_input_tokens", "max_total_tokens")}
    older["max_input_length"] = 1024
    facts = detect_server(None, older, None, None)
    assert facts.model_id == "google/codegemma-7b-it"
    assert facts.context_length == 1024


def test_info_without_stop_limit_is_not_tgi():
    facts = detect_server(None, {"model_id": "x"}, None, LMSTUDIO_MODELS)
    assert facts.kind is ServerKind.GENERIC


def test_ollama_from_version():
    facts = detect_server(None, None, {"version": "0.12.3"}, OLLAMA_MODELS)
    assert facts.kind is ServerKind.OLLAMA
    assert facts.model_id == "codegemma:7b-code"
    assert facts.version == "0.12.3"
    assert facts.context_length is None and not facts.accepts_token_ids


def test_vllm_from_models():
    facts = detect_server(None, None, None, VLLM_MODELS)
    assert facts.kind is ServerKind.VLLM
    assert facts.context_length == 16384
    assert facts.accepts_token_ids and facts.has_tokenize and facts.adds_bos_to_strings


def test_llama_cpp_python_and_generic():
    lcp = detect_server(None, None, None, LCP_MODELS)
    assert (lcp.kind, lcp.model_id, lcp.accepts_token_ids, lcp.has_tokenize) == (
        ServerKind.LLAMA_CPP_PYTHON,
        "starter",
        False,
        False,
    )
    generic = detect_server(None, None, None, LMSTUDIO_MODELS)
    assert generic.kind is ServerKind.GENERIC and generic.model_id == "codellama-7b-instruct"


def test_malformed_bodies_are_ignored():
    facts = detect_server("Not Found", [1, 2], {"version": 3}, {"data": [{"id": "m", "max_model_len": "big"}]})
    assert facts.kind is ServerKind.GENERIC and facts.context_length is None


def test_nothing_names_a_model():
    with pytest.raises(RemoteFormatError, match="did not answer /v1/models, /props or /info") as caught:
        detect_server(None, None, None, None)
    assert "\n" not in str(caught.value)
    with pytest.raises(RemoteFormatError, match="lists no model"):
        detect_server(None, None, {"version": "0.12.3"}, {"object": "list", "data": []})
    with pytest.raises(RemoteFormatError, match="lists no model"):
        detect_server(None, None, None, {"object": "list"})
    assert issubclass(RemoteFormatError, ValueError)


def test_kind_labels_and_values():
    assert ServerKind("openai-compatible") is ServerKind.GENERIC
    assert ServerKind.TGI.label == "Text Generation Inference"
    assert ServerKind.LLAMA_SERVER.label == "llama.cpp server"
    assert all(kind.label for kind in ServerKind)
    spelled = {kind for kind in ServerKind if kind.llama_cpp_tokenizer}
    assert spelled == {ServerKind.LLAMA_SERVER, ServerKind.LLAMA_CPP_PYTHON}


@pytest.mark.parametrize(
    ("names", "family"),
    [
        (("google/codegemma-7b-it",), "codegemma"),
        (("codegemma:7b-code",), "codegemma"),
        (("/models/CodeGemma-2B.Q4_K_M.gguf",), "codegemma"),
        (("gemma-2-2b",), None),  # Gemma without "code": no FIM layout
        (("gemma-3-270m-it", "codegemma:2b"), "codegemma"),
        (("codellama/CodeLlama-7b-Instruct-hf",), "codellama"),
        (("code-llama-13b",), "codellama"),
        (("codellama:7b-code",), "codellama"),
        (("C:\\models\\codellama-7b.Q4_K_M.gguf",), "codellama"),
        (("Qwen/Qwen2.5-Coder-7B", "llama-3-8b"), None),
        (("starter", "/models/codegemma-2b.gguf"), "codegemma"),
        ((), None),
    ],
)
def test_guess_family(names, family):
    assert guess_family(*names) == family
    assert family is None or family in FAMILIES


def test_describe():
    facts = ServerFacts(ServerKind.TGI, "google/codegemma-7b-it", context_length=8192)
    assert describe(facts, "http://gpu-box:8000") == (
        "codegemma-7b-it on gpu-box:8000 (Text Generation Inference, 8,192 tokens)"
    )
    ollama = ServerFacts(ServerKind.OLLAMA, "codegemma:7b-code")
    assert describe(ollama, "http://127.0.0.1:11434/v1") == "codegemma:7b-code on 127.0.0.1:11434 (Ollama)"
    endpoint = ServerFacts(ServerKind.TGI, "tgi", context_length=None)
    assert describe(endpoint, "https://xyz.endpoints.huggingface.cloud") == (
        "tgi on xyz.endpoints.huggingface.cloud (Text Generation Inference)"
    )
    assert describe(facts, "gpu-box:8000").startswith("codegemma-7b-it on gpu-box:8000 ")
    assert "[::1]:8080" in describe(facts, "http://user:pw@[::1]:8080")


def test_display_name():
    assert display_name("/models/codegemma-7b-it-Q4_K_M.gguf") == "codegemma-7b-it-Q4_K_M"
    assert display_name("codegemma") == "codegemma"


def test_every_listed_model_is_kept_in_order():
    models = {"object": "list", "data": [{"id": "codegemma:2b-code"}, {"id": "codellama:7b-code"}, {"x": 1}]}
    facts = detect_server(None, None, {"version": "0.5.1"}, models)
    assert facts.model_ids == ("codegemma:2b-code", "codellama:7b-code")
    assert facts.model_id == "codegemma:2b-code"
    assert (
        detect_server(
            {"default_generation_settings": {"n_ctx": 8}, "model_path": "/m/a.gguf"}, None, None, None
        ).model_ids
        == ()
    )
