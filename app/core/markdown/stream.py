"""Render the answer that is streaming, re-parsing only its end.

A streamed answer only grows, and Markdown's top-level blocks are decided by
their own lines and at most the two lines after their end (the line that ends
them, and the one after it, which markdown-it reads to see whether a table
starts there). So once those lines are complete (a later line exists in the
text), a top-level block's tokens, HTML and code blocks no longer change.
``StreamingRender`` keeps them per block and, for a text that extends the last
one, parses and renders only the source from the first block it cannot keep:
the last block always (an open fence, a growing list or table, a paragraph
that turns into a setext heading), and the one before it while the line after
it is still being written (``2.`` after a blank line may join a list above,
``#x`` may stop being a heading and join a paragraph).

The result is always what ``render`` gives for the same text, byte for byte:
any other change (an edit, other colours or options) renders the whole text,
and so does any text with a link reference definition (``[x]: url``), which
can change links in blocks before it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it.token import Token
from markdown_it.utils import EnvType

from app.core.markdown.parser import OPTIONS, parse
from app.core.markdown.render import _DARK, _LIGHT, _RENDERER, CodeBlock, RenderedMarkdown, _Page

# markdown-it's own input normalisation; line numbers in token maps count these lines.
_NEWLINES = re.compile(r"\r\n?|\n")


@dataclass(frozen=True)
class _Block:
    """One top-level block of the last render.

    Attributes:
        start: Its first source line (in the text with normalised line breaks).
        html: Its HTML, with the line break that separates it from the block before.
        code_end: How many code blocks the answer has up to and including this block.
        last: Its last token (a closing token, or a fence or rule), which the
            next block's render rules look back at.
    """

    start: int
    html: str
    code_end: int
    last: Token


def _normalise(markdown: str) -> str:
    """Line breaks and NUL characters as markdown-it sees them."""
    if "\r" in markdown:
        markdown = _NEWLINES.sub("\n", markdown)
    return markdown.replace("\0", "\ufffd")


def _line_offset(text: str, line: int) -> int:
    """The character offset where ``line`` (from 0) starts in ``text``."""
    offset = 0
    for _ in range(line):
        offset = text.index("\n", offset) + 1
    return offset


def _render_blocks(tokens: Sequence[Token], first: int, page: _Page, line_shift: int) -> list[_Block]:
    """Render ``tokens[first:]`` block by block, as the whole-answer render would.

    Tokens before ``first`` are context for the rules that look back (the
    line break between blocks); they are not rendered.
    """
    env: EnvType = {"page": page}
    rules = _RENDERER.rules
    blocks: list[_Block] = []
    parts: list[str] = []
    start = -1
    for i in range(first, len(tokens)):
        token = tokens[i]
        if token.level == 0 and token.nesting >= 0:
            if start >= 0:
                blocks.append(_Block(start, "".join(parts), len(page.code_blocks), tokens[i - 1]))
                parts = []
            start = (token.map[0] if token.map else 0) + line_shift
        if token.type == "inline":
            if token.children:
                parts.append(_RENDERER.renderInline(token.children, OPTIONS, env))
        elif token.type in rules:
            parts.append(rules[token.type](tokens, i, OPTIONS, env))
        else:
            parts.append(_RENDERER.renderToken(tokens, i, OPTIONS, env))
    if start >= 0:
        blocks.append(_Block(start, "".join(parts), len(page.code_blocks), tokens[-1]))
    return blocks


class StreamingRender:
    """Renders one streaming answer again and again as it grows.

    Use one instance per streamed answer and drop it when the answer ends;
    ``render`` takes the same arguments as ``app.core.markdown.render.render``
    and returns the same result.
    """

    def __init__(self) -> None:
        self._text = ""
        self._options: tuple[bool, bool] | None = None
        self._lines = 0  # lines of the last text; the last one may still grow
        self._blocks: list[_Block] = []
        self._code_blocks: list[CodeBlock] = []
        self._reusable = False  # False after a render that found link reference definitions
        self.full_renders = 0  # how many calls rendered the whole text (for tests and benchmarks)

    def render(self, markdown: str, *, dark: bool = False, code_actions: bool = True) -> RenderedMarkdown:
        """Render the answer so far; see ``app.core.markdown.render.render``.

        Args:
            markdown: The whole answer so far (not only the new text).
            dark: Colours for a dark UI theme.
            code_actions: Action links above each code block.

        Returns:
            The same HTML and code blocks as ``render(markdown, ...)``.
        """
        options = (dark, code_actions)
        text = _normalise(markdown)
        page = _Page(_DARK if dark else _LIGHT, code_actions)
        keep = 0
        if self._reusable and options == self._options and markdown.startswith(self._text):
            keep = self._kept_blocks()
        blocks = self._render_end(text, keep, page) if keep else None
        if blocks is None:
            self.full_renders += 1
            page = _Page(_DARK if dark else _LIGHT, code_actions)
            env: EnvType = {}
            blocks = _render_blocks(parse(text, env), 0, page, 0)
            self._reusable = not env.get("references")
        self._text, self._options, self._blocks = markdown, options, blocks
        self._lines = text.count("\n") + 1
        self._code_blocks = page.code_blocks
        return RenderedMarkdown("".join(block.html for block in blocks), tuple(page.code_blocks))

    def _render_end(self, text: str, keep: int, page: _Page) -> list[_Block] | None:
        """Keep the first ``keep`` blocks and render the text from the next one's first line.

        Returns:
            All blocks, or None when the new end defines a link reference
            (which may change links in the blocks kept).
        """
        kept = self._blocks[:keep]
        start_line = self._blocks[keep].start
        env: EnvType = {}
        tokens = parse(text[_line_offset(text, start_line) :], env)
        if env.get("references"):
            return None
        page.code_blocks.extend(self._code_blocks[: kept[-1].code_end])
        return kept + _render_blocks([kept[-1].last, *tokens], 1, page, start_line)

    def _kept_blocks(self) -> int:
        """How many leading blocks of the last render stay as they are when its text grows.

        A block is kept when it is not the last one and the lines that decided
        where it ends (the next block's first line and the one after it) were
        complete in the last text, so that they cannot change any more.
        """
        complete = self._lines - 1  # lines 0 .. complete - 1 end with a line break
        keep = 0
        while keep + 1 < len(self._blocks) and self._blocks[keep + 1].start + 2 <= complete:
            keep += 1
        return keep
