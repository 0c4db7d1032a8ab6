"""``bench starter-echo``: the quick run answers with both chat layouts and reports both echo fractions."""

from __future__ import annotations

import pytest

from bench.starter_echo import echoes
from tests.support.bench_runs import run_bench


def test_an_echo_is_eight_consecutive_words_of_a_source():
    source = "Answer briefly and precisely. Put code in fenced blocks tagged with the language."
    assert echoes("Sure! answer BRIEFLY, and precisely: put code in fenced blocks. Done", [source])
    assert not echoes("answer briefly and precisely put code in", [source])  # seven words of it
    assert not echoes("Answer briefly and precisely, then explain the code in the language.", [source])


@pytest.mark.slow
@pytest.mark.starter
def test_a_quick_run_reports_the_echo_fraction_of_both_layouts(starter_model):
    result = run_bench("starter-echo", "--quick")
    for key in ("echo_fraction_before", "echo_fraction_after", "stopped_fraction_before", "stopped_fraction_after"):
        assert isinstance(result[key], float) and 0.0 <= result[key] <= 1.0, (key, result[key])
    assert result["questions"] == 4 and result["echo_words"] == 8 and result["max_tokens"] == 160
    assert isinstance(result["mean_tokens_after"], float) and result["model"].endswith(".gguf")
