"""Finding where a cached prompt starts in a new prefix."""

from __future__ import annotations

from app.core.fim.anchored import ANCHOR_CHARS, anchor_of, anchored_prefix

FILE = "".join(f"def step_{i}(state):\n    return state + {i}\n" for i in range(40))


def test_the_anchor_is_the_start_of_a_prefix():
    assert anchor_of(FILE) == FILE[:ANCHOR_CHARS]
    assert anchor_of("x = 1\n") == "x = 1\n"


def test_a_prefix_is_widened_back_to_the_line_where_the_anchor_starts():
    start = FILE.index("def step_10(")
    anchor = anchor_of(FILE[start:])
    cursor = FILE.index("def step_30(")
    assert anchored_prefix(FILE[:cursor], anchor, 10_000) == FILE[start:cursor]


def test_no_widening_past_the_budget_or_to_a_start_that_is_not_a_line_start():
    start = FILE.index("def step_10(")
    anchor = anchor_of(FILE[start:])
    cursor = FILE.index("def step_30(")
    assert anchored_prefix(FILE[:cursor], anchor, cursor - start - 1) is None  # too far back
    assert anchored_prefix(FILE[:cursor], "ef step_10(", 10_000) is None  # only inside a line
    assert anchored_prefix(FILE[: start + 20], anchor, 10_000) is None  # the cursor is above the end of it
    assert anchored_prefix(FILE, "", 10_000) is None
