"""Incremental Pygments syntax highlighting for a ``QTextDocument``.

Qt highlights block (line) by block and keeps one integer state per block;
when a block's state changes Qt goes on to the next block, and stops when a
block ends in the same state as before. Each block is lexed from the lexer
stack the previous block ended in; distinct end stacks are interned and their
index is the block state. So a keystroke re-highlights one block, and opening
a triple-quoted string re-highlights the lines after it until states agree.

``RegexLexer.get_tokens_unprocessed`` accepts a start stack but copies it, so
the end stack cannot be read back: ``_StackLexer`` runs the lexer's ``_tokens``
rule table itself. Block comments that Pygments matches with one multi-line
regex (``/* */`` in C, Java, Go, CSS, JavaScript; ``<!-- -->`` in HTML) are
carried across lines with a marker on the stack. Other lexers (YAML's
``ExtendedRegexLexer``, JSON, ...) lex each block on its own.

A long text put in at once (``sliced_load``) is not highlighted in one go:
Qt's own pass over the new text is switched off for the insertion, and the
blocks are then lexed in order, a batch per event-loop turn sized to take
about ``SLICE_MS``. Everything from ``_tail`` (a cursor that edits move
along) on is not highlighted yet; Qt's passes for edits stop there, since a
skipped block keeps its state, and the next slice carries on from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate

from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.lexers.c_cpp import CFamilyLexer
from pygments.token import Comment, Error, Keyword, Name, Whitespace, _TokenType
from pygments.util import ClassNotFound
from PySide6.QtCore import SIGNAL, SLOT, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextDocument

from app.core.editor.languages import Language
from app.ui.theme import Theme, format_for

log = logging.getLogger(__name__)

Lexeme = tuple[int, _TokenType, str]  # (position, token type, text), as Pygments yields them

MAX_BLOCK_LENGTH = 20_000
"""Longer lines (minified files) are left plain to keep typing responsive."""
SLICE_MIN_LINES = 1_000
"""A text put in at once with at least this many lines is highlighted in slices."""
SLICE_MS = 10.0
"""About how long one slice of a sliced highlight may take."""
_FIRST_BATCH = 50  # blocks in the first slice, before the speed is known
_MAX_BATCH = 5_000
# Qt's connection that re-highlights after every change; cut for a sliced load.
_CHANGED = SIGNAL("contentsChange(int,int,int)")
_REFORMAT = SLOT("_q_reformatBlocks(int,int,int)")

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


class PygmentsHighlighter(QSyntaxHighlighter):
    """Highlights a document with Pygments, re-lexing only the blocks that need it.

    Attributes:
        highlight_count: How many times ``highlightBlock`` has run; handy for
            checking how much work an edit caused.
        slice_count: How many slices the last sliced highlight took.
    """

    highlighted = Signal()  # a sliced highlight reached the end of the document

    def __init__(self, document: QTextDocument, language: Language, theme: Theme) -> None:
        """Attach to ``document``; Qt highlights it on the next event-loop turn.

        Args:
            document: The document to highlight; becomes the parent.
            language: The document's language.
            theme: The colours to use.
        """
        super().__init__(document)
        self.highlight_count = 0
        self._language = language
        self._theme = theme
        self._lexer = block_lexer_for(language)
        self._state_ids: dict[Hashable, int] = {}
        self._states: list[Hashable] = []
        self.slice_count = 0
        self._tail: QTextCursor | None = None  # where the part not highlighted yet starts
        self._batch = _FIRST_BATCH
        self._slicer = QTimer(self)
        self._slicer.setSingleShot(True)
        self._slicer.setInterval(0)
        self._slicer.timeout.connect(self._next_slice)

    @property
    def language(self) -> Language:
        """The language being highlighted."""
        return self._language

    @property
    def theme(self) -> Theme:
        """The theme in use."""
        return self._theme

    @property
    def complete(self) -> bool:
        """False while a sliced highlight has blocks left to do."""
        return self._tail is None

    @contextmanager
    def sliced_load(self, line_count: int) -> Iterator[None]:
        """Wrap the replacement of the whole text: a long one is highlighted in slices.

        The first slice runs on leaving the block, so the top of the text is
        coloured before it is painted; the rest follows from a zero timer,
        a slice per event-loop turn, and ``highlighted`` fires at the end.

        Args:
            line_count: How many lines the new text has.
        """
        self._stop_slices()
        document = self.document()
        if (
            line_count < SLICE_MIN_LINES
            or document is None
            or not QObject.disconnect(document, _CHANGED, self, _REFORMAT)
        ):
            yield
            return
        try:
            yield
        finally:
            QObject.connect(document, _CHANGED, self, _REFORMAT)
            self._tail = QTextCursor(document)
            self._batch, self.slice_count = _FIRST_BATCH, 0
            self._next_slice()

    def _stop_slices(self) -> None:
        self._slicer.stop()
        self._tail = None

    @Slot()
    def _next_slice(self) -> None:
        """Lex the next batch of blocks from the tail on, and size the next batch."""
        document, tail = self.document(), self._tail
        if tail is None or document is None:
            self._tail = None
            return
        block = document.findBlock(tail.position())
        stop = document.findBlockByNumber(block.blockNumber() + self._batch)
        if stop.isValid():
            tail.setPosition(stop.position())
        else:
            self._tail = None  # this slice goes to the end
        started = time.perf_counter()
        if block.isValid():
            self.rehighlightBlock(block)  # Qt's pass goes on while states change, up to the tail
        spent_ms = (time.perf_counter() - started) * 1000
        self.slice_count += 1
        if self._tail is None:
            self.highlighted.emit()
            return
        fitting = self._batch * SLICE_MS / max(spent_ms, 0.1)
        self._batch = max(1, min(_MAX_BATCH, int(fitting), 2 * self._batch))
        self._slicer.start()

    def set_language(self, language: Language) -> None:
        """Switch to another language and re-highlight the whole document.

        Args:
            language: The new language.
        """
        self._language = language
        self._lexer = block_lexer_for(language)
        self._state_ids.clear()
        self._states.clear()
        self.rehighlight()

    def set_theme(self, theme: Theme) -> None:
        """Switch colours and re-highlight the whole document.

        Args:
            theme: The new theme.
        """
        self._theme = theme
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt override
        """Qt callback: lex one block from the previous block's end state."""
        self.highlight_count += 1
        if self._tail is not None and self.currentBlock().position() >= self._tail.position():
            return  # not reached by the slices yet: the state stays, so Qt's pass stops here
        previous = self.previousBlockState()
        start = self._states[previous] if 0 <= previous < len(self._states) else None
        if len(text) > MAX_BLOCK_LENGTH:
            self.setCurrentBlockState(self._intern(start))
            return
        try:
            tokens, end = self._lexer.lex(text + "\n", start)
        except Exception:  # a lexer bug must never break editing
            log.exception("highlighting failed for a %s block", self._language.id)
            tokens, end = [], start
        self._apply(text, tokens)
        self.setCurrentBlockState(self._intern(end))

    def _intern(self, state: Hashable) -> int:
        """Return the block-state integer standing for a lexer state."""
        index = self._state_ids.get(state)
        if index is None:
            index = self._state_ids[state] = len(self._states)
            self._states.append(state)
        return index

    def _apply(self, text: str, tokens: Iterable[Lexeme]) -> None:
        """Set formats for the tokens, merging neighbours that share a format."""
        length, theme = len(text), self._theme
        offsets = _utf16_offsets(text)
        run_start = run_end = 0
        run_format: QTextCharFormat | None = None
        for pos, token_type, value in tokens:
            if pos >= length:
                break
            if not value or value.isspace():
                continue
            fmt = format_for(theme, token_type)
            stop = min(pos + len(value), length)
            if fmt is run_format:
                run_end = stop
                continue
            if run_format is not None:
                self._set_format(run_start, run_end, run_format, offsets)
            run_start, run_end, run_format = pos, stop, fmt
        if run_format is not None:
            self._set_format(run_start, run_end, run_format, offsets)

    def _set_format(self, start: int, stop: int, fmt: QTextCharFormat, offsets: list[int] | None) -> None:
        """Format code points ``start:stop``, converting to UTF-16 positions if needed."""
        if offsets is not None:
            start, stop = offsets[start], offsets[stop]
        self.setFormat(start, stop - start, fmt)


def _utf16_offsets(text: str) -> list[int] | None:
    """UTF-16 position of each code point (Qt counts UTF-16 units), or None if equal."""
    if text.isascii() or max(text) <= "\uffff":
        return None
    return list(accumulate((2 if char > "\uffff" else 1 for char in text), initial=0))
