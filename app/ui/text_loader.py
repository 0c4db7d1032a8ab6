"""Putting a long text into an editor a chunk per event-loop turn, so that opening a big file never stalls.

Qt takes about 2.5 ms per 1,000 lines to put plain text into a document, all
in one call: a 10,000-line file held the GUI thread for 25 ms before any
highlighting. ``CodeEditor.setPlainText`` puts the first ``LOAD_CHUNK_LINES``
in at once and hands the rest to a ``ChunkedLoad``, which appends one chunk
per turn of the event loop.

While it runs the editor is read-only and the document keeps no undo steps
(an opened file starts with an empty undo stack anyway), and the modified
flag stays what the caller set. Anything that reads the text through
``CodeEditor.toPlainText`` finishes the load first, so a save never writes
part of a file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

LOAD_CHUNK_LINES = 1_500
"""Lines put into the document per event-loop turn (about 5 ms each here)."""


def split_lines(text: str, lines_per_chunk: int = LOAD_CHUNK_LINES) -> list[str]:
    """Cut ``text`` after every ``lines_per_chunk`` lines; the pieces join back to ``text`` exactly."""
    chunks: list[str] = []
    start = 0
    while True:
        end = start
        for _ in range(lines_per_chunk):
            end = text.find("\n", end) + 1
            if end == 0:  # no more line ends: the rest is the last piece
                chunks.append(text[start:])
                return chunks
        chunks.append(text[start:end])
        start = end


class ChunkedLoad(QObject):
    """Appends the rest of a long text to an editor's document, a chunk per event-loop turn (GUI thread).

    ``on_done`` is called once, when the last chunk is in (``finish_now``
    puts the remaining ones in at once); ``cancel`` drops the rest and does
    not call it.
    """

    def __init__(self, editor: QPlainTextEdit, chunks: list[str], on_done: Callable[[], None]) -> None:
        super().__init__(editor)
        self._editor = editor
        self._chunks = deque(chunks)
        self._on_done: Callable[[], None] | None = on_done
        self._was_read_only = editor.isReadOnly()
        editor.setReadOnly(True)
        editor.document().setUndoRedoEnabled(False)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._next)
        self._timer.start()

    @property
    def remaining(self) -> int:
        """Chunks not put in yet."""
        return len(self._chunks)

    def finish_now(self) -> None:
        """Put every remaining chunk in now, and end the load."""
        while self._chunks:
            self._append(self._chunks.popleft())
        self._end(done=True)

    def cancel(self) -> None:
        """Drop the chunks not put in yet (the text is being replaced)."""
        self._chunks.clear()
        self._end(done=False)

    @Slot()
    def _next(self) -> None:
        if self._chunks:
            self._append(self._chunks.popleft())
        if self._chunks:
            self._timer.start()
        else:
            self._end(done=True)

    def _append(self, chunk: str) -> None:
        document = self._editor.document()
        modified = document.isModified()
        cursor = QTextCursor(document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        document.setModified(modified)

    def _end(self, done: bool) -> None:
        self._timer.stop()
        callback, self._on_done = self._on_done, None
        if callback is None:
            return  # ended already
        self._editor.document().setUndoRedoEnabled(True)
        self._editor.setReadOnly(self._was_read_only)
        self.deleteLater()
        if done:
            callback()
