"""Code-block highlighting for chat answers: Pygments, as inline-styled HTML."""

from __future__ import annotations

import re
from functools import lru_cache

from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.util import ClassNotFound

_TEXT_RUN = re.compile(r"(^|>)([^<]+)")
_QUOTES = str.maketrans({'"': "&quot;", "'": "&#39;"})


def escape(text: str) -> str:
    """Escape text for HTML content and quoted attributes."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


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
def highlight(code: str, language: str, style: str) -> str:
    """Return a code block's body as HTML: highlighted when a lexer fits, else escaped.

    Cached: finished blocks repeat unchanged across a streaming answer's re-renders.

    Args:
        code: The block's text; tabs are shown as 4 columns.
        language: The fence's language word, or ``""`` to guess for blocks of
            four lines or more.
        style: A Pygments style name.
    """
    shown = code.expandtabs(4)
    lexer = _lexer(language, code)
    if lexer is None:
        return escape(shown)
    html: str = pygments_highlight(shown, lexer, _formatter(style))
    if html.endswith("\n") and not shown.endswith("\n"):
        html = html[:-1]
    # Pygments leaves quotes unescaped in text; escape them outside its tags.
    return _TEXT_RUN.sub(lambda match: match[1] + match[2].translate(_QUOTES), html)


def warm_up() -> None:
    """Pay Pygments' one-off start-up costs before the first answer arrives.

    Optional. The first ``guess_lexer`` call imports every lexer (about
    0.1-0.2 s) and each language's first block imports its lexer module; call
    this once from a worker thread at start-up to keep that off the first
    streamed answer's render.
    """
    for language in ("", "python", "js", "bash"):
        _lexer(language, "x = 1\n" * 4)
