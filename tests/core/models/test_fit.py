"""Role suggestions, role warnings and memory fit, on real tiny GGUF files."""

from __future__ import annotations

import pytest

from app.core.models.fit import assignment_warnings, compute_buffer_bytes, memory_fit, suggest_assignments
from app.core.models.info import inspect_model
from app.core.models.library import Library
from app.selftest.tiny_gguf import write_tiny_gguf


@pytest.fixture
def lib(tmp_path) -> Library:
    return Library(tmp_path / "models", tmp_path / "config", tmp_path / "cache")


def add(lib: Library, file: str, family: str, **kwargs):
    write_tiny_gguf(lib.models_dir / f"{file}.gguf", family, name=file, **kwargs)


def info_of(tmp_path, family: str, name: str, **kwargs):
    return inspect_model(write_tiny_gguf(tmp_path / f"{name}.gguf", family, name=name, **kwargs)).info


def by_role(suggestions) -> dict[str, str | None]:
    return {role: model.name if model else None for role, model in suggestions.items()}


def test_it_model_chats_and_base_model_completes(lib):
    add(lib, "codegemma-2b", "codegemma", chat_template=None)
    add(lib, "codegemma-7b-it", "codegemma")  # Gemma chat template
    assert by_role(suggest_assignments(lib.models())) == {"chat": "codegemma-7b-it", "completion": "codegemma-2b"}


def test_without_a_gpu_the_smaller_completion_model_wins(lib):
    add(lib, "codegemma-2b", "codegemma", chat_template=None, n_layers=2)
    add(lib, "codegemma-7b", "codegemma", chat_template=None, n_layers=6)
    assert by_role(suggest_assignments(lib.models(), gpu=False))["completion"] == "codegemma-2b"
    assert by_role(suggest_assignments(lib.models(), gpu=True))["completion"] == "codegemma-7b"


def test_code_families_beat_other_fim_models_for_completion(lib):
    add(lib, "codellama-7b", "codellama", n_layers=6)
    add(lib, "starcoder-like", "generic", extra_words=["<fim_prefix>", "<fim_suffix>", "<fim_middle>"])
    models = lib.models()
    assert {m.name: m.info.can_complete for m in models} == {"codellama-7b": True, "starcoder-like": True}
    assert by_role(suggest_assignments(models))["completion"] == "codellama-7b"


def test_larger_chat_model_wins_when_it_fits_in_ram(lib):
    add(lib, "small-chat", "generic", n_layers=2)
    add(lib, "large-chat", "generic", n_layers=8)
    models = {m.name: m for m in lib.models()}
    assert by_role(suggest_assignments(models.values()))["chat"] == "large-chat"
    between = (models["small-chat"].info.weights_bytes + models["large-chat"].info.weights_bytes) // 2
    assert by_role(suggest_assignments(models.values(), ram_bytes=between))["chat"] == "small-chat"


def test_nothing_suitable_gives_none(lib):
    add(lib, "codellama-7b", "codellama")  # completion only
    (lib.models_dir / "broken.gguf").write_text("not a model" * 10)
    assert by_role(suggest_assignments(lib.models())) == {"chat": None, "completion": "codellama-7b"}
    assert suggest_assignments([]) == {"chat": None, "completion": None}


def test_no_warnings_when_a_model_suits_its_role(tmp_path):
    assert assignment_warnings(info_of(tmp_path, "codegemma", "codegemma-7b-it"), "chat") == []
    assert assignment_warnings(info_of(tmp_path, "codegemma", "codegemma-2b", chat_template=None), "completion") == []
    assert assignment_warnings(info_of(tmp_path, "generic", "some-chat-model"), "chat") == []
    instruct = info_of(tmp_path, "codellama", "codellama-7b-instruct")  # Code Llama Instruct infills
    assert assignment_warnings(instruct, "chat") == []
    assert assignment_warnings(instruct, "completion") == []


def test_a_model_without_chat_template_or_turns_warns_for_chat(tmp_path):
    info = info_of(tmp_path, "codellama", "codellama-7b")
    assert not info.has_chat_template and not info.can_chat
    [warning] = assignment_warnings(info, "chat")
    assert "no chat template" in warning and "garbage" in warning
    assert "CodeGemma 2B/7B" in warning and "Instruct" in warning


def test_a_base_model_with_turn_tokens_still_warns_for_chat(tmp_path):
    info = info_of(tmp_path, "codegemma", "codegemma-2b", chat_template=None)
    assert info.can_chat  # the Gemma vocabulary has turn tokens
    [warning] = assignment_warnings(info, "chat")
    assert "base completion model" in warning


def test_a_model_without_fim_tokens_warns_for_completion(tmp_path):
    info = info_of(tmp_path, "generic", "plain-model", chat_template=None)
    [warning] = assignment_warnings(info, "completion")
    assert "no fill-in-the-middle tokens" in warning and "after the cursor" in warning


def test_a_chat_model_warns_for_completion(tmp_path):
    no_fim = assignment_warnings(info_of(tmp_path, "generic", "helper-chat"), "completion")
    assert len(no_fim) == 2 and "fill-in-the-middle" in no_fim[0] and "tuned for chat" in no_fim[1]
    [warning] = assignment_warnings(info_of(tmp_path, "codegemma", "codegemma-1.1-7b-it"), "completion")
    assert "tuned for chat" in warning


def test_an_unknown_role_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown role"):
        assignment_warnings(info_of(tmp_path, "generic", "x"), "embedding")


@pytest.fixture
def model(tmp_path):
    return inspect_model(write_tiny_gguf(tmp_path / "m.gguf", "codellama", n_layers=8))


def test_memory_fit_without_a_gpu(model):
    kv = model.kv_cache_bytes(8192)
    fit = memory_fit(model, 8192, ram_bytes=16 * 10**9, vram_bytes=None)
    assert fit.kv_bytes == kv > 0
    assert fit.estimate_bytes == model.info.weights_bytes + kv + compute_buffer_bytes(8192)
    assert fit.fits_ram and fit.fits_vram is None and fit.suggested_gpu_layers == 0
    assert fit.note.startswith("needs about") and "8192 tokens" in fit.note and "16.0 GB RAM free" in fit.note
    assert "no GPU" in fit.note and "\n" not in fit.note
    tight = memory_fit(model, 8192, ram_bytes=1000, vram_bytes=0)
    assert not tight.fits_ram and tight.suggested_gpu_layers == 0 and "does not fit in RAM" in tight.note


def test_memory_fit_offloads_everything_to_a_big_gpu(model):
    fit = memory_fit(model, 4096, ram_bytes=16 * 10**9, vram_bytes=24 * 10**9)
    assert fit.fits_vram is True and fit.suggested_gpu_layers == -1 and fit.fits_ram
    assert "all 8 layers fit in 24.0 GB VRAM" in fit.note


def test_memory_fit_splits_layers_on_a_small_gpu(model):
    info = model.info
    per_layer = info.weights_bytes / (info.n_layers + 1) + model.kv_cache_bytes(4096) / info.n_layers
    vram = compute_buffer_bytes(4096) + int(3.5 * per_layer)
    fit = memory_fit(model, 4096, ram_bytes=16 * 10**9, vram_bytes=vram)
    assert fit.fits_vram is False and fit.suggested_gpu_layers == 3 and fit.fits_ram
    assert "3 of 8 layers fit" in fit.note


def test_memory_fit_with_room_only_for_the_compute_buffers(model):
    fit = memory_fit(model, 4096, ram_bytes=16 * 10**9, vram_bytes=compute_buffer_bytes(4096))
    assert fit.suggested_gpu_layers == 0 and fit.fits_vram is False and "no layer fits" in fit.note


def test_a_quantized_kv_cache_is_smaller(model):
    f16 = memory_fit(model, 8192, ram_bytes=10**10, vram_bytes=None)
    q8 = memory_fit(model, 8192, ram_bytes=10**10, vram_bytes=None, cache_type="q8_0")
    assert q8.kv_bytes < f16.kv_bytes and q8.estimate_bytes < f16.estimate_bytes
