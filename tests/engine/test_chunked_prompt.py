"""A completion cancelled while its prompt is evaluated keeps the chunks it finished."""

from __future__ import annotations

import threading

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.engine.runner import FIM_CHUNK_TOKENS
from tests.support.cancel_landing import EARLY, INSIDE, LATE, land_inside
from tests.support.engine_runs import run_job

BODY = "".join(f"def handler_{i}(event):\n    return event.value * {i}\n\n" for i in range(60))


def _stats(host, job: int, request: FimRequest) -> GenerationStats:
    return run_job(host, job, request)[1]


def test_a_cancelled_completion_keeps_its_finished_chunks_for_the_next_request(host, tiny_models):
    # One batch of llama.cpp's would hold the whole prompt: only chunking can keep a part of it.
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=4096, n_batch=2048))
    sampling = Sampling(max_tokens=4, temperature=0.0, ignore_eos=True)

    def attempt(number: int, delay_s: float) -> tuple[str, tuple[FimRequest, GenerationStats]]:
        request = FimRequest(f"# attempt {number}\n{BODY}", "\n", sampling=sampling, prefix_tokens=4000)
        timer = threading.Timer(delay_s, host.cancel, args=(number + 1,))
        timer.start()
        cut = _stats(host, number + 1, request)
        timer.join()
        if cut.finish_reason != "cancelled":
            return LATE, (request, cut)  # the prompt was evaluated before the cancel came
        if cut.evaluated_tokens < FIM_CHUNK_TOKENS:
            return EARLY, (request, cut)  # no chunk had finished yet
        return INSIDE, (request, cut)

    request, cut = land_inside(attempt, 0.02)
    assert cut.evaluated_tokens < cut.prompt_tokens
    again = _stats(host, 100, request)
    assert again.finish_reason != "cancelled"
    assert again.reused_tokens >= cut.evaluated_tokens - 1  # the finished chunks were kept
