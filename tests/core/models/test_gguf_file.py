"""GGUF structure checks and inspection, on real files."""

from __future__ import annotations

import shutil
import struct

import pytest

from app.core.models.gguf_file import GGUFError, read_gguf
from app.core.models.info import inspect_model
from app.selftest.tiny_gguf import special_token_ids


def test_codegemma_fixture_is_detected_from_its_vocabulary(tiny_models):
    info = inspect_model(tiny_models["codegemma"]).info
    ids = special_token_ids("codegemma")
    assert info.architecture == "gemma"
    assert info.family == "codegemma"
    assert info.fim == {
        "prefix": ids["<|fim_prefix|>"],
        "suffix": ids["<|fim_suffix|>"],
        "middle": ids["<|fim_middle|>"],
        "file_separator": ids["<|file_separator|>"],
    }
    assert info.file_type == "F32"
    assert info.context_length == 4096
    assert info.has_chat_template
    assert set(info.roles) == {"chat", "completion"}


def test_codellama_fixture(tiny_models):
    info = inspect_model(tiny_models["codellama"]).info
    ids = special_token_ids("codellama")
    assert (info.family, info.architecture) == ("codellama", "llama")
    assert info.fim == {
        "prefix": ids["\u2581<PRE>"],
        "suffix": ids["\u2581<SUF>"],
        "middle": ids["\u2581<MID>"],
        "file_separator": None,
    }
    assert info.roles == ["completion"]  # a base model without a template does not chat


def test_generic_fixture_chats_but_has_no_fim(tiny_models):
    info = inspect_model(tiny_models["generic"]).info
    assert info.family == "generic" and info.fim is None and info.roles == ["chat"]


def test_family_ignores_the_file_name(tiny_models, tmp_path):
    misleading = tmp_path / "codegemma-7b-it.Q4_K_M.gguf"
    shutil.copy(tiny_models["generic"], misleading)
    assert inspect_model(misleading).info.family == "generic"


def test_parameters_and_size_match_the_tensors(tiny_models):
    model = inspect_model(tiny_models["codegemma"])
    info = model.info
    assert info.size_bytes == tiny_models["codegemma"].stat().st_size
    assert info.parameters == sum(t.elements for t in model.file.tensors)
    assert info.weights_bytes == info.parameters * 4  # all F32
    # KV cache grows linearly with the context.
    assert model.kv_cache_bytes(2048) == 2 * model.kv_cache_bytes(1024) > 0
    assert model.memory_estimate(1024) == info.weights_bytes + model.kv_cache_bytes(1024)


def test_truncated_file_gets_one_line_error(tiny_models, tmp_path):
    data = tiny_models["codegemma"].read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(GGUFError, match="truncated") as caught:
        read_gguf(cut)
    assert "\n" not in str(caught.value)


def test_header_cut_short(tiny_models, tmp_path):
    cut = tmp_path / "header.gguf"
    cut.write_bytes(tiny_models["codegemma"].read_bytes()[:200])
    with pytest.raises(GGUFError, match="truncated"):
        read_gguf(cut)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"GGML" + b"\0" * 40, "not a GGUF file"),
        (b"GGUF" + struct.pack("<I", 9) + b"\0" * 16, "version 9"),
        (b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 0), "impossible header"),
        (b"tiny", "too small"),
    ],
)
def test_corrupt_headers(tmp_path, payload, message):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(payload)
    with pytest.raises(GGUFError, match=message):
        read_gguf(bad)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(GGUFError, match="no such file"):
        read_gguf(tmp_path / "nope.gguf")
    with pytest.raises(GGUFError, match="folder"):
        read_gguf(tmp_path)


@pytest.mark.starter
def test_starter_model_is_inspected_quickly(starter_model):
    import time

    started = time.perf_counter()
    info = inspect_model(starter_model).info
    assert time.perf_counter() - started < 3.0  # gguf.GGUFReader needs ~8 s on this vocabulary
    assert info.architecture == "gemma3"
    assert info.file_type == "Q4_K_M"
    assert info.family == "generic"  # Gemma 3 has no FIM tokens
    assert info.can_chat  # through its Gemma turn tokens
    assert 250e6 < info.parameters < 300e6


@pytest.mark.starter
def test_starter_is_assembled_once_under_concurrent_requests(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from app.core.models.starter import starter_available, starter_model_path

    if not starter_available():
        pytest.skip("the starter extra is not installed")
    with ThreadPoolExecutor(2) as pool:
        paths = list(pool.map(lambda _: starter_model_path(tmp_path), range(2)))
    assert paths[0] == paths[1] and paths[0].exists()
    assert [p.name for p in tmp_path.iterdir()] == [paths[0].name]  # no .part left behind


def test_typed_metadata_accessors(tiny_models):
    model = inspect_model(tiny_models["codegemma"])
    file = model.file
    assert file.get_str("general.architecture") == "gemma"
    assert file.get_int("general.architecture") is None  # a string, not an integer
    assert file.get_int("tokenizer.ggml.bos_token_id") == model.vocab.bos_id is not None
    tokens = file.get_strings("tokenizer.ggml.tokens")
    assert tokens == model.vocab.tokens and "<|fim_prefix|>" in tokens
    assert file.get_strings("tokenizer.ggml.token_type") == []  # integers, not strings
    assert len(file.get_list("tokenizer.ggml.token_type")) == len(tokens)
    assert file.get_str("no.such.key") is None and file.get_list("no.such.key") == []
    assert model.arch_int("context_length") == 4096
    assert model.arch_int("no_such_key", 7) == 7
