"""A plain-text layout that can make room under one block for ghost lines.

QPlainTextEdit asks its document layout for every block's height
(``blockBoundingRect``) when it paints, scrolls, hit-tests and places the
cursor, so a layout that reports one block taller than its text moves every
following line down by that much. The room is a property of the view alone:
nothing is written to the document, so its text, undo stack and modified flag
never change.

Block formats cannot do this: the plain-text layout ignores a block's margins
and line height, and changing a block format is an edit (an undo step, a lost
redo, the modified flag set; with undo disabled the whole stack is cleared).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QTextBlock, QTextDocument
from PySide6.QtWidgets import QPlainTextDocumentLayout, QPlainTextEdit


class GhostLayout(QPlainTextDocumentLayout):
    """QPlainTextDocumentLayout with optional extra height under one block."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._block_number = -1
        self._extra = 0.0

    @property
    def reserved(self) -> tuple[int, float]:
        """(block number, extra height); (-1, 0.0) when no room is reserved."""
        return self._block_number, self._extra

    def reserve(self, block_number: int, extra: float) -> None:
        """Make ``extra`` pixels of room under block ``block_number``; 0 releases it."""
        if extra <= 0:
            block_number, extra = -1, 0.0
        if (block_number, extra) == (self._block_number, self._extra):
            return
        self._block_number, self._extra = block_number, extra
        self.documentSizeChanged.emit(self.documentSize())  # the view recomputes its scroll range
        self.requestUpdate()  # repaint the text and whatever follows updateRequest (the gutter)

    def release(self) -> None:
        """Give the reserved room back."""
        self.reserve(-1, 0.0)

    def blockBoundingRect(self, block: QTextBlock) -> QRectF:  # noqa: N802 - Qt override
        rect = super().blockBoundingRect(block)
        if self._extra and block.isVisible() and block.blockNumber() == self._block_number:
            rect.setHeight(rect.height() + self._extra)
        return rect


def install_ghost_layout(editor: QPlainTextEdit) -> GhostLayout:
    """Give ``editor`` a fresh document laid out by a GhostLayout (call before adding text)."""
    current = editor.document().documentLayout()
    if isinstance(current, GhostLayout):
        return current
    document = QTextDocument(editor)
    layout = GhostLayout(document)
    document.setDocumentLayout(layout)
    editor.setDocument(document)
    return layout
