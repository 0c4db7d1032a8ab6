"""The tiny GGUF fixtures load and behave in real llama.cpp (llama-cpp-python)."""

from __future__ import annotations

import time

import gguf
import llama_cpp
import numpy as np
import pytest

from app.selftest.tiny_gguf import FAMILIES, special_token_ids, write_tiny_gguf

CODE = b"def add(a, b):\n    return a + b\n"
SP = "\u2581"


def _load(path) -> llama_cpp.Llama:
    return llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False)


@pytest.fixture(scope="module")
def model_paths(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("tiny")
    return {family: write_tiny_gguf(folder / f"{family}.gguf", family) for family in FAMILIES}


@pytest.fixture(scope="module")
def models(model_paths) -> dict[str, llama_cpp.Llama]:
    return {family: _load(path) for family, path in model_paths.items()}


def _vocab(llm: llama_cpp.Llama):
    return llama_cpp.llama_model_get_vocab(llm.model)


def _fields(path) -> tuple[dict[str, object], gguf.GGUFReader]:
    reader = gguf.GGUFReader(path)
    return {key: field.contents() for key, field in reader.fields.items()}, reader


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("file_type", ["F32", "F16"])
def test_write_is_small_and_fast(tmp_path, family, file_type):
    start = time.perf_counter()
    path = write_tiny_gguf(tmp_path / "m.gguf", family, file_type=file_type)
    assert time.perf_counter() - start < 2.0
    assert path == tmp_path / "m.gguf"
    assert path.stat().st_size < 5 * 1024 * 1024
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("family", FAMILIES)
def test_metadata(model_paths, family):
    fields, reader = _fields(model_paths[family])
    gemma = family == "codegemma"
    arch = "gemma" if gemma else "llama"
    assert fields["general.architecture"] == arch
    assert fields["general.name"] == f"tiny-{family}-fixture"
    assert fields["general.file_type"] == 0
    for key in (
        "context_length",
        "embedding_length",
        "block_count",
        "feed_forward_length",
        "attention.head_count",
        "attention.head_count_kv",
        "attention.key_length",
        "attention.value_length",
        "attention.layer_norm_rms_epsilon",
    ):
        assert f"{arch}.{key}" in fields
    assert fields["tokenizer.ggml.model"] == "llama"
    assert fields["tokenizer.ggml.add_bos_token"] is True
    assert fields["tokenizer.ggml.add_space_prefix"] is (not gemma)
    names = {t.name for t in reader.tensors}
    assert ("output.weight" in names) is (not gemma)
    assert {"token_embd.weight", "output_norm.weight", "blk.1.ffn_down.weight"} <= names
    template = fields.get("tokenizer.chat_template")
    if family == "codegemma":
        assert "<start_of_turn>" in template and "<end_of_turn>" in template
    elif family == "generic":
        assert "<|im_start|>" in template and "add_generation_prompt" in template
        assert "bos_token" in template and "messages" in template
    else:
        assert template is None


def test_token_types_follow_real_files(model_paths):
    fields, _ = _fields(model_paths["codegemma"])
    tokens, types = fields["tokenizer.ggml.tokens"], fields["tokenizer.ggml.token_type"]
    assert tokens[:4] == ["<pad>", "<eos>", "<bos>", "<unk>"]
    assert (fields["tokenizer.ggml.bos_token_id"], fields["tokenizer.ggml.eos_token_id"]) == (2, 1)
    assert fields["tokenizer.ggml.unknown_token_id"] == 3
    assert fields["tokenizer.ggml.padding_token_id"] == 0
    assert tokens[108] == "\n" and types[108] == gguf.TokenType.USER_DEFINED
    assert tokens[217] == "<0x00>" and tokens[472] == "<0xFF>"
    assert set(types[217:473]) == {gguf.TokenType.BYTE}
    for family in FAMILIES:
        fields, _ = _fields(model_paths[family])
        types = fields["tokenizer.ggml.token_type"]
        for text, token in special_token_ids(family).items():
            expected = gguf.TokenType.UNKNOWN if text == "<unk>" else gguf.TokenType.CONTROL
            assert types[token] == expected, text
    fields, _ = _fields(model_paths["codellama"])
    assert fields["tokenizer.ggml.tokens"][:4] == ["<unk>", "<s>", "</s>", "<0x00>"]
    assert fields["tokenizer.ggml.tokens"][13] == "<0x0A>"


@pytest.mark.parametrize("family", FAMILIES)
def test_code_tokenizes_without_unknowns_and_round_trips(models, family):
    llm = models[family]
    tokens = llm.tokenize(CODE, add_bos=False, special=False)
    assert tokens
    assert special_token_ids(family)["<unk>"] not in tokens
    assert len(tokens) < len(CODE) // 2  # whole words, not byte fallback
    text = llm.detokenize(tokens)
    if family == "codegemma":
        assert text == CODE
    else:
        assert text in (CODE, b" " + CODE)


@pytest.mark.parametrize("family", FAMILIES)
def test_control_tokens_are_single_ids_only_when_special(models, family):
    llm = models[family]
    vocab = _vocab(llm)
    for text, token in special_token_ids(family).items():
        raw = text.encode()
        assert llm.tokenize(raw, add_bos=False, special=True) == [token], text
        assert llm.tokenize(raw, add_bos=False, special=False) != [token], text
        if text != "<unk>":
            attr = llama_cpp.llama_vocab_get_attr(vocab, token)
            assert attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL, text


def test_llama_cpp_finds_fim_and_end_of_generation(models):
    ids = special_token_ids("codegemma")
    vocab = _vocab(models["codegemma"])
    assert llama_cpp.llama_vocab_fim_pre(vocab) == ids["<|fim_prefix|>"] == 67
    assert llama_cpp.llama_vocab_fim_suf(vocab) == ids["<|fim_suffix|>"] == 69
    assert llama_cpp.llama_vocab_fim_mid(vocab) == ids["<|fim_middle|>"] == 68
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<end_of_turn>"])
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<eos>"])

    ids = special_token_ids("codellama")
    vocab = _vocab(models["codellama"])
    assert llama_cpp.llama_vocab_fim_pre(vocab) == ids[SP + "<PRE>"]
    assert llama_cpp.llama_vocab_fim_suf(vocab) == ids[SP + "<SUF>"]
    assert llama_cpp.llama_vocab_fim_mid(vocab) == ids[SP + "<MID>"]

    ids = special_token_ids("generic")
    vocab = _vocab(models["generic"])
    assert llama_cpp.llama_vocab_is_eog(vocab, ids["<|im_end|>"])
    assert llama_cpp.llama_vocab_fim_pre(vocab) == -1


@pytest.mark.parametrize("family", FAMILIES)
def test_generates(models, family):
    llm = models[family]
    llm.reset()
    out = llm.create_completion("def add(a, b):", max_tokens=8, temperature=0.0)
    assert out["usage"]["completion_tokens"] >= 1
    tokens = llm.tokenize(b"import os", add_bos=True, special=False)
    generated = []
    for token in llm.generate(tokens, temp=0.0, reset=True):
        generated.append(token)
        if len(generated) == 8:
            break
    assert len(generated) == 8


@pytest.mark.parametrize("family", ["codegemma", "generic"])
def test_chat_template_renders_in_llama_cpp(models, family):
    llm = models[family]
    llm.reset()
    out = llm.create_chat_completion([{"role": "user", "content": "hi"}], max_tokens=4)
    assert out["usage"]["prompt_tokens"] > 3


@pytest.mark.parametrize("family", FAMILIES)
def test_f16_loads_and_generates(tmp_path, family):
    path = write_tiny_gguf(tmp_path / "m16.gguf", family, file_type="F16")
    fields, reader = _fields(path)
    assert fields["general.file_type"] == 1
    kinds = {t.name: t.tensor_type for t in reader.tensors}
    assert kinds["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.F16
    assert kinds["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32
    assert kinds["output_norm.weight"] == gguf.GGMLQuantizationType.F32
    llm = _load(path)
    out = llm.create_completion("x = ", max_tokens=8, temperature=0.0)
    assert out["usage"]["completion_tokens"] >= 1


def test_same_seed_same_file_and_other_seed_differs(tmp_path):
    a = write_tiny_gguf(tmp_path / "a.gguf", "generic", seed=7).read_bytes()
    b = write_tiny_gguf(tmp_path / "b.gguf", "generic", seed=7).read_bytes()
    c = write_tiny_gguf(tmp_path / "c.gguf", "generic", seed=8).read_bytes()
    assert a == b != c


def test_weights_are_small_scale(model_paths):
    _, reader = _fields(model_paths["codellama"])
    weights = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert 0.01 < float(weights["blk.0.attn_q.weight"].std()) < 0.03
    assert np.all(weights["output_norm.weight"] == 1.0)


def test_options(tmp_path):
    path = write_tiny_gguf(
        tmp_path / "sub" / "o.gguf",
        "codellama",
        n_layers=1,
        n_embd=32,
        n_head=2,
        n_head_kv=1,
        n_ff=64,
        context_length=2048,
        name="custom",
        chat_template="{{ messages }}",
        extra_words=["fimble_widget"],
    )
    fields, _ = _fields(path)
    assert fields["general.name"] == "custom"
    assert fields["llama.block_count"] == 1 and fields["llama.context_length"] == 2048
    assert fields["tokenizer.chat_template"] == "{{ messages }}"
    llm = _load(path)
    assert len(llm.tokenize(b"fimble_widget", add_bos=False)) == 1
    no_template = write_tiny_gguf(tmp_path / "n.gguf", "codegemma", chat_template=None)
    assert "tokenizer.chat_template" not in _fields(no_template)[0]


@pytest.mark.parametrize(
    "kwargs",
    [{"family": "mistral"}, {"file_type": "Q4_0"}, {"n_embd": 65}, {"n_head_kv": 3}],
)
def test_rejects_bad_arguments(tmp_path, kwargs):
    kwargs = {"family": "generic", **kwargs}
    with pytest.raises(ValueError):
        write_tiny_gguf(tmp_path / "bad.gguf", **kwargs)
    assert not list(tmp_path.iterdir())
