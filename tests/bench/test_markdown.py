"""The markdown benchmark's streaming case measures both ways of re-rendering and checks they agree."""

from __future__ import annotations

from bench.markdown import answer, stream


def test_streaming_case_reports_both_totals_and_identical_results():
    text = answer(200)
    report = stream(text, 25)
    assert report["stream_chunks"] == 25
    assert report["stream_identical"] is True
    assert report["stream_full_ms"] > 0 and report["stream_incremental_ms"] > 0
    assert report["stream_ratio"] > 0
    assert 1 <= report["stream_full_renders"] < 25  # the first chunk renders everything; later ones their end
