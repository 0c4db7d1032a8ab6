"""Warm places: a completion prompt left for another file comes back without a new evaluation."""

from __future__ import annotations

import threading

import pytest

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.engine.runner import ModelRunner
from tests.support.engine_runs import run_job

GREEDY = Sampling(max_tokens=12, temperature=0.0, ignore_eos=True)
FILE_A = "".join(f"def load_{i}(path):\n    return open(path).read()\n" for i in range(12))
FILE_B = "".join(f"class Shape{i}:\n    sides = {i}\n" for i in range(16))


def _run(host, job: int, prefix: str) -> tuple[str, GenerationStats]:
    return run_job(host, job, FimRequest(prefix, "\n", sampling=GREEDY))


def _session(host) -> list[tuple[str, GenerationStats]]:
    """File A, then file B, then back to A with one more line typed."""
    return [
        _run(host, 1, FILE_A),
        _run(host, 2, FILE_B),
        _run(host, 3, FILE_A + "def save(path):\n"),
    ]


def test_going_back_to_a_file_restores_its_prompt(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048, warm_places_mib=64))
    (_, first), (_, other), (_, back) = _session(host)
    assert other.reused_tokens < first.prompt_tokens // 2  # B really replaced A in the cache
    assert back.restored_tokens >= first.prompt_tokens - 3  # all of A but its FIM tail came back
    assert back.reused_tokens >= back.restored_tokens


def _generated_ids(path: str, prefixes: tuple[str, ...], warm_mib: int) -> tuple[list[int], GenerationStats]:
    """The token ids greedy decoding picks for the last of ``prefixes``, in this process."""
    runner = ModelRunner(threading.Event())
    runner.load(path, LoadParams(n_ctx=2048, warm_places_mib=warm_mib), False, lambda _fraction: None)
    stats = None
    for prefix in prefixes:
        request = FimRequest(prefix, "\n", sampling=GREEDY, allow_prefix_only=True)
        _, stats = runner.generate(request, lambda _piece: None)
    assert stats is not None and runner.llama is not None
    ids = [int(t) for t in runner.llama.input_ids[stats.prompt_tokens : runner.llama.n_tokens]]
    return ids, stats


@pytest.mark.starter
def test_a_restored_place_answers_as_if_the_cursor_had_never_left(starter_model):
    # Real weights, so that a wrong cache would change what greedy decoding picks. The
    # comparison is with staying in file A: evaluating in other batches than that can
    # round differently, so "from scratch" is not the reference.
    back = FILE_A + "def save(path):\n"
    warm, warm_stats = _generated_ids(str(starter_model), (FILE_A, FILE_B, back), 64)
    stayed, stayed_stats = _generated_ids(str(starter_model), (FILE_A, back), 0)
    assert warm_stats.restored_tokens > 0 and stayed_stats.restored_tokens == 0
    assert warm_stats.reused_tokens == stayed_stats.reused_tokens
    assert len(warm) == GREEDY.max_tokens - 1  # the last token is sampled but not evaluated
    assert warm == stayed and len(set(warm)) > 1


def test_with_no_memory_for_places_none_is_kept(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048, warm_places_mib=0))
    (_, first), (_, _), (_, back) = _session(host)
    assert back.restored_tokens == 0
    assert back.reused_tokens < first.prompt_tokens // 2


def test_the_automatic_budget_is_resolved_at_load_from_the_models_kv_size(host, tiny_models):
    from app.core.fim.warm_places import MAX_PLACES, PLACE_TOKENS

    loaded = host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048))  # auto by default
    assert loaded.kv_bytes_per_token > 0
    assert 0 < loaded.warm_places_bytes <= MAX_PLACES * PLACE_TOKENS * loaded.kv_bytes_per_token
    off = host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048, warm_places_mib=0))
    assert off.warm_places_bytes == 0
    fixed = host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=2048, warm_places_mib=3))
    assert fixed.warm_places_bytes == 3 * 2**20
