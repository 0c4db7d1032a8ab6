"""Cut streamed text at stop strings, so that they are never shown.

Token ids end most generations (end of turn, end of text). Some layouts end
on text instead: a completion inside a line stops at a newline, and a
plain-text chat transcript stops where the model starts the next speaker's
turn. Text arrives a token at a time, so a stop string can be split across
pieces: what might be the start of one is held back until the next piece
settles it.
"""

from __future__ import annotations

from collections.abc import Iterable


class StopText:
    """Streams text through, up to the first stop string.

    Args:
        strings: The stop strings; none of them is ever passed through.
        trim: Drop spaces before the first text (a transcript's answer
            follows ``Assistant:`` and a space), and the whitespace just
            before a stop string (the blank line before the next turn).
    """

    def __init__(self, strings: Iterable[str] = (), *, trim: bool = False) -> None:
        self.strings = tuple(s for s in strings if s)
        self.stopped = False
        self._held = ""
        self._trim = trim
        self._started = not trim

    def feed(self, text: str) -> tuple[str, bool]:
        """Take the next piece of text.

        Args:
            text: What the model generated since the last call.

        Returns:
            The text that may be shown now, and whether a stop string was
            reached (nothing more is shown after that).
        """
        if self.stopped:
            return "", True
        if not self._started:
            text = text.lstrip(" \t")
            if not text:
                return "", False
            self._started = True
        buffer = self._held + text
        found = [at for at in (buffer.find(s) for s in self.strings) if at >= 0]
        if found:
            self._held, self.stopped = "", True
            shown = buffer[: min(found)]
            return (shown.rstrip() if self._trim else shown), True
        keep = self._partial_stop(buffer)
        if self._trim:  # whitespace waits too: it is dropped if a stop string follows
            keep = len(buffer) - len(buffer[: len(buffer) - keep].rstrip())
        self._held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep], False

    def finish(self, text: str = "") -> str:
        """Take the last piece; return everything still to show, held text included."""
        shown, stopped = self.feed(text)
        if stopped:
            return shown
        held, self._held = self._held, ""
        return shown + held

    def _partial_stop(self, buffer: str) -> int:
        """The length of the longest end of ``buffer`` that begins a stop string."""
        longest = 0
        for stop in self.strings:
            for size in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:size]):
                    longest = size
                    break
        return longest
