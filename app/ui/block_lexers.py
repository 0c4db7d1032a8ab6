"""Block-by-block lexing with Pygments: the lexer adapters the highlighter drives.

Qt highlights a document one block (line) at a time and keeps one integer
state per block. ``_StackLexer`` runs a ``RegexLexer``'s rule table from a
given stack and hands back the end stack, so that the next block starts where
this one ended; block comments that Pygments matches with one multi-line regex
are carried across lines with a marker on the stack. ``_LineLexer`` lexes each
block on its own, for lexers whose state cannot be carried.

Importing Pygments' lexers takes tens of milliseconds, so this module is only
imported when a document in a real language is highlighted first; plain text
never needs it (see ``highlighter.lexer_for``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass

from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.c_cpp import CFamilyLexer
from pygments.token import Comment, Error, Keyword, Name, Whitespace, _TokenType
from pygments.util import ClassNotFound

from app.core.editor.languages import Language

log = logging.getLogger(__name__)

Lexeme = tuple[int, _TokenType, str]  # (position, token type, text), as Pygments yields them

_BLOCK_COMMENTS = (("/*", "*/"), ("<!--", "-->"))
_MAX_EMPTY_MATCHES = 100
_C_TYPE_NAMES = (
    ("stdlibhighlighting", "stdlib_types"),
    ("c99highlighting", "c99_types"),
    ("c11highlighting", "c11_atomic_types"),
    ("platformhighlighting", "linux_types"),
)


@dataclass(frozen=True)
class _OpenComment:
    """Stack marker: inside a block comment opened on an earlier line."""

    closer: str
    token: _TokenType


class _StackLexer:
    """Runs a ``RegexLexer``'s rule table from a given stack and returns the end stack."""

    def __init__(self, lexer: RegexLexer) -> None:
        self.lexer = lexer
        self.tokendefs = lexer._tokens
        self._comment_rules: dict[str, tuple[str, _OpenComment] | None] = {}
        self._retype = _c_family_retyper(lexer)

    def _block_comment(self, state: str) -> tuple[str, _OpenComment] | None:
        """The block comment a state lexes with one regex, found by probing its rules."""
        if state in self._comment_rules:
            return self._comment_rules[state]
        found = None
        for opener, closer in _BLOCK_COMMENTS:
            probe = f"{opener} x\n{closer}"
            for rexmatch, action, _new_state in self.tokendefs[state]:
                match = rexmatch(probe, 0)
                if match:
                    if match.end() == len(probe) and type(action) is _TokenType and action in Comment:
                        found = (opener, _OpenComment(closer, action))
                    break
            if found:
                break
        self._comment_rules[state] = found
        return found

    def _opens_comment(self, text: str, pos: int, state: str) -> _OpenComment | None:
        """The marker to push when a block comment starts at ``pos`` and runs past the line."""
        comment = self._block_comment(state)
        if comment is None or not text.startswith(comment[0], pos):
            return None
        marker = comment[1]
        return None if text.find(marker.closer, pos + len(comment[0])) >= 0 else marker

    def lex(self, text: str, state: Hashable | None) -> tuple[list[Lexeme], Hashable]:
        """Lex ``text`` from stack ``state`` (``None``: root); return tokens and end stack."""
        tokendefs = self.tokendefs
        lexer = self.lexer
        stack: list = list(state) if isinstance(state, tuple) and state else ["root"]
        tokens: list[Lexeme] = []
        pos, end, empty = 0, len(text), 0
        while pos < end:
            top = stack[-1]
            if type(top) is _OpenComment:  # inside a comment opened on an earlier line
                close = text.find(top.closer, pos)
                stop = end if close < 0 else close + len(top.closer)
                tokens.append((pos, top.token, text[pos:stop]))
                pos = stop
                if close >= 0:
                    stack.pop()
                continue
            marker = self._opens_comment(text, pos, top)
            if marker is not None:
                tokens.append((pos, marker.token, text[pos:]))
                stack.append(marker)
                break
            if empty > _MAX_EMPTY_MATCHES:  # a rule loop that makes no progress
                tokens.append((pos, Error, text[pos]))
                pos, empty = pos + 1, 0
                continue
            for rexmatch, action, new_state in tokendefs[top]:
                match = rexmatch(text, pos)
                if match is None:
                    continue
                if action is not None:
                    if type(action) is _TokenType:
                        tokens.append((pos, action, match.group()))
                    else:
                        tokens.extend(action(lexer, match))
                empty = empty + 1 if match.end() == pos else 0
                pos = match.end()
                if new_state is not None:
                    _apply_transition(stack, new_state)
                break
            else:
                if text[pos] == "\n":  # Pygments resets to root at an unmatched newline
                    stack = ["root"]
                    tokens.append((pos, Whitespace, "\n"))
                else:
                    tokens.append((pos, Error, text[pos]))
                pos += 1
                empty = 0
        if self._retype is not None:
            tokens = [(i, self._retype(t, v), v) for i, t, v in tokens]
        return tokens, tuple(stack)


def _apply_transition(stack: list, new_state) -> None:
    """Apply a processed Pygments state transition to ``stack`` in place."""
    if isinstance(new_state, tuple):
        for state in new_state:
            if state == "#pop":
                if len(stack) > 1:
                    stack.pop()
            elif state == "#push":
                stack.append(stack[-1])
            else:
                stack.append(state)
    elif isinstance(new_state, int):  # '#pop:n' is stored as -n
        if abs(new_state) >= len(stack):
            del stack[1:]
        else:
            del stack[new_state:]
    elif new_state == "#push":
        stack.append(stack[-1])


def _c_family_retyper(lexer: Lexer):
    """C/C++ lexers turn standard type names into types after lexing; mirror that."""
    if not isinstance(lexer, CFamilyLexer):
        return None
    names: set[str] = set()
    for option, attribute in _C_TYPE_NAMES:
        if getattr(lexer, option, False):
            names.update(getattr(lexer, attribute, ()))

    def retype(token: _TokenType, value: str) -> _TokenType:
        """Return ``Keyword.Type`` for a known type name, else ``token``."""
        return Keyword.Type if token is Name and value in names else token

    return retype


class _LineLexer:
    """Lexes every block on its own, for lexers whose state we cannot carry."""

    def __init__(self, lexer: Lexer) -> None:
        self.lexer = lexer

    def lex(self, text: str, state: Hashable | None) -> tuple[list[Lexeme], Hashable]:
        """Lex ``text`` alone; the end state is always the same."""
        return list(self.lexer.get_tokens_unprocessed(text)), None


def block_lexer_for(language: Language) -> _StackLexer | _LineLexer:
    """Pick the way to lex a language block by block.

    Args:
        language: The language; its ``lexer`` alias names the Pygments lexer
            (an unknown alias falls back to plain text).

    Returns:
        An object whose ``lex(text, state)`` returns ``(tokens, end_state)``.
    """
    try:
        lexer = get_lexer_by_name(language.lexer, stripnl=False, ensurenl=False)
    except ClassNotFound:
        log.warning("no Pygments lexer %r; highlighting %s as plain text", language.lexer, language.id)
        lexer = get_lexer_by_name("text", stripnl=False, ensurenl=False)
    method = type(lexer).get_tokens_unprocessed
    if method is RegexLexer.get_tokens_unprocessed or isinstance(lexer, CFamilyLexer):
        return _StackLexer(lexer)
    return _LineLexer(lexer)


BlockLexer = _StackLexer | _LineLexer
