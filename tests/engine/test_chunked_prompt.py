"""A completion cancelled while its prompt is evaluated keeps the chunks it finished."""

from __future__ import annotations

import threading

import pytest

from app.core.generation.contracts import FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.engine.runner import FIM_CHUNK_TOKENS

BODY = "".join(f"def handler_{i}(event):\n    return event.value * {i}\n\n" for i in range(60))


def _stats(host, job: int, request: FimRequest) -> GenerationStats:
    return [item for item in host.generate(job, request) if isinstance(item, GenerationStats)][0]


def test_a_cancelled_completion_keeps_its_finished_chunks_for_the_next_request(host, tiny_models):
    # One batch of llama.cpp's would hold the whole prompt: only chunking can keep a part of it.
    host.load(str(tiny_models["codegemma"]), LoadParams(n_ctx=4096, n_batch=2048))
    sampling = Sampling(max_tokens=4, temperature=0.0, ignore_eos=True)
    delay_s, outcomes = 0.02, []
    for attempt in range(12):
        request = FimRequest(f"# attempt {attempt}\n{BODY}", "\n", sampling=sampling, prefix_tokens=4000)
        timer = threading.Timer(delay_s, host.cancel, args=(attempt + 1,))
        timer.start()
        cut = _stats(host, attempt + 1, request)
        timer.join()
        if cut.finish_reason != "cancelled":
            outcomes.append("late")  # the prompt was evaluated before the cancel came
            delay_s /= 2
        elif cut.evaluated_tokens < FIM_CHUNK_TOKENS:
            outcomes.append("early")  # no chunk had finished yet
            delay_s *= 2
        else:
            break
    else:
        pytest.fail(f"no cancel landed inside a prompt's evaluation: {outcomes}")
    assert cut.evaluated_tokens < cut.prompt_tokens
    again = _stats(host, 100, request)
    assert again.finish_reason != "cancelled"
    assert again.reused_tokens >= cut.evaluated_tokens - 1  # the finished chunks were kept
