"""``bench remote``: the quick run prints every figure, each a positive number (no timing is asserted)."""

from __future__ import annotations

import pytest

from tests.support.bench_runs import run_bench

FIGURES = (
    "throughput_ratio",
    "chat_tokens_per_s",
    "bare_tokens_per_s",
    "chat_engine_tokens_per_s",
    "pipeline_ratio",
    "typing_p50_ms",
    "typing_p95_ms",
    "typing_p50_ms_local",
    "typing_p95_ms_local",
    "typing_ratio",
    "typing_requests",
    "typing_requests_local",
)


@pytest.mark.slow
def test_a_quick_run_compares_both_paths_and_reports_positive_figures(starter_model):
    result = run_bench("remote", "--quick")
    for key in FIGURES:
        value = result[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0, (key, value)
    assert result["typing_requests"] == result["typing_requests_local"]
    # Both chat paths read whole answers of the same request, up to the same cap.
    assert len(result["chat_tokens"]) == len(result["bare_tokens"]) == result["chat_rounds"] >= 2
    assert all(1 < count <= result["chat_max_tokens"] for count in result["chat_tokens"] + result["bare_tokens"])
    assert result["server"] == "llama-cpp-python server"
    assert result["chat_model"] == "gemma-3-270m-q4_k_m.gguf"
    assert result["model"].endswith(".gguf") and "codellama" in result["model"]
    assert result["n_threads"] >= 1
    assert isinstance(result["chat_server_own_core"], bool)
