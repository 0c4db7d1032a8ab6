"""``bench serve``: the quick run compares the served stream with raw llama-cpp-python and typing alone with
typing under API load (no timing is asserted)."""

from __future__ import annotations

import pytest

from tests.support.bench_runs import run_bench


@pytest.mark.slow
def test_a_quick_run_reports_both_rates_and_a_clean_server_exit(starter_model):
    result = run_bench("serve", "--quick")
    for key in ("throughput_ratio", "fimble_tokens_per_s", "raw_tokens_per_s"):
        assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result[key])
    assert result["rounds"] == 2 and result["tokens_per_round"] == 64
    assert result["serve_exit_code"] == 0  # fimble serve stopped cleanly on SIGINT
    assert result["model"].endswith(".gguf")
    for key in ("typing_p50_ms", "typing_p50_ms_under_api_load", "typing_load_ratio"):
        assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result[key])
    assert result["typing_requests"] >= 5 and result["api_clients"] == 4
    assert result["api_answers"] >= 1  # the API clients really streamed while the editor typed
