"""RepetitionGuard: trips on an answer that loops, not on code that repeats a little."""

import math
import re

import pytest

from app.core.generation.repetition import BLANK_LINE_LIMIT, MIN_LOOP_CHARS, REASON, RepetitionGuard

# Lines a CodeGemma 7B answer looped on until it crashed (shared/reference/003).
GARBAGE = [
    "    -- usp_ActivityInsert 501f84e3-736d - d9a2bcbecfbdbfaeabebbdcfdcabdcfe -- Description: Insert "
    "new Activity record. Input parameters include all columns except UpdatedDateTime, Updat eedByUser "
    ",UpdatedByProgram and SystemTimestamp . Explicitly specify CreatedDateTim",
    "    -- usp_ActivityDelete 501f84e3-726d - d9aebcbecfbdbfaeabebbdcfdcabdcfe -- Description: Delete "
    "existing Activity record. Input parameters include all columns except UpdatedDateTime, Updat "
    "eedByUser ,UpdatedByProgram and SystemTimestamp . Soft delete by setting Syst",
    "    -- usp_ActivityUpdate 501f84e3-726d - d9aebcbecfbdbfaeabebbdcfdcabdcfe -- Description: Update "
    "existing Activity record. Input parameters include all columns except CreatedDateTime, Cr "
    "eatedByUser ,CreatedByProgram .",
    "    -- usp_ActivityRetrieve 501f84e3-726d - d9aebcbecfbdbfaeabebbdcfdcabdcfe -- Description: "
    "Retrieve existing Activity record. Input parameters include all columns except Updat edDateTim e, "
    "UpdatedByUser ,UpdatedByProgram .",
    "    -- usp_ActivityRetrieveForList 501f84e3-726d - d9aebcbecfbdbfaeabebbdcfdcabdcfe -- Description: "
    "Retrieve Activity record for list. Input parameters include all columns except Updat edDateTim e, "
    "UpdatedByUser ,UpdatedByProgram .",
]

NORMAL_PYTHON = '''\
def parse(items: list[str]) -> dict[str, int]:
    """Count the items, skipping blanks."""
    counts: dict[str, int] = {}
    for item in items:
        item = item.strip()
        if not item:
            continue
        if item in counts:
            counts[item] += 1
        else:
            counts[item] = 1
    return counts


class Matrix:
    def __init__(self, rows: int, cols: int) -> None:
        self.rows = rows
        self.cols = cols
        self.data = [[0.0] * cols for _ in range(rows)]

    def __getitem__(self, key):
        row, col = key
        return self.data[row][col]

    def __setitem__(self, key, value):
        row, col = key
        self.data[row][col] = value
'''

NORMAL_C = """\
static int walk(struct node *n, int depth) {
    if (n) {
        for (int i = 0; i < n->count; i++) {
            if (n->kids[i]) {
                while (depth > 0) {
                    if (visit(n->kids[i], depth)) {
                        depth--;
                    }
                }
            }
        }
    }
    return 0;
}
"""

NUMBERS = "values = [\n    " + ", ".join(str(i) for i in range(1, 51)) + ",\n]\n"


class Tokenizer:
    """A stand-in for a BPE vocabulary: words, runs of space or punctuation; stable ids."""

    def __init__(self):
        self.ids = {}

    def __call__(self, text):
        pieces = re.findall(r"\w+|\s+|[^\w\s]+", text)
        return [(self.ids.setdefault(piece, len(self.ids)), piece) for piece in pieces]


def feed_tokens(guard, text, with_text=False):
    """Feed text token by token; return how many tokens it took to trip, or None."""
    for n, (token, piece) in enumerate(Tokenizer()(text), 1):
        if guard.feed(token, piece if with_text else None):
            return n
    return None


def feed_pieces(guard, text, size=5):
    """Feed text in small chunks, as a text-only engine streams it."""
    for start in range(0, len(text), size):
        if guard.feed_text(text[start : start + size]):
            return start + size
    return None


def test_a_period_one_run_trips():
    guard = RepetitionGuard()
    results = [guard.feed(7) for _ in range(100)]
    assert results[-1] is True and guard.tripped and guard.reason == REASON
    assert results.index(True) < 100


def test_a_looping_garbage_line_trips_on_tokens():
    guard = RepetitionGuard()
    line = GARBAGE[2] + "\n"
    assert len(Tokenizer()(line)) <= 64  # a period the token check covers
    tripped_at = feed_tokens(guard, GARBAGE[0] + "\n" + line * 6)
    assert tripped_at is not None
    assert tripped_at <= len(Tokenizer()(GARBAGE[0] + "\n" + line * 4))
    assert guard.reason == "the answer was repeating itself"


def test_a_looping_block_of_garbage_lines_trips_on_text():
    block = "\n".join(GARBAGE[1:]) + "\n"
    text = GARBAGE[0] + "\n" + block * 6
    guard = RepetitionGuard()
    tripped_at = feed_pieces(guard, text)
    assert tripped_at is not None
    assert tripped_at <= len(GARBAGE[0]) + 1 + 4 * len(block) + 5
    assert guard.reason == REASON
    # A token stream gives its text too: the block is too long for token periods.
    assert feed_tokens(RepetitionGuard(), text) is None
    assert feed_tokens(RepetitionGuard(), text, with_text=True) is not None


def test_the_garbage_once_does_not_trip():
    text = "\n".join(GARBAGE) + "\n"
    assert feed_tokens(RepetitionGuard(), text, with_text=True) is None
    assert feed_pieces(RepetitionGuard(), text) is None


@pytest.mark.parametrize(
    "text",
    [
        NORMAL_PYTHON,
        NORMAL_C,
        NUMBERS,
        "}\n" * 12,  # closing braces
        "    \n" * 20 + "x = 1\n",  # indentation
        "        " * 10 + "pass\n",
        "# " + "=" * 70 + "\n",
        "NULL,\n" * 10,
        "ctypes.c_void_p,\n" * 6,
    ],
)
def test_normal_code_does_not_trip(text):
    assert feed_tokens(RepetitionGuard(), text, with_text=True) is None
    assert feed_pieces(RepetitionGuard(), text) is None
    assert feed_pieces(RepetitionGuard(), text, size=1) is None


@pytest.mark.parametrize(
    "tokens",
    [
        [1, 2, 3] + [9] * 12 + [4, 5],  # deep indentation as twelve 4-space tokens
        [5, 6] * 20 + [7],  # "}" "\n" twenty times
        [10, 11, 12, 13] * 8 + [14],  # "0" "," " " "0" ... a short zero-filled list
    ],
)
def test_short_legitimate_runs_of_tokens_do_not_trip(tokens):
    guard = RepetitionGuard()
    assert not any(guard.feed(token) for token in tokens)
    assert guard.reason is None


def test_tripped_stays_tripped_until_reset():
    guard = RepetitionGuard()
    for _ in range(100):
        guard.feed(3)
    assert guard.feed(4) and guard.feed_text("fine\n")
    guard.reset()
    assert not guard.tripped and guard.reason is None
    assert not guard.feed(3)


def test_without_min_span_the_plain_rule_applies():
    # The last repeats * period tokens are one period repeated: trip at 4 * 4.
    guard = RepetitionGuard(min_span=0)
    results = [guard.feed(token) for token in [1, 2, 3, 4] * 4]
    assert results.index(True) == 15
    # Periods outside [min_period, max_period] are not looked for.
    guard = RepetitionGuard(min_period=4, max_period=8, min_span=0)
    assert not any(guard.feed(token) for token in list(range(9)) * 10)


def test_blank_lines_forever_trip_on_text():
    guard = RepetitionGuard()
    assert not guard.feed_text("x = 1\n" + "\n" * (BLANK_LINE_LIMIT - 1))
    assert guard.feed_text("\n")


def test_a_repeated_line_without_much_text_needs_more_copies():
    line = "print('value is', value)\n"
    visible = len("".join(line.split()))
    guard = RepetitionGuard()
    copies = [guard.feed_text(line) for _ in range(20)]
    assert copies.index(True) + 1 == math.ceil(MIN_LOOP_CHARS / visible) > 4


def test_line_pieces_can_split_anywhere():
    text = GARBAGE[2] + "\n"
    guard = RepetitionGuard()
    assert not guard.feed_text(text[:10])
    assert not guard.feed_text(text[10:] + text + text)
    assert guard.feed_text(text[:-1]) is False  # the 4th line is not complete yet
    assert guard.feed_text("\n")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_period": 0},
        {"min_period": 8, "max_period": 4},
        {"repeats": 1},
        {"window_tokens": 8},
        {"min_span": 300},
        {"max_block_lines": 0},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        RepetitionGuard(**kwargs)


def test_the_work_per_token_is_bounded_by_max_period():
    guard = RepetitionGuard(window_tokens=256, max_period=64)
    for token in range(100_000):
        guard.feed(token % 1000)
    assert len(guard._tokens.recent) == 64 and len(guard._tokens.runs) == 65
