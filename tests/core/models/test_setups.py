"""First-run setups follow the machine's free RAM and VRAM."""

from __future__ import annotations

from app.core.models.catalog import find_entry
from app.core.models.fit import memory_fit
from app.core.models.setups import GEMMA_7B, PlannedModel, choose_setups

GB = 1_000_000_000


def _offer(setups, role):
    setup = setups[role]
    return setup.entry.key, setup.quant, setup.where


def test_a_roomy_cpu_machine_gets_codegemma_7b_it_and_2b_at_q4_k_m():
    setups = choose_setups(32 * GB, None)
    assert _offer(setups, "chat") == ("codegemma-1.1-7b-it", "Q4_K_M", "fits in RAM")
    assert _offer(setups, "completion") == ("codegemma-2b", "Q4_K_M", "fits in RAM")
    assert setups["chat"].title == "Chat: CodeGemma 1.1 7B-it Q4_K_M (5.3 GB)"
    assert setups["completion"].title == "Completion: CodeGemma 2B Q4_K_M (1.6 GB)"
    assert "CPU" in setups["chat"].speed and "few words a second" in setups["chat"].speed


def test_a_small_machine_gets_the_best_that_fits_with_both_models_counted():
    # 8 GB free: the 2B takes about 2.2 GB, and a 7B at Q4_K_M (about 7.7 GB at 4096 tokens) no longer fits.
    setups = choose_setups(8 * GB, None)
    assert _offer(setups, "completion") == ("codegemma-2b", "Q4_K_M", "fits in RAM")
    chat = setups["chat"]
    assert chat.quant in ("Q3_K_M", "Q2_K") and chat.fit.fits_ram
    assert "less accurate than Q4_K_M" in chat.speed
    # Q4_K_M alone would fit in 8 GB: the completion model's share was counted.
    assert choose_setups(100 * GB, None)["chat"].fit.estimate_bytes < 8 * GB


def test_too_little_memory_says_so_honestly():
    setups = choose_setups(3 * GB, None)
    chat = setups["chat"]
    assert not chat.fit.fits_ram and chat.where == "does not fit in free memory"
    assert "keep the starter" in chat.speed and "so it fits" not in chat.speed


def test_a_big_gpu_holds_both_and_a_small_one_splits_the_chat_model():
    big = choose_setups(16 * GB, 24 * GB)
    assert _offer(big, "chat") == ("codegemma-1.1-7b-it", "Q4_K_M", "fits in VRAM")
    assert _offer(big, "completion")[2] == "fits in VRAM" and "GPU" in big["chat"].speed
    small = choose_setups(16 * GB, 6 * GB)
    assert small["completion"].where == "fits in VRAM"
    assert small["chat"].quant == "Q4_K_M" and "layers on the GPU" in small["chat"].where
    assert 0 < small["chat"].fit.suggested_gpu_layers < GEMMA_7B.n_layers


def test_a_planned_model_is_sized_like_its_published_shape():
    entry = find_entry("codegemma-1.1-7b-it")
    assert entry is not None
    model = PlannedModel(entry, "Q4_K_M", GEMMA_7B, 5_330_000_000)
    # 28 layers x 16 KV heads x (256 + 256) values x 2 bytes per token.
    assert model.kv_cache_bytes(1) == 28 * 16 * 512 * 2
    fit = memory_fit(model, 4096, ram_bytes=32 * GB, vram_bytes=None)
    assert fit.fits_ram and fit.estimate_bytes > 5_330_000_000 + model.kv_cache_bytes(4096)
