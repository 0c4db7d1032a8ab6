"""Render chat answers (Markdown) to HTML for Qt's QTextBrowser, or to plain text.

Everything in an answer is untrusted model output: all text is HTML-escaped,
raw HTML shows as text, and only ``http``, ``https`` and ``mailto`` links
become anchors. The HTML keeps to Qt's "Supported HTML Subset" (tables with
``bgcolor``/``cellpadding``, ``<pre>``, inline ``style`` with simple
properties) so code blocks, tables and lists look right in a QTextBrowser.
Code blocks are highlighted with Pygments; above each one, optional action
links ``fimble:copy/N``, ``fimble:insert/N`` and ``fimble:open/N`` name the
block by its index in ``RenderedMarkdown.code_blocks``. Block structure comes
from ``app.core.markdown.blocks``; this module handles the inline syntax.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound

from app.core.markdown import blocks as mb


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block of an answer.

    Attributes:
        index: Position among the answer's code blocks, from 0; the ``N`` of
            the ``fimble:copy/N``-style action links.
        language: The fence's language word as written (``"python"``,
            ``"c++"``), or ``""`` when none was given.
        code: The block's text exactly as between the fences (trailing spaces
            and blank lines kept), without a final line break.
    """

    index: int
    language: str
    code: str


@dataclass(frozen=True)
class RenderedMarkdown:
    """An answer rendered to HTML, with its code blocks for the action links."""

    html: str
    code_blocks: tuple[CodeBlock, ...]


# Colours for one UI theme, and the Pygments style for its code blocks.
_Palette = namedtuple("_Palette", "style code_bg code_fg header_bg header_fg action"
                      " inline_bg link border th_bg quote_fg quote_bar")
_LIGHT = _Palette("default", "#f6f8fa", "#1f2328", "#e4e8ec", "#57606a", "#0969da",
                  "#eaeef2", "#0969da", "#c8d0d8", "#eef1f4", "#57606a", "#c8d0d8")
_DARK = _Palette("monokai", "#272822", "#f8f8f2", "#3e3d32", "#b0b0a6", "#66d9ef",
                 "#3a3d41", "#58a6ff", "#5a5f66", "#2d3035", "#a8adb3", "#5a5f66")
_ACTIONS = (("copy", "Copy"), ("insert", "Insert at cursor"), ("open", "Open in new tab"))
_BULLETS = ("disc", "circle", "square")
_P_STYLE = ' style="margin-top:0px; margin-bottom:8px"'

_INLINE = re.compile(
    r"\\(?P<esc>[!-/:-@\[-`{-~])"
    r"|(?<!`)(?P<ticks>`+)(?!`)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)"
    r"|<(?P<auto>(?:https?://|mailto:)[^\s<>\x00]+)>",
    re.S,
)
_LINK = re.compile(
    r"!?\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\((?P<url>[^\s()\x00]*(?:\([^\s()\x00]*\)[^\s()\x00]*)*)"
    r"(?:[ \t]+\"[^\"\n]*\")?[ \t]*\)"
)
_BARE_URL = re.compile(r"(?<![\w/@.:])https?://[^\s<>\"'`\[\]\x00]+")
_SAFE_URL = re.compile(r"(?:https?://|mailto:)\S", re.I)
_HARD_BREAK = re.compile(r"\\\n|\\$")
_TEXT_RUN = re.compile(r"(^|>)([^<]+)")
_QUOTES = str.maketrans({'"': "&quot;", "'": "&#39;"})
_HELD = re.compile(r"\x00(\d+)\x00")
_RUN = re.compile(r"\*+|_+|~+")
_ASCII_PUNCT = frozenset(string.punctuation + "\x00")
_TAGS = {("*", 1): "em", ("_", 1): "em", ("*", 2): "strong", ("_", 2): "strong",
         ("~", 2): "s"}


def render(markdown: str, *, dark: bool = False, code_actions: bool = True) -> RenderedMarkdown:
    """Render a chat answer's Markdown to HTML for a QTextBrowser.

    Args:
        markdown: The answer so far; may end mid-construct while streaming (an
            unterminated code fence renders as a code block to the end).
        dark: Use colours and a Pygments style for a dark UI theme.
        code_actions: Put a header row with the language and the Copy, Insert
            at cursor and Open in new tab links above each code block.

    Returns:
        The HTML fragment and the answer's code blocks in document order.
    """
    renderer = _HtmlRenderer(_DARK if dark else _LIGHT, code_actions)
    html = renderer.blocks(mb.parse(markdown))
    return RenderedMarkdown(html, tuple(renderer.code_blocks))


def plain_text(markdown: str) -> str:
    """Return a chat answer as plain text, for "copy message as text".

    Args:
        markdown: The answer's Markdown.

    Returns:
        The text with Markdown markers removed: no ``#``, ``**``, backticks or
        link brackets (a link becomes ``text (url)``), list items as ``•`` or
        ``1.`` lines, table rows as tab-separated cells, and code blocks kept
        verbatim without their fences.
    """
    return _plain_blocks(mb.parse(markdown), "\n\n")


def warm_up() -> None:
    """Pay Pygments' one-off start-up costs before the first answer arrives.

    Optional. The first ``guess_lexer`` call imports every lexer (about
    0.1-0.2 s) and each language's first block imports its lexer module; call
    this once from a worker thread at start-up to keep that off the first
    streamed answer's render.
    """
    for language in ("", "python", "js", "bash"):
        _lexer(language, "x = 1\n" * 4)


def _escape(text: str) -> str:
    """Escape text for HTML content and quoted attributes."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def _inline(text: str, palette: _Palette | None) -> str:
    """Render inline Markdown to HTML, or to plain text when palette is None."""
    plain = palette is None
    held: list[str] = []

    def hold(value: str) -> str:
        held.append(value)
        return f"\x00{len(held) - 1}\x00"

    def span(match: re.Match[str]) -> str:
        if match["esc"] is not None:
            return hold(match["esc"] if plain else _escape(match["esc"]))
        if match["auto"] is not None:
            return hold(_anchor(match["auto"], "", palette))
        code = match["code"].replace("\n", " ")
        if len(code) > 1 and code[0] == code[-1] == " " and code.strip():
            code = code[1:-1]
        if plain:
            return hold(code)
        return hold(f'<code style="background-color:{palette.inline_bg}">{_escape(code)}</code>')

    def link(match: re.Match[str]) -> str:
        url = match["url"]
        if not _SAFE_URL.match(url):
            return match.group(0)
        label = match["text"] if plain else _escape(match["text"])
        return hold(_anchor(url, _emphasis(label, plain), palette))

    def bare(match: re.Match[str]) -> str:
        url = match.group(0)
        trimmed = url.rstrip(".,:;!?*_~")
        while trimmed.endswith(")") and trimmed.count(")") > trimmed.count("("):
            trimmed = trimmed[:-1].rstrip(".,:;!?*_~")
        return hold(_anchor(trimmed, "", palette)) + url[len(trimmed):]

    text = _HARD_BREAK.sub("\n", text.replace("\x00", "\ufffd"))
    text = _LINK.sub(link, _INLINE.sub(span, text))
    text = _BARE_URL.sub(bare, text)
    text = _emphasis(text if plain else _escape(text), plain)
    text = _restore(text, held)
    return text if plain else text.replace("\n", "<br>")


def _anchor(url: str, label: str, palette: _Palette | None) -> str:
    """Make a link to a checked URL; ``label`` is already rendered (or empty)."""
    if palette is None:
        if not label or label in (url, url.removeprefix("mailto:")):
            return url
        return f"{label} ({url})"
    return f'<a href="{_escape(url)}" style="color:{palette.link}">{label or _escape(url)}</a>'


def _restore(text: str, held: list[str]) -> str:
    """Put held-back pieces (code spans, links…) back in place."""
    if "\x00" not in text:
        return text
    return _HELD.sub(lambda match: _restore(held[int(match.group(1))], held), text)


def _is_punct(char: str) -> bool:
    """Say whether a character counts as punctuation for emphasis flanking."""
    return char in _ASCII_PUNCT or unicodedata.category(char)[0] in "PS"


def _emphasis(text: str, plain: bool) -> str:
    """Apply ``*``, ``_`` and ``~~`` emphasis with CommonMark's delimiter rules."""
    if "*" not in text and "_" not in text and "~" not in text:
        return text
    # Each delimiter run is [char, count, can_open, can_close, original count].
    nodes: list[str | list] = []
    pos = 0
    for match in _RUN.finditer(text):
        run = match.group()
        before = text[match.start() - 1] if match.start() else " "
        after = text[match.end()] if match.end() < len(text) else " "
        left = not after.isspace() and (
            not _is_punct(after) or before.isspace() or _is_punct(before))
        right = not before.isspace() and (
            not _is_punct(before) or after.isspace() or _is_punct(after))
        if run[0] == "_":
            left, right = (left and (not right or _is_punct(before)),
                           right and (not left or _is_punct(after)))
        elif run[0] == "~" and len(run) != 2:
            left = right = False
        nodes.append(text[pos:match.start()])
        nodes.append([run[0], len(run), left, right, len(run)] if left or right else run)
        pos = match.end()
    nodes.append(text[pos:])
    i = 0
    while i < len(nodes):
        closer = nodes[i]
        if not isinstance(closer, list) or not closer[3]:
            i += 1
            continue
        j = _find_opener(nodes, i)
        if j is None:
            i += 1
            continue
        opener = nodes[j]
        used = 2 if opener[1] >= 2 and closer[1] >= 2 else 1
        inner = _flatten(nodes[j + 1:i])
        tag = _TAGS[(closer[0], used)]
        nodes[j + 1:i] = [inner if plain else f"<{tag}>{inner}</{tag}>"]
        opener[1] -= used
        closer[1] -= used
        i = j + 2
        if opener[1] == 0:
            del nodes[j]
            i -= 1
        if closer[1] == 0:
            del nodes[i]
    return _flatten(nodes)


def _find_opener(nodes: list, i: int) -> int | None:
    """Return the index of the nearest delimiter run that can close ``nodes[i]``."""
    closer = nodes[i]
    for j in range(i - 1, -1, -1):
        opener = nodes[j]
        if not isinstance(opener, list) or not opener[2] or opener[0] != closer[0]:
            continue
        both = (opener[2] and opener[3]) or (closer[2] and closer[3])
        total = opener[4] + closer[4]
        if both and total % 3 == 0 and (opener[4] % 3 or closer[4] % 3):
            continue
        return j
    return None


def _flatten(nodes: Sequence[str | list]) -> str:
    """Join nodes, turning unmatched delimiter runs back into text."""
    return "".join(node if isinstance(node, str) else node[0] * node[1] for node in nodes)


@lru_cache(maxsize=8)
def _formatter(style: str) -> HtmlFormatter:
    """Return a cached inline-styled Pygments HTML formatter."""
    return HtmlFormatter(noclasses=True, nowrap=True, style=style)


def _lexer(language: str, code: str) -> Lexer | None:
    """Pick a lexer by the fence's language, or by guessing for longer blocks."""
    options = {"stripnl": False, "ensurenl": False}
    try:
        if language:
            return get_lexer_by_name(language.lower(), **options)
        if code.count("\n") >= 3:
            return guess_lexer(code, **options)
    except ClassNotFound:
        pass
    return None


@lru_cache(maxsize=256)
def _highlight(code: str, language: str, style: str) -> str:
    """Return a code block's body as highlighted HTML."""
    # Cached: finished blocks repeat unchanged across a streaming answer's re-renders.
    shown = code.expandtabs(4)
    lexer = _lexer(language, code)
    if lexer is None:
        return _escape(shown)
    html = highlight(shown, lexer, _formatter(style))
    if html.endswith("\n") and not shown.endswith("\n"):
        html = html[:-1]
    # Pygments leaves quotes unescaped in text; escape them outside its tags.
    return _TEXT_RUN.sub(lambda match: match[1] + match[2].translate(_QUOTES), html)


class _HtmlRenderer:
    """Turns parsed blocks into Qt-friendly HTML, collecting code blocks."""

    def __init__(self, palette: _Palette, code_actions: bool) -> None:
        self.palette = palette
        self.code_actions = code_actions
        self.code_blocks: list[CodeBlock] = []
        self.depth = 0

    def blocks(self, blocks: Sequence[mb.Block]) -> str:
        """Render a sequence of blocks."""
        return "\n".join(self.block(block) for block in blocks)

    def block(self, block: mb.Block) -> str:
        """Render one block."""
        if isinstance(block, (mb.Paragraph, mb.Heading)):
            tag = f"h{block.level}" if isinstance(block, mb.Heading) else "p"
            style = _P_STYLE if tag == "p" else ""
            return f"<{tag}{style}>{_inline(block.text, self.palette)}</{tag}>"
        if isinstance(block, mb.Quote):
            return (f'<table width="100%" cellspacing="0" cellpadding="0"'
                    f' style="margin-top:4px; margin-bottom:8px"><tr>'
                    f'<td width="3" bgcolor="{self.palette.quote_bar}"></td>'
                    f'<td style="padding-left:10px; color:{self.palette.quote_fg}">'
                    f"{self.blocks(block.children)}</td></tr></table>")
        if isinstance(block, mb.Rule):
            return "<hr>"
        render_block = {mb.Fence: self.fence, mb.ListBlock: self.list, mb.Table: self.table}
        return render_block[type(block)](block)

    def fence(self, block: mb.Fence) -> str:
        """Render a code block with its optional action header."""
        index = len(self.code_blocks)
        self.code_blocks.append(CodeBlock(index, block.language, block.code))
        pal = self.palette
        body = _highlight(block.code, block.language, pal.style)
        header, span = "", ""
        if self.code_actions:
            links = " &nbsp;·&nbsp; ".join(
                f'<a href="fimble:{verb}/{index}" style="color:{pal.action}; white-space:nowrap; '
                f'text-decoration:none">{name}</a>' for verb, name in _ACTIONS)
            cell = f'<td bgcolor="{pal.header_bg}" style="font-size:small; color:{pal.header_fg}"'
            header = (f"<tr>{cell}>{_escape(block.language or 'text')}</td>"
                      f'{cell} align="right">{links}</td></tr>')
            span = ' colspan="2"'
        return (f'<table width="100%" cellspacing="0" cellpadding="6" bgcolor="{pal.code_bg}"'
                f' style="margin-top:4px; margin-bottom:8px">{header}'
                f'<tr><td{span}><pre style="margin:0px; white-space:pre-wrap;'
                f' color:{pal.code_fg}">{body}</pre></td></tr></table>')

    def list(self, block: mb.ListBlock) -> str:
        """Render a bullet or numbered list, nested lists included."""
        tag = "ol" if block.ordered else "ul"
        kind = "decimal" if block.ordered else _BULLETS[self.depth % len(_BULLETS)]
        start = f' start="{block.start}"' if block.ordered and block.start != 1 else ""
        margin = 0 if self.depth else 8
        self.depth += 1
        items = []
        for item in block.items:
            first, rest = "", item
            if item and isinstance(item[0], mb.Paragraph):
                first, rest = _inline(item[0].text, self.palette), item[1:]
            if not first and not rest:
                first = "&nbsp;"
            items.append(f"<li>{first}{self.blocks(rest)}</li>")
        self.depth -= 1
        return (f'<{tag}{start} style="list-style-type:{kind}; margin-top:0px;'
                f' margin-bottom:{margin}px">{"".join(items)}</{tag}>')

    def table(self, block: mb.Table) -> str:
        """Render a GitHub table with its column alignments."""
        pal = self.palette

        def row(cells: tuple[str, ...], tag: str, extra: str) -> str:
            out = []
            for cell, align in zip(cells, block.aligns):
                attr = f' align="{align}"' if align else (' align="left"' if tag == "th" else "")
                out.append(f"<{tag}{attr}{extra}>{_inline(cell, pal)}</{tag}>")
            return f"<tr>{''.join(out)}</tr>"

        rows = [row(block.header, "th", f' bgcolor="{pal.th_bg}"')]
        rows.extend(row(cells, "td", "") for cells in block.rows)
        return (f'<table border="1" cellspacing="0" cellpadding="5" style="border-collapse:'
                f'collapse; border-color:{pal.border}; border-style:solid; margin-top:4px;'
                f' margin-bottom:8px">'
                f"{''.join(rows)}</table>")


def _plain_blocks(blocks: Sequence[mb.Block], separator: str) -> str:
    """Render blocks as plain text, joined by ``separator``."""
    parts = []
    for block in blocks:
        if isinstance(block, (mb.Paragraph, mb.Heading)):
            parts.append(_inline(block.text, None))
        elif isinstance(block, mb.Fence):
            parts.append(block.code)
        elif isinstance(block, mb.Quote):
            parts.append(_plain_blocks(block.children, "\n\n"))
        elif isinstance(block, mb.Table):
            rows = (block.header, *block.rows)
            parts.append("\n".join("\t".join(_inline(c, None) for c in r) for r in rows))
        elif isinstance(block, mb.ListBlock):
            lines = []
            for number, item in enumerate(block.items, block.start):
                marker = f"{number}. " if block.ordered else "• "
                text = _plain_blocks(item, "\n").split("\n")
                pad = " " * len(marker)
                lines.append(marker + text[0])
                lines.extend(pad + line if line else line for line in text[1:])
            parts.append("\n".join(lines))
    return separator.join(parts)
