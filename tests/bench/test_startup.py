"""``bench startup`` starts real probe processes for both sides and compares them."""

from __future__ import annotations

from bench import startup


def test_startup_benchmark_samples_both_sides():
    result = startup.run(quick=True)
    assert result["runs"] == startup.QUICK_RUNS
    assert len(result["startup_samples_ms"]) == len(result["baseline_samples_ms"]) == startup.QUICK_RUNS
    assert all(sample > 0 for sample in result["startup_samples_ms"] + result["baseline_samples_ms"])
    assert result["ratio"] == round(result["startup_ms"] / result["baseline_ms"], 3)
    fastest = min(result["startup_samples_ms"]) / min(result["baseline_samples_ms"])
    assert result["ratio_min"] == round(fastest, 3)
    assert result["bytecode"] == "cached" and result["platform"]
    assert result["services_ms"] > 0  # Fimble's window made its services after the first frame
