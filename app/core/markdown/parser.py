"""The Markdown parser for chat answers: markdown-it-py, set up for what code models write.

CommonMark with GitHub's tables, strikethrough and bare ``http(s)://`` links,
and with these choices for untrusted, often streamed model output:

- raw HTML is never recognised, so it stays text and is escaped on output;
- only ``http``, ``https`` and ``mailto`` links are accepted; any other link
  (``javascript:``, ``data:``, ``file:``, relative paths) stays literal text;
- there are no indented code blocks (models fence their code), so a fence may
  be indented any amount, and a fence inside a list item keeps lines that are
  indented less than the item; a fence that never closes runs to the end of
  its container, which for a streamed answer is the end of the text so far;
- a pipe inside a code span in a table row stays in its cell;
- quotes and lists nested past markdown-it's limit are read as one paragraph
  (the library would drop their text).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_block.fence import fence as _library_fence
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

_SAFE_URL = re.compile(r"(?:https?://|mailto:)\S", re.IGNORECASE)
_TICKS = re.compile(r"`+")
_BARE_PIPE = re.compile(r"(?<!\\)\|")


class _Parser(MarkdownIt):
    """markdown-it with Fimble's link policy."""

    def validateLink(self, url: str) -> bool:
        """Accept only ``http(s)://`` and ``mailto:`` links."""
        return _SAFE_URL.match(url) is not None


def _fence(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """The library's fence rule, blind to the indentation of the enclosing list item.

    Inside a list item the library ends a fence at the first line indented
    less than the item's text; models often write such lines, so the fence
    runs on to its closing marker (or to the end) instead.
    """
    indent = state.blkIndent
    state.blkIndent = 0
    try:
        return _library_fence(state, start_line, end_line, silent)
    finally:
        state.blkIndent = indent


def _too_deep(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """Near the nesting limit, take the rest of the container as one paragraph.

    Past ``maxNesting`` the library skips the remaining lines; this rule runs
    first and keeps them, as text, two levels before (paragraph and inline).
    """
    if state.level < state.md.options.maxNesting - 2:
        return False
    if not silent:
        token = state.push("paragraph_open", "p", 1)
        token.map = [start_line, end_line]
        token = state.push("inline", "", 0)
        token.content = state.getLines(start_line, end_line, state.blkIndent, False).strip()
        token.map = [start_line, end_line]
        token.children = []
        state.push("paragraph_close", "p", -1)
        state.line = end_line
    return True


def _escape_code_pipes(line: str) -> str:
    """Backslash-escape the pipes inside the line's code spans."""
    runs = list(_TICKS.finditer(line))
    out: list[str] = []
    done = 0
    i = 0
    while i < len(runs):
        opener = runs[i]
        close = next((j for j in range(i + 1, len(runs)) if len(runs[j].group()) == len(opener.group())), None)
        if close is None:
            i += 1
            continue
        closer = runs[close]
        out.append(line[done : opener.end()])
        out.append(_BARE_PIPE.sub(r"\\|", line[opener.end() : closer.start()]))
        done = closer.start()
        i = close + 1
    out.append(line[done:])
    return "".join(out)


def _code_pipes_in_tables(state: StateCore) -> None:
    """Parse again with code-span pipes escaped when a table row has any.

    GitHub's table rule splits cells at every unescaped pipe, even inside
    ``a || b`` code spans; an escaped pipe stays in its cell as ``|``.
    """
    tables = [token.map for token in state.tokens if token.type == "table_open" and token.map]
    if not tables:
        return
    lines = state.src.split("\n")
    changed = False
    for first, end in tables:
        for i in range(first, end):
            escaped = _escape_code_pipes(lines[i]) if "`" in lines[i] else lines[i]
            changed = changed or escaped != lines[i]
            lines[i] = escaped
    if changed:
        state.src = "\n".join(lines)
        state.tokens.clear()
        state.md.block.parse(state.src, state.md, state.env, state.tokens)


def _make_parser() -> _Parser:
    """Build the configured parser."""
    parser = _Parser("commonmark", {"html": False, "linkify": True})
    parser.enable(["table", "strikethrough", "linkify"])
    parser.disable(["code", "html_block", "html_inline"])
    # Bare links are found by the inline rule, at "://"; the core rule only adds
    # fuzzy links (switched off below) and costs a third of the parse.
    parser.core.ruler.disable("linkify")
    parser.block.ruler.before("table", "too_deep", _too_deep)
    parser.block.ruler.at("fence", _fence, {"alt": ["paragraph", "reference", "blockquote", "list"]})
    parser.core.ruler.after("block", "code_pipes_in_tables", _code_pipes_in_tables)
    if parser.linkify is not None:
        # Only links with a scheme: "example.com" or "a@b.c" in prose stay text.
        parser.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
    return parser


_PARSER = _make_parser()
OPTIONS: OptionsDict = _PARSER.options


def parse(markdown: str, env: EnvType | None = None) -> list[Token]:
    """Parse Markdown into markdown-it's block tokens (inline tokens as their children).

    Args:
        markdown: The answer's Markdown; any line endings; may end mid-construct.
        env: markdown-it's per-document environment (link references land here).

    Returns:
        The token stream, for a renderer.
    """
    return _PARSER.parse(markdown, {} if env is None else env)
