"""Incremental Pygments syntax highlighting for a ``QTextDocument``.

Qt highlights block (line) by block and keeps one integer state per block;
when a block's state changes Qt goes on to the next block, and stops when a
block ends in the same state as before. Each block is lexed from the lexer
stack the previous block ended in; distinct end stacks are interned and their
index is the block state. So a keystroke re-highlights one block, and opening
a triple-quoted string re-highlights the lines after it until states agree.

The lexers that keep a stack across blocks are in ``block_lexers``, imported
the first time a document in a real language is highlighted: an untitled or
plain-text document uses ``_PlainLexer`` and loads none of Pygments' lexers.

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
from itertools import accumulate
from typing import TYPE_CHECKING

from pygments.token import Text
from PySide6.QtCore import SIGNAL, SLOT, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextDocument

from app.core.editor.languages import PLAINTEXT, Language
from app.ui.theme import Theme, format_for

if TYPE_CHECKING:
    from app.ui.block_lexers import BlockLexer, Lexeme

log = logging.getLogger(__name__)

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


class _PlainLexer:
    """Plain text: each block is one run of ``Text``; no Pygments lexer is loaded for it."""

    def lex(self, text: str, state: Hashable | None) -> tuple[list[Lexeme], Hashable]:
        """Return ``text`` as one token; the end state is always the same."""
        return [(0, Text, text)], None


def lexer_for(language: Language) -> _PlainLexer | BlockLexer:
    """The block lexer for ``language``; Pygments' lexers are imported only for a real language."""
    if language.lexer == PLAINTEXT.lexer:
        return _PlainLexer()
    from app.ui.block_lexers import block_lexer_for

    return block_lexer_for(language)


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
        self._lexer = lexer_for(language)
        self._state_ids: dict[Hashable, int] = {}
        self._states: list[Hashable] = []
        self.slice_count = 0
        self._tail: QTextCursor | None = None  # where the part not highlighted yet starts
        self._auto_off = False  # Qt's pass after each change is cut
        self._loading = False  # between begin_load and end_load
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
        """False while a text is going in or a sliced highlight has blocks left to do."""
        return self._tail is None and not self._loading

    @contextmanager
    def sliced_load(self, line_count: int, first_batch: int = _FIRST_BATCH) -> Iterator[None]:
        """Wrap the replacement of the whole text: a long one is highlighted in slices.

        The first slice runs on leaving the block, so the top of the text is
        coloured before it is painted; the rest follows from a zero timer,
        a slice per event-loop turn, and ``highlighted`` fires at the end.

        Args:
            line_count: How many lines the new text has.
            first_batch: How many blocks the first slice lexes (the lines in view).
        """
        if line_count < SLICE_MIN_LINES or self.document() is None:
            self._stop_slices()
            self._loading = False
            self._auto_pass(True)
            yield
            return
        self.begin_load()
        try:
            yield
        finally:
            self.end_load(first_batch)

    def begin_load(self) -> None:
        """A long text is going in, maybe over several turns: highlight nothing until ``end_load``."""
        self._stop_slices()
        self._auto_pass(False)
        self._loading = True

    def highlight_top(self, first_batch: int) -> None:
        """While a text goes in over several turns: colour its first ``first_batch`` blocks now."""
        document = self.document()
        if document is not None:
            self._start_slices(document, first_batch)

    def end_load(self, first_batch: int = _FIRST_BATCH) -> None:
        """The text is in: highlight it from the top in slices, the first one now.

        The top that ``highlight_top`` coloured is lexed again: an edit made
        meanwhile was not highlighted.

        Args:
            first_batch: How many blocks the first slice lexes (the lines in view).
        """
        self._loading = False
        self._auto_pass(True)
        document = self.document()
        if document is not None:
            self._start_slices(document, first_batch)

    def _auto_pass(self, on: bool) -> None:
        """Connect or cut Qt's own re-highlighting after each change of the text."""
        document = self.document()
        if document is None or on != self._auto_off:
            return
        if on:
            QObject.connect(document, _CHANGED, self, _REFORMAT)
            self._auto_off = False
        else:
            self._auto_off = QObject.disconnect(document, _CHANGED, self, _REFORMAT)

    def _start_slices(self, document: QTextDocument, first_batch: int) -> None:
        """Highlight ``document`` from the top in slices; the first one runs now."""
        self._tail = QTextCursor(document)
        self._batch, self.slice_count = max(1, first_batch), 0
        self._next_slice()

    def _stop_slices(self) -> None:
        self._slicer.stop()
        self._tail = None

    def _rehighlight_all(self, first_batch: int) -> None:
        """Highlight every block again: at once in a short document, in slices from the top in a long one.

        Blocks not reached yet keep their old colours until their slice comes.
        """
        self._stop_slices()
        document = self.document()
        if document is None or document.blockCount() < SLICE_MIN_LINES:
            self.rehighlight()
            return
        self._start_slices(document, first_batch)

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
        # Mark the batch's blocks as never lexed, so Qt's pass below goes through all of them even
        # where the end states would come out as before (a new theme, or a new language's state ids).
        forget = block
        while forget.isValid() and forget != stop:
            forget.setUserState(-1)
            forget = forget.next()
        if block.isValid():
            self.rehighlightBlock(block)  # Qt's pass goes on while states change, up to the tail
        spent_ms = (time.perf_counter() - started) * 1000
        self.slice_count += 1
        if self._loading:
            return  # the rest waits for the text (end_load)
        if self._tail is None:
            self.highlighted.emit()
            return
        fitting = self._batch * SLICE_MS / max(spent_ms, 0.1)
        self._batch = max(1, min(_MAX_BATCH, int(fitting), 2 * self._batch))
        self._slicer.start()

    def set_language(self, language: Language, first_batch: int = _FIRST_BATCH) -> None:
        """Switch to another language and re-highlight the whole document (a long one in slices).

        Args:
            language: The new language.
            first_batch: How many blocks the first slice lexes.
        """
        self._language = language
        self._lexer = lexer_for(language)
        self._state_ids.clear()
        self._states.clear()
        if not self._loading:  # else end_load lexes it all: a highlight now, with undo off, would mark it modified
            self._rehighlight_all(first_batch)

    def set_theme(self, theme: Theme, in_view: range = range(0)) -> None:
        """Switch colours and re-highlight the whole document (a long one in slices).

        Args:
            theme: The new theme.
            in_view: Block numbers on screen: recoloured first, at once. The
                lexer states stay valid, so each is lexed on its own.
        """
        self._theme = theme
        if self._loading:
            return  # end_load colours it all (a highlight now, with undo off, would mark it modified)
        self._stop_slices()  # blocks a running recolour has not reached would lose their colours
        document = self.document()
        if document is not None and document.blockCount() >= SLICE_MIN_LINES:
            for number in in_view:
                block = document.findBlockByNumber(number)
                if block.isValid():
                    self.rehighlightBlock(block)
        self._rehighlight_all(_FIRST_BATCH)

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
