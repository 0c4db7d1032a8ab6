"""Block-level Markdown parsing for chat answers: the document's structure.

Splits the Markdown that code models write into headings, paragraphs, fenced
code, rules, block quotes, (nested) lists and GitHub tables. Inline syntax
(emphasis, code spans, links) is left as raw text in the blocks; the HTML and
plain-text renderers in ``app.core.markdown.html`` handle it. The parser is
forgiving rather than strict CommonMark: every line of a paragraph keeps its
line break, a list item nests under another when it is indented two or more
columns past the parent's marker, and an unterminated fence (a streamed answer
cut mid-block) runs to the end of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

# Fences may be indented any amount (models indent them in odd places).
_FENCE = re.compile(r"(`{3,}|~{3,})(.*)")
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_RULE = re.compile(r" {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})")
_SETEXT = re.compile(r" {0,3}(={3,}|-{3,})[ \t]*")
_QUOTE = re.compile(r"[ \t]{0,3}>[ ]?(.*)")
_ITEM = re.compile(r"([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*))?")
_DELIMITER = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CELL_TOKEN = re.compile(r"\\.|`+|\|")
_TAB = 4
# Quotes and lists nested deeper than this are read as paragraphs.
_MAX_DEPTH = 16
# Columns past a list marker from which an indented line belongs to the item.
_NEST = 2


@dataclass(frozen=True)
class Heading:
    """An ATX (``## x``) or setext (``x`` over ``===``) heading."""

    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    """Running text; ``text`` keeps the source's line breaks."""

    text: str


@dataclass(frozen=True)
class Fence:
    """A fenced code block; ``closed`` is False when its fence never ended."""

    language: str
    code: str
    closed: bool


@dataclass(frozen=True)
class Rule:
    """A horizontal rule (``---``, ``***``, ``___``)."""


@dataclass(frozen=True)
class Quote:
    """A block quote holding its own blocks."""

    children: tuple[Block, ...]


@dataclass(frozen=True)
class ListBlock:
    """A bullet or numbered list; each item is a tuple of blocks."""

    ordered: bool
    start: int
    items: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True)
class Table:
    """A GitHub table; ``aligns`` holds ``""``, ``"left"``, ``"center"`` or ``"right"``."""

    header: tuple[str, ...]
    aligns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Union[Heading, Paragraph, Fence, Rule, Quote, ListBlock, Table]


@dataclass(frozen=True)
class _Item:
    """A list item's first line, measured."""

    indent: int
    ordered: bool
    number: int
    content_indent: int
    text: str


def parse(markdown: str) -> tuple[Block, ...]:
    """Split Markdown into its blocks.

    Args:
        markdown: The Markdown source; any line endings. NUL characters
            become U+FFFD, as CommonMark asks.

    Returns:
        The top-level blocks in document order. Nested blocks live inside
        ``Quote.children`` and ``ListBlock.items``.
    """
    text = markdown.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # a final line break ends the last line; no empty line follows
    return _parse_lines(lines)


def _indent(line: str) -> int:
    """Return the width of the line's leading whitespace, tabs to 4 columns."""
    lead = len(line) - len(line.lstrip(" \t"))
    if "\t" not in line[:lead]:
        return lead
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width += _TAB - width % _TAB
        else:
            break
    return width


def _dedent(line: str, columns: int) -> str:
    """Remove up to ``columns`` columns of leading whitespace."""
    lead = len(line) - len(line.lstrip(" \t"))
    if "\t" not in line[:lead]:
        return line[min(lead, columns):]
    width = 0
    for pos, char in enumerate(line):
        if width >= columns or char not in " \t":
            return line[pos:]
        step = 1 if char == " " else _TAB - width % _TAB
        if width + step > columns:
            return " " * (width + step - columns) + line[pos + 1:]
        width += step
    return ""


def _item(line: str) -> _Item | None:
    """Measure a list item's first line, or return None for other lines."""
    indent = _indent(line)
    match = _ITEM.fullmatch(line.lstrip(" \t"))
    if match is None:
        return None
    marker, gap, text = match.group(1), match.group(2) or "", match.group(3) or ""
    gap_width = _indent(gap)
    if not text or gap_width > 4:
        text = (" " * (gap_width - 1) + text) if text else ""
        gap_width = 1
    ordered = marker[0].isdigit()
    return _Item(indent, ordered, int(marker[:-1]) if ordered else 0,
                 indent + len(marker) + gap_width, text)


def _fence_open(line: str) -> tuple[str, int, str] | None:
    """Return ``(char, length, language)`` when the line opens a fence."""
    match = _FENCE.fullmatch(line.lstrip(" \t"))
    if match is None:
        return None
    run, info = match.group(1), match.group(2).strip()
    if run[0] == "`" and "`" in info:
        return None
    return run[0], len(run), (info.split()[0] if info else "")


def _fence_closes(line: str, char: str, length: int, indent: int) -> bool:
    """Say whether the line closes a fence of ``length`` ``char``s at ``indent``."""
    stripped = line.strip()
    return (_indent(line) < indent + 4 and len(stripped) >= length
            and stripped == char * len(stripped))


def _starts_block(line: str) -> bool:
    """Say whether the line starts a block that interrupts a paragraph."""
    if _fence_open(line) or _HEADING.fullmatch(line) or _QUOTE.fullmatch(line):
        return True
    if _RULE.fullmatch(line):
        return True
    item = _item(line)
    return item is not None and bool(item.text.strip())


def _split_row(line: str) -> tuple[str, ...]:
    """Split a table row into trimmed cells at pipes outside code spans."""
    row = line.strip()
    cells: list[str] = []
    start = ticks = 0
    for match in _CELL_TOKEN.finditer(row):
        token = match.group()
        if token[0] == "`":
            ticks = 0 if ticks == len(token) else ticks or len(token)
        elif token == "|" and not ticks:
            cells.append(row[start:match.start()])
            start = match.end()
    if ticks:  # an unclosed code span: split at every unescaped pipe instead
        cells = _CELL_SPLIT.split(row)
    else:
        cells.append(row[start:])
    if len(cells) > 1 and not cells[0].strip() and row.startswith("|"):
        cells.pop(0)
    if len(cells) > 1 and not cells[-1].strip() and row.endswith("|"):
        cells.pop()
    return tuple(cell.strip().replace("\\|", "|") for cell in cells)


def _table_start(lines: list[str], i: int) -> bool:
    """Say whether a GitHub table (header plus delimiter row) starts at ``i``."""
    if i + 1 >= len(lines) or "|" not in lines[i]:
        return False
    delimiter = lines[i + 1]
    if not _DELIMITER.fullmatch(delimiter):
        return False
    if "|" not in delimiter and not lines[i].strip().startswith("|"):
        return False
    return len(_split_row(lines[i])) == len(_split_row(delimiter))


def _parse_lines(lines: list[str], depth: int = 0) -> tuple[Block, ...]:
    """Parse a run of lines (already stripped of any container prefix)."""
    nest = depth < _MAX_DEPTH
    blocks: list[Block] = []
    i, count = 0, len(lines)
    while i < count:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _fence_open(line):
            block, i = _parse_fence(lines, i)
        elif match := _HEADING.fullmatch(line):
            text = _CLOSING_HASHES.sub("", match.group(2) or "")
            block, i = Heading(len(match.group(1)), text.strip()), i + 1
        elif _RULE.fullmatch(line):
            block, i = Rule(), i + 1
        elif nest and _QUOTE.fullmatch(line):
            block, i = _parse_quote(lines, i, depth + 1)
        elif nest and _item(line):
            block, i = _parse_list(lines, i, depth + 1)
        elif _table_start(lines, i):
            block, i = _parse_table(lines, i)
        else:
            block, i = _parse_paragraph(lines, i)
        blocks.append(block)
    return tuple(blocks)


def _parse_fence(lines: list[str], i: int) -> tuple[Fence, int]:
    """Parse a fenced code block starting at ``i``."""
    char, length, language = _fence_open(lines[i])  # type: ignore[misc]
    indent = _indent(lines[i])
    code: list[str] = []
    for j in range(i + 1, len(lines)):
        if _fence_closes(lines[j], char, length, indent):
            return Fence(language, "\n".join(code), True), j + 1
        code.append(_dedent(lines[j], indent))
    return Fence(language, "\n".join(code), False), len(lines)


def _parse_quote(lines: list[str], i: int, depth: int) -> tuple[Quote, int]:
    """Parse a block quote, with lazy continuation lines, starting at ``i``."""
    inner: list[str] = []
    in_fence = None
    while i < len(lines):
        match = _QUOTE.fullmatch(lines[i])
        if match:
            inner.append(match.group(1))
            in_fence = _track_fence(in_fence, match.group(1))
        elif (lines[i].strip() and inner and inner[-1].strip() and in_fence is None
              and not _starts_block(inner[-1]) and not _starts_block(lines[i])):
            inner.append(lines[i].strip())
        else:
            break
        i += 1
    return Quote(_parse_lines(inner, depth)), i


def _track_fence(state: tuple[str, int, int] | None, line: str) -> tuple[str, int, int] | None:
    """Follow fence opening and closing across a container's lines."""
    if state is None:
        opened = _fence_open(line)
        return (opened[0], opened[1], _indent(line)) if opened else None
    return None if _fence_closes(line, *state) else state


def _next_filled(lines: list[str], i: int) -> int | None:
    """Return the index of the first non-blank line at or after ``i``."""
    for j in range(i, len(lines)):
        if lines[j].strip():
            return j
    return None


def _parse_list(lines: list[str], i: int, depth: int) -> tuple[ListBlock, int]:
    """Parse a list and its items' nested blocks, starting at ``i``."""
    first = _item(lines[i])
    assert first is not None
    items: list[tuple[Block, ...]] = []
    while True:
        item = _item(lines[i])
        body, i = _item_lines(lines, i, item)  # type: ignore[arg-type]
        items.append(_parse_lines(body, depth))
        j = _next_filled(lines, i)
        if j is None:
            i = len(lines)
            break
        following = _item(lines[j])
        if (following is None or following.ordered != first.ordered
                or following.indent >= first.indent + _NEST):
            break
        i = j
    return ListBlock(first.ordered, first.number, tuple(items)), i


def _item_lines(lines: list[str], i: int, item: _Item) -> tuple[list[str], int]:
    """Collect one item's lines, dedented to its content, from ``i``."""
    body = [item.text]
    nest = min(item.content_indent, item.indent + _NEST)
    in_fence = _track_fence(None, item.text)
    i += 1
    while i < len(lines):
        line = lines[i]
        if in_fence is not None:
            body.append(_dedent(line, item.content_indent))
            in_fence = _track_fence(in_fence, body[-1])
        elif not line.strip():
            j = _next_filled(lines, i)
            if j is None or _indent(lines[j]) < nest:
                break
            body.append("")
        elif _indent(line) >= nest:
            body.append(_dedent(line, item.content_indent))
            in_fence = _track_fence(None, body[-1])
        elif (body[-1].strip() and not _starts_block(body[-1]) and not _starts_block(line)
              and not _table_start(lines, i)):
            body.append(line.strip())
        else:
            break
        i += 1
    return body, i


def _parse_table(lines: list[str], i: int) -> tuple[Table, int]:
    """Parse a GitHub table starting at its header row ``i``."""
    header = _split_row(lines[i])
    aligns = []
    for cell in _split_row(lines[i + 1]):
        left, right = cell.startswith(":"), cell.endswith(":")
        aligns.append("center" if left and right else "left" if left else
                      "right" if right else "")
    rows = []
    i += 2
    while i < len(lines) and "|" in lines[i] and lines[i].strip():
        if _starts_block(lines[i]) and not lines[i].lstrip().startswith("|"):
            break
        cells = _split_row(lines[i])[:len(header)]
        rows.append(cells + ("",) * (len(header) - len(cells)))
        i += 1
    return Table(header, tuple(aligns), tuple(rows)), i


def _parse_paragraph(lines: list[str], i: int) -> tuple[Block, int]:
    """Parse a paragraph (or a setext heading) starting at ``i``."""
    text = [lines[i].strip()]
    i += 1
    while i < len(lines) and lines[i].strip():
        setext = _SETEXT.fullmatch(lines[i])
        if setext:
            level = 1 if setext.group(1)[0] == "=" else 2
            return Heading(level, "\n".join(text)), i + 1
        if _starts_block(lines[i]) or _table_start(lines, i):
            break
        text.append(lines[i].strip())
        i += 1
    return Paragraph("\n".join(text)), i
