"""The jumping session of ``bench fim``: its seeded stops, its places and its quality scores."""

from __future__ import annotations

import inspect
import queue
import textwrap

from bench.fim_jumps import Place, choose_places, line_scores

FILES = {"queue.py": inspect.getsource(queue), "textwrap.py": inspect.getsource(textwrap)}


def test_the_stops_are_seeded_and_switch_back_to_where_the_cursor_was():
    stops = choose_places(FILES, 12, seed=3)
    assert [(p.path, p.line, back) for p, back in stops] == [
        (p.path, p.line, back) for p, back in choose_places(FILES, 12, seed=3)
    ]
    assert [(p.path, p.line) for p, _ in stops] != [(p.path, p.line) for p, _ in choose_places(FILES, 12, seed=4)]
    for index, (place, back) in enumerate(stops):
        if back:
            assert place is stops[index - 2][0] and stops[index - 1][0].path != place.path
    assert sum(back for _, back in stops) == 3
    assert {p.path for p, _ in stops} == set(FILES)


def test_a_place_splits_its_line_after_the_indentation_and_keeps_the_rest_as_the_truth():
    text = "def f():\n    return compute(1, 2)\nx = 1\n"
    prefix, suffix, truth = Place("a.py", text, 1).split(3)
    assert prefix == "def f():\n    ret"
    assert truth == "urn compute(1, 2)"
    assert suffix == "\nx = 1\n"
    assert prefix + truth + suffix == text


def test_only_the_first_line_of_a_suggestion_is_scored():
    assert line_scores("urn compute(1, 2)\n    more", "urn compute(1, 2)") == (1.0, 1.0)
    exact, similar = line_scores("urn compute(1)", "urn compute(1, 2)")
    assert exact == 0.0 and 0.5 < similar < 1.0
