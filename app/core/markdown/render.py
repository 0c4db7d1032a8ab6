"""Render chat answers (Markdown) to the HTML subset Qt's QTextBrowser shows.

Everything in an answer is untrusted model output: all text is HTML-escaped,
raw HTML shows as text, and only ``http``, ``https`` and ``mailto`` links
become anchors (``app.core.markdown.parser`` refuses the rest). The HTML keeps
to Qt's "Supported HTML Subset" (tables with ``bgcolor``/``cellpadding``,
``<pre>``, inline ``style`` with simple properties) so code blocks, tables,
quotes and lists look right in a QTextBrowser. Code blocks are highlighted
with Pygments; above each one, optional action links ``fimble:copy/N``,
``fimble:insert/N`` and ``fimble:open/N`` name the block by its index in
``RenderedMarkdown.code_blocks``. The rules below are markdown-it-py render
rules, one method per token type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from markdown_it.common.utils import unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from app.core.markdown.highlight import escape, highlight
from app.core.markdown.parser import OPTIONS, parse


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


class _Palette(NamedTuple):
    """Colours for one UI theme, and the Pygments style for its code blocks."""

    style: str
    code_bg: str
    code_fg: str
    header_bg: str
    header_fg: str
    action: str
    inline_bg: str
    link: str
    border: str
    th_bg: str
    quote_fg: str
    quote_bar: str


_LIGHT = _Palette(
    "default", "#f6f8fa", "#1f2328", "#e4e8ec", "#57606a", "#0969da",
    "#eaeef2", "#0969da", "#c8d0d8", "#eef1f4", "#57606a", "#c8d0d8",
)  # fmt: skip
_DARK = _Palette(
    "monokai", "#272822", "#f8f8f2", "#3e3d32", "#b0b0a6", "#66d9ef",
    "#3a3d41", "#58a6ff", "#5a5f66", "#2d3035", "#a8adb3", "#5a5f66",
)  # fmt: skip
_ACTIONS = (("copy", "Copy"), ("insert", "Insert at cursor"), ("open", "Open in new tab"))
_BULLETS = ("disc", "circle", "square")
_P_STYLE = ' style="margin-top:0px; margin-bottom:8px"'
_BOX_STYLE = ' style="margin-top:4px; margin-bottom:8px"'
# Tokens that end a block; the next block starts on a new line of HTML.
_BLOCK_ENDS = frozenset(
    {"heading_close", "blockquote_close", "bullet_list_close", "ordered_list_close", "table_close", "fence", "hr"}
)
_ALIGNS = {"text-align:left": "left", "text-align:center": "center", "text-align:right": "right"}


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
    page = _Page(_DARK if dark else _LIGHT, code_actions)
    env: EnvType = {}
    tokens = parse(markdown, env)
    env["page"] = page
    html = _RENDERER.render(tokens, OPTIONS, env)
    return RenderedMarkdown(html, tuple(page.code_blocks))


@dataclass
class _Page:
    """What one render needs across rules: colours, options and its code blocks so far."""

    palette: _Palette
    code_actions: bool
    code_blocks: list[CodeBlock] = field(default_factory=list)
    list_depth: int = 0


def _page(env: EnvType) -> _Page:
    page: _Page = env["page"]
    return page


def _anchor(href: object, env: EnvType) -> str:
    """Open a link to a URL the parser has accepted."""
    return f'<a href="{escape(str(href or ""))}" style="color:{_page(env).palette.link}">'


def _first_in_item(tokens: Sequence[Token], open_index: int) -> bool:
    """Say whether the paragraph opened at ``open_index`` starts a list item.

    That paragraph is shown inline in its ``<li>``; later ones get ``<p>``.
    """
    return open_index > 0 and tokens[open_index - 1].type == "list_item_open"


def _gap(tokens: Sequence[Token], idx: int) -> str:
    """Return the line break between a block starting at ``idx`` and the one before it."""
    if idx == 0:
        return ""
    before = tokens[idx - 1]
    if before.type == "paragraph_close":
        return "" if _first_in_item(tokens, idx - 3) else "\n"
    return "\n" if before.type in _BLOCK_ENDS else ""


class QtRenderer(RendererHTML):
    """markdown-it render rules that write Qt's rich-text subset.

    The rules keep no state of their own; each render's state is the
    ``_Page`` in its ``env["page"]``.
    """

    # ---- text ---------------------------------------------------------------------------

    def text(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return escape(tokens[idx].content)

    def softbreak(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "<br>"

    hardbreak = softbreak

    def code_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        background = _page(env).palette.inline_bg
        return f'<code style="background-color:{background}">{escape(tokens[idx].content)}</code>'

    def html_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return escape(tokens[idx].content)  # not parsed (see parser); never passed through

    html_block = html_inline

    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return _anchor(tokens[idx].attrGet("href"), env)

    def link_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</a>"

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """An image becomes a link to it, labelled with its description; nothing is loaded."""
        token = tokens[idx]
        return f"{_anchor(token.attrGet('src'), env)}{self.renderInline(token.children or [], options, env)}</a>"

    # ---- blocks -------------------------------------------------------------------------

    def paragraph_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "" if _first_in_item(tokens, idx) else f"{_gap(tokens, idx)}<p{_P_STYLE}>"

    def paragraph_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "" if _first_in_item(tokens, idx - 2) else "</p>"

    def heading_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f"{_gap(tokens, idx)}<{tokens[idx].tag}>"

    def heading_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f"</{tokens[idx].tag}>"

    def hr(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return f"{_gap(tokens, idx)}<hr>"

    def blockquote_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        pal = _page(env).palette
        return (
            f'{_gap(tokens, idx)}<table width="100%" cellspacing="0" cellpadding="0"{_BOX_STYLE}><tr>'
            f'<td width="3" bgcolor="{pal.quote_bar}"></td>'
            f'<td style="padding-left:10px; color:{pal.quote_fg}">'
        )

    def blockquote_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</td></tr></table>"

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        """A code block with its optional header: language and action links."""
        token, page = tokens[idx], _page(env)
        info = unescapeAll(token.info).strip()
        language = info.split()[0] if info else ""
        code = token.content[:-1] if token.content.endswith("\n") else token.content
        index = len(page.code_blocks)
        page.code_blocks.append(CodeBlock(index, language, code))
        pal = page.palette
        header, span = "", ""
        if page.code_actions:
            links = " &nbsp;·&nbsp; ".join(
                f'<a href="fimble:{verb}/{index}" style="color:{pal.action}; white-space:nowrap; '
                f'text-decoration:none">{name}</a>'
                for verb, name in _ACTIONS
            )
            cell = f'<td bgcolor="{pal.header_bg}" style="font-size:small; color:{pal.header_fg}"'
            header = f'<tr>{cell}>{escape(language or "text")}</td>{cell} align="right">{links}</td></tr>'
            span = ' colspan="2"'
        return (
            f'{_gap(tokens, idx)}<table width="100%" cellspacing="0" cellpadding="6" bgcolor="{pal.code_bg}"'
            f"{_BOX_STYLE}>{header}"
            f'<tr><td{span}><pre style="margin:0px; white-space:pre-wrap;'
            f' color:{pal.code_fg}">{highlight(code, language, pal.style)}</pre></td></tr></table>'
        )

    # ---- lists --------------------------------------------------------------------------

    def bullet_list_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        page = _page(env)
        return self._list_open(tokens, idx, "ul", _BULLETS[page.list_depth % len(_BULLETS)], page)

    def ordered_list_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return self._list_open(tokens, idx, "ol", "decimal", _page(env))

    def _list_open(self, tokens: Sequence[Token], idx: int, tag: str, kind: str, page: _Page) -> str:
        start = tokens[idx].attrGet("start")
        start_attr = f' start="{start}"' if tag == "ol" and start not in (None, 1) else ""
        margin = 0 if page.list_depth else 8
        page.list_depth += 1
        return (
            f'{_gap(tokens, idx)}<{tag}{start_attr} style="list-style-type:{kind}; margin-top:0px;'
            f' margin-bottom:{margin}px">'
        )

    def bullet_list_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        _page(env).list_depth -= 1
        return f"</{tokens[idx].tag}>"

    ordered_list_close = bullet_list_close

    def list_item_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "<li>"

    def list_item_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "&nbsp;</li>" if tokens[idx - 1].type == "list_item_open" else "</li>"

    # ---- tables -------------------------------------------------------------------------

    def table_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        border = _page(env).palette.border
        return (
            f'{_gap(tokens, idx)}<table border="1" cellspacing="0" cellpadding="5" style="border-collapse:'
            f'collapse; border-color:{border}; border-style:solid; margin-top:4px; margin-bottom:8px">'
        )

    def table_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</table>"

    def _nothing(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return ""

    thead_open = thead_close = tbody_open = tbody_close = _nothing

    def tr_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "<tr>"

    def tr_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</tr>"

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        align = _ALIGNS.get(str(tokens[idx].attrGet("style")), "left")
        return f'<th align="{align}" bgcolor="{_page(env).palette.th_bg}">'

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        align = _ALIGNS.get(str(tokens[idx].attrGet("style")))
        return f'<td align="{align}">' if align else "<td>"

    def th_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</th>"

    def td_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        return "</td>"


_RENDERER = QtRenderer()
