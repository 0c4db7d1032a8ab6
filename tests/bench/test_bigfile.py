"""``bench bigfile`` runs both ways of highlighting and reports their figures."""

from __future__ import annotations

from bench import bigfile


def test_big_python_has_the_lines_asked_for():
    text = bigfile.big_python(1_234)
    assert text.count("\n") == 1_234
    assert '"""' in text


def test_bigfile_benchmark_reports_both_ways(qapp):
    result = bigfile.run(quick=True)
    assert result["lines"] == bigfile.LINES and result["runs"] == 1
    for mode in bigfile.MODES:
        figures = result[mode]
        assert figures["max_stall_ms"] >= 0 and figures["highlighted_ms"] >= figures["open_call_ms"] > 0
        assert figures["theme_max_stall_ms"] >= 0
    assert result["sliced"]["slices"] > 1
    assert result["one_shot"]["slices"] == 1
    assert bigfile.highlighter.SLICE_MIN_LINES < bigfile.LINES  # the one-shot run put the limits back
    assert bigfile.code_editor.LOAD_CHUNK_LINES < bigfile.LINES
    assert result["first_editor_ms"] > 0
