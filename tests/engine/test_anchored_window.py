"""A prompt widens back to where a cached prompt starts when that costs no more than its cold window."""

from __future__ import annotations

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from tests.support.engine_runs import run_job

GREEDY = Sampling(max_tokens=2, temperature=0.0, ignore_eos=True)
LINES = [f"def step_{i}(state):\n    return state + {i}\n" for i in range(80)]
FILE = "".join(LINES)
COLD = 96  # the cold window's prefix budget: a few lines


def _stats(host, job: int, request: FimRequest) -> GenerationStats:
    return run_job(host, job, request)[1]


def _at(line: int, wide: int) -> FimRequest:
    return FimRequest(
        "".join(LINES[:line]), "\n", sampling=GREEDY, prefix_tokens=COLD, suffix_tokens=32, wide_prefix_tokens=wide
    )


def test_a_jump_up_the_file_keeps_the_whole_cached_window(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=4096))
    whole = _stats(host, 1, FimRequest(FILE, "\n", sampling=GREEDY, prefix_tokens=3000))
    # The cursor goes up to line 60: the cold window alone would be a few lines...
    cold = _stats(host, 2, _at(60, wide=0))
    assert cold.prompt_tokens <= COLD + 40
    # ...but the prompt from the file's start is cached up to the cursor: it is used, for a token or two.
    _stats(host, 3, FimRequest(FILE, "\n", sampling=GREEDY, prefix_tokens=3000))  # the whole file again
    up = _stats(host, 4, _at(60, wide=3000))
    assert up.prompt_tokens > whole.prompt_tokens * 2 // 3
    assert up.prompt_tokens - up.reused_tokens <= COLD + 32


def test_a_jump_that_would_cost_more_than_the_cold_window_stays_cold(host, tiny_models):
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=4096))
    _stats(host, 1, FimRequest("".join(LINES[:10]), "\n", sampling=GREEDY, prefix_tokens=3000))
    far = _stats(host, 2, _at(70, wide=3000))  # 60 lines further down: hundreds of new tokens
    assert far.prompt_tokens <= COLD + 40
    near = _stats(host, 3, _at(72, wide=3000))  # two lines on: extends the cold prompt just made
    assert near.prompt_tokens > far.prompt_tokens
    assert near.prompt_tokens - near.reused_tokens <= COLD + 32
