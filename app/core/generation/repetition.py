"""Notice an answer that loops on the same text, so generation can stop early.

A small model sometimes falls into a loop and writes the same line, or the
same few lines, until it runs out of tokens. ``RepetitionGuard`` watches the
stream and trips when the end of it is one sequence repeated several times.

Detection is incremental. For each candidate period ``p`` the guard keeps how
many of the latest tokens equal the token ``p`` positions before them; the
last ``repeats * p`` tokens are ``p`` tokens repeated exactly when that run
reaches ``(repeats - 1) * p``. A new token updates each run in O(1), so a
token costs O(max_period) whatever the window.

A loop with a period shorter than ``min_period`` (say, one token written
over and over) repeats every multiple of its period too, so it trips as well.
Short legitimate repetition in code, such as closing braces or indentation,
does not last for ``repeats`` whole periods of at least ``min_period`` tokens,
nor for ``min_span`` tokens.

Token periods stop at ``max_period`` (64), and one line of prose or SQL often
takes more tokens than that, so a loop of whole lines is caught on the text:
give ``feed`` each token's text too (or call ``feed_text`` alone when there
are no ids). Fed 850 real source files through Gemma 3's tokenizer, the
defaults tripped on six, all of them runs of identical rows (``NULL,`` x15,
zero matrices, data tables); a check costs about 3 µs a token.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

REASON = "the answer was repeating itself"
# Text mode: consecutive blank lines that count as a loop of their own.
BLANK_LINE_LIMIT = 32
# Token mode: the fewest tokens a loop covers, whatever its period.
MIN_SPAN_TOKENS = 64
# Text mode: the fewest visible characters in the repeated lines, so that a
# few equal short lines (``}``, ``NULL,``, ``None,``) never trip it.
MIN_LOOP_CHARS = 256


class _PeriodRuns:
    """Runs of items equal to the item ``p`` before, for every period ``p``."""

    def __init__(self, min_period: int, max_period: int, repeats: int) -> None:
        self.min_period = min_period
        self.max_period = max_period
        self.repeats = repeats
        self.recent: deque[object] = deque(maxlen=max_period)
        self.runs = [0] * (max_period + 1)

    def push(self, item: object, accept: Callable[[int, int], bool]) -> bool:
        """Add an item; return whether some period repeats and ``accept(period, length)``.

        ``length`` is how many of the latest items repeat with that period.
        """
        looping = False
        recent, runs = self.recent, self.runs
        size = len(recent)
        for period in range(1, self.max_period + 1):
            if period <= size and recent[size - period] == item:
                runs[period] += 1
                if not looping and period >= self.min_period and runs[period] >= (self.repeats - 1) * period:
                    looping = accept(period, runs[period] + period)
            else:
                runs[period] = 0
        recent.append(item)
        return looping


class RepetitionGuard:
    """Trips when the latest tokens, or lines, are one block repeated.

    Use one guard per answer: ``feed`` for token ids, or ``feed_text`` for
    engines that only give text. Once tripped it stays tripped until
    ``reset``.

    Args:
        window_tokens: The longest stretch of tokens examined; periods whose
            ``repeats`` copies would not fit in it are not checked.
        min_period: The shortest token period checked.
        max_period: The longest token period checked.
        repeats: How many copies of a period, in a row, make a loop.
        min_span: The fewest tokens a loop must cover. Code repeats short
            patterns legitimately (``NULL,`` lines, ``0, 0, 0``), so a short
            period needs more than ``repeats`` copies; 0 turns this off.
        max_block_lines: Text mode: the most lines in a repeated block.

    Raises:
        ValueError: A setting is out of range.
    """

    def __init__(
        self,
        window_tokens: int = 256,
        min_period: int = 4,
        max_period: int = 64,
        repeats: int = 4,
        *,
        min_span: int = MIN_SPAN_TOKENS,
        max_block_lines: int = 8,
    ) -> None:
        if min_period < 1 or max_period < min_period:
            raise ValueError("periods must satisfy 1 <= min_period <= max_period")
        if repeats < 2:
            raise ValueError("repeats must be at least 2")
        if window_tokens < repeats * min_period or not 0 <= min_span <= window_tokens:
            raise ValueError("window_tokens must hold repeats * min_period and min_span tokens")
        if max_block_lines < 1:
            raise ValueError("max_block_lines must be at least 1")
        self.window_tokens = window_tokens
        self.min_period = min_period
        self.max_period = min(max_period, window_tokens // repeats)
        self.repeats = repeats
        self.min_span = min_span
        self.max_block_lines = max_block_lines
        self.reset()

    def reset(self) -> None:
        """Forget everything seen; ready for a new answer."""
        self._tokens = _PeriodRuns(self.min_period, self.max_period, self.repeats)
        self._lines = _PeriodRuns(1, self.max_block_lines, self.repeats)
        self._line_chars: deque[int] = deque(maxlen=self.max_block_lines)
        self._partial: list[str] = []
        self._blank_run = 0
        self._tripped = False

    @property
    def tripped(self) -> bool:
        """Whether a loop was seen."""
        return self._tripped

    @property
    def reason(self) -> str | None:
        """Why generation should stop, or None while not tripped."""
        return REASON if self._tripped else None

    def feed(self, token_id: int, piece: str | None = None) -> bool:
        """Take the next generated token.

        Args:
            token_id: The token's id.
            piece: The token's text, when known; it is also given to
                ``feed_text``, which catches loops of whole lines too long
                for ``max_period``.

        Returns:
            True when the answer is looping (and from then on).
        """
        if not self._tripped:
            self._tripped = self._tokens.push(token_id, self._long_enough)
        if piece is not None:
            return self.feed_text(piece)
        return self._tripped

    def feed_text(self, piece: str) -> bool:
        """Take the next piece of generated text.

        Complete lines are compared, trailing spaces ignored. The guard trips
        when the last ``repeats`` (or more) blocks of 1 to ``max_block_lines``
        lines are the same block and hold ``MIN_LOOP_CHARS`` visible
        characters together, or when ``BLANK_LINE_LIMIT`` blank lines come in
        a row. Repetition inside one line is left to ``feed``.

        Args:
            piece: Text as it streams, of any length.

        Returns:
            True when the answer is looping (and from then on).
        """
        if self._tripped or "\n" not in piece:
            if not self._tripped and piece:
                self._partial.append(piece)
            return self._tripped
        self._partial.append(piece)
        *lines, rest = "".join(self._partial).split("\n")
        self._partial = [rest] if rest else []
        for line in lines:
            if self._push_line(line.rstrip()):
                self._tripped = True
                break
        return self._tripped

    def _long_enough(self, period: int, length: int) -> bool:
        """Say whether a token loop covers ``min_span`` tokens."""
        return length >= self.min_span

    def _push_line(self, line: str) -> bool:
        """Add one complete line; return whether it closes a loop."""
        self._blank_run = 0 if line.strip() else self._blank_run + 1
        if self._blank_run >= BLANK_LINE_LIMIT:
            return True
        self._line_chars.append(len("".join(line.split())))
        chars = list(self._line_chars)

        def enough_text(period: int, length: int) -> bool:
            return (length // period) * sum(chars[-period:]) >= MIN_LOOP_CHARS

        return self._lines.push(line, enough_text)
