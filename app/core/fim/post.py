"""Text-level clean-up of a generated FIM middle, and splitting it for partial accepts.

The engine already stops on the model's end tokens. What is left here is the
editor's view: show one line when the cursor is inside a line, end a block
suggestion where the code dedents out of the cursor's block, and drop text
that only repeats what already follows the cursor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice

# Closing characters that may be trimmed when a one-line suggestion ends with
# the start of the text that already follows the cursor.
_CLOSERS = frozenset(")]}>\"'`;:,")
_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))
_QUOTES = ('"', "'", "`")
# How far back to look for the brackets a suggestion may be closing.
_SCAN_CHARS = 2000
_WORD = re.compile(r"\s*[^\w\s]*\w*")
_LEADING_SPACE = re.compile(r"\s*")


def _leading_space(text: str) -> int:
    """How many whitespace characters ``text`` starts with."""
    match = _LEADING_SPACE.match(text)
    return match.end() if match else 0


_TAB_WIDTH = 4


def wants_multiline(prefix: str, suffix: str) -> bool:
    """Say whether a suggestion at this cursor may span several lines.

    Args:
        prefix: The text before the cursor (unused; kept for a stable signature).
        suffix: The text after the cursor.

    Returns:
        True when the rest of the cursor's line is blank (the cursor is at the
        end of a line or on an empty line), False when text follows the cursor
        on its line.
    """
    del prefix
    return not _rest_of_line(suffix).strip()


def postprocess(text: str, prefix: str, suffix: str, multiline: bool | None = None) -> str:
    """Clean up a generated middle before it is shown as ghost text.

    One-line mode keeps the first line and trims an end that repeats the rest
    of the cursor line (``foo)`` before ``)`` becomes ``foo``) unless the
    suggestion's brackets or quotes need it (``f(x)`` in ``print(|)`` stays).
    Block mode ends at the first later line indented less than the cursor
    line. Both drop trailing blank lines, last lines that repeat the suffix's
    first non-blank lines, and a suggestion the suffix already starts with.

    Args:
        text: The generated middle.
        prefix: The text before the cursor.
        suffix: The text after the cursor.
        multiline: Force one-line (False) or block (True) mode; None picks the
            mode with ``wants_multiline``.

    Returns:
        The suggestion to show, or "" when nothing useful is left.
    """
    if multiline is None:
        multiline = wants_multiline(prefix, suffix)
    if multiline:
        lines = _cut_at_dedent(text.split("\n"), _indent_width(_current_line(prefix)))
    else:
        lines = [text.split("\n", 1)[0]]
    lines = _drop_repeated_tail(_strip_trailing_blank(lines), suffix)
    result = "\n".join(_strip_trailing_blank(lines))
    stripped = result.strip()
    if not stripped or suffix.startswith(stripped, _leading_space(suffix)):
        return ""
    if not multiline:
        result = _trim_line_overlap(result, prefix, _rest_of_line(suffix))
    return result if result.strip() else ""


def accept_word(ghost: str) -> tuple[str, str]:
    """Split off what Ctrl+Right accepts: the next word.

    The accepted part is a run of whitespace, then a run of punctuation, then
    a run of word characters (any of them may be empty), so ``"  foo(x)"``
    accepts ``"  foo"`` and ``".bar()"`` accepts ``".bar"``.

    Args:
        ghost: The suggestion still shown.

    Returns:
        (accepted, rest); ``accepted + rest == ghost``.
    """
    match = _WORD.match(ghost)
    end = match.end() if match else 0
    return ghost[:end], ghost[end:]


def accept_line(ghost: str) -> tuple[str, str]:
    """Split off what accept-line takes: up to and including the next newline.

    When the ghost starts with a newline, the next line is taken through its
    own newline too, so one press always inserts some visible text.

    Args:
        ghost: The suggestion still shown.

    Returns:
        (accepted, rest); ``accepted + rest == ghost``.
    """
    newline = ghost.find("\n", 1 if ghost.startswith("\n") else 0)
    if newline < 0:
        return ghost, ""
    return ghost[: newline + 1], ghost[newline + 1 :]


def consume_typed(ghost: str, typed: str) -> str | None:
    """Keep a suggestion alive while the user types its first characters.

    Args:
        ghost: The suggestion shown before the keystroke(s).
        typed: The text the user just typed (one or more characters).

    Returns:
        The rest of the ghost after ``typed`` ("" when all of it was typed),
        or None when the typing does not match the ghost.
    """
    if typed and ghost.startswith(typed):
        return ghost[len(typed) :]
    return None


def _rest_of_line(suffix: str) -> str:
    """The suffix up to its first newline."""
    end = suffix.find("\n")
    return suffix if end < 0 else suffix[:end]


def _current_line(prefix: str) -> str:
    """The prefix after its last newline."""
    return prefix[prefix.rfind("\n") + 1 :]


def _indent_width(line: str) -> int:
    """Columns of leading whitespace, tabs counted as four."""
    body = line.lstrip(" \t")
    return len(line[: len(line) - len(body)].expandtabs(_TAB_WIDTH))


def _iter_lines(text: str) -> Iterator[str]:
    """Yield the lines of ``text`` lazily, so a huge suffix is not split whole."""
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1


def _cut_at_dedent(lines: list[str], indent: int) -> list[str]:
    """Drop lines from the first later non-blank line indented less than ``indent``."""
    for index in range(1, len(lines)):
        line = lines[index]
        if line.strip() and _indent_width(line) < indent:
            return lines[:index]
    return lines


def _strip_trailing_blank(lines: list[str]) -> list[str]:
    """Drop blank lines at the end, keeping at least the first line."""
    end = len(lines)
    while end > 1 and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _drop_repeated_tail(lines: list[str], suffix: str) -> list[str]:
    """Trim the suggestion's last lines when they repeat the suffix's first non-blank lines."""
    own = [index for index, line in enumerate(lines) if line.strip()]
    ahead = list(islice((line.strip() for line in _iter_lines(suffix) if line.strip()), len(own)))
    for count in range(min(len(own), len(ahead)), 0, -1):
        tail = [lines[index].strip() for index in own[-count:]]
        if tail == ahead[:count]:
            return lines[: own[-count]] or [""]
    return lines


def _trim_line_overlap(text: str, prefix: str, rest: str) -> str:
    """Trim the end of a one-line suggestion that repeats the text after the cursor."""
    after = rest.strip()
    body = text.rstrip()
    if not after:
        return text
    if body.endswith(after) and _overclosed(prefix, body, rest, after):
        return body[: len(body) - len(after)]
    # Partial overlap limited to closing characters: "x)" before "):" -> "x".
    for size in range(min(len(body), len(after) - 1), 0, -1):
        piece = after[:size]
        if body.endswith(piece) and set(piece) <= _CLOSERS and _overclosed(prefix, body, rest, piece):
            return body[: len(body) - size]
    return text


def _overclosed(prefix: str, body: str, rest: str, piece: str) -> bool:
    """Whether keeping ``piece`` in the suggestion would close brackets or quotes twice."""
    for opener, closer in _PAIRS:
        if closer in piece:
            depth = _unclosed(prefix[-_SCAN_CHARS:], opener, closer)
            for char in body + rest:
                depth += (char == opener) - (char == closer)
                if depth < 0:
                    break
            else:
                return False
    line = _current_line(prefix) + body + rest
    return all(line.count(quote) % 2 for quote in _QUOTES if quote in piece)


def _unclosed(text: str, opener: str, closer: str) -> int:
    """How many ``opener`` characters in ``text`` are not closed later in it."""
    depth = unclosed = 0
    for char in reversed(text):
        if char == closer:
            depth += 1
        elif char == opener:
            unclosed += depth == 0
            depth = max(depth - 1, 0)
    return unclosed
