"""CodeEditor: QPlainTextEdit with a gutter, current line, brackets, indentation and ghost text."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFontDatabase, QKeyEvent, QPainter, QTextCursor, QTextFormat
from PySide6.QtWidgets import QMenu, QPlainTextEdit, QTextEdit, QWidget

from app.core.editor.languages import Language, language_by_id, next_line_indent
from app.ui.ghost_text import GhostText
from app.ui.highlighter import PygmentsHighlighter
from app.ui.text_loader import LOAD_CHUNK_LINES, ChunkedLoad, split_lines
from app.ui.theme import Theme, current_theme

BRACKETS = {"(": ")", "[": "]", "{": "}"}
ASK_ACTIONS = (
    ("ask", "Ask about Selection"),
    ("explain", "Explain"),
    ("tests", "Write Tests"),
    ("fix", "Fix"),
    ("docstring", "Add Docstring"),
)
CLOSING = {v: k for k, v in BRACKETS.items()}


class _Gutter(QWidget):
    """The line-number area left of the text."""

    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    """One buffer's editor.

    ``typed`` fires after an edit made by typing; ``moved`` when the cursor
    moved or the view scrolled without an edit (a click, a jump, a search);
    ``accepted`` after Tab accepted a whole suggestion.
    """

    _built = False  # set at the end of __init__

    typed = Signal()
    moved = Signal()
    accepted = Signal()
    ask = Signal(str)  # a chat prompt template key, for the selected code

    def __init__(self, language: Language | None = None, theme: Theme | None = None, parent=None) -> None:
        super().__init__(parent)
        self._load: ChunkedLoad | None = None  # a long text still going in
        self._expected_lines = 0  # its line count, while it does
        self.ghost = GhostText(self)  # it gives the editor the document whose layout makes room
        self.language = language or language_by_id("plaintext")
        self.theme = theme or current_theme()
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.highlighter = PygmentsHighlighter(self.document(), self.language, self.theme)
        self._gutter = _Gutter(self)
        self.blockCountChanged.connect(self._on_block_count)
        self.updateRequest.connect(self._scroll_gutter)
        self.cursorPositionChanged.connect(self._on_cursor_moved)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.ghost.on_accept_all = self.accepted.emit
        self._revision = self.document().revision()  # the text the last cursor move saw
        self._typing = False
        self.apply_theme(self.theme)
        self.set_language(self.language)
        self._update_margins()
        self._built = True  # font changes from here on are measured again (changeEvent)

    def setPlainText(self, text: str) -> None:  # noqa: N802 - Qt override
        """Replace the text; a long one goes in a chunk per event-loop turn and is highlighted in slices.

        The gutter is widened for the new line count before the text goes in,
        so the viewport is resized while the document is still empty.
        """
        if self._load is not None:
            self._load.cancel()
            self._load = None
        lines = text.count("\n") + 1
        self._expected_lines = lines if lines > LOAD_CHUNK_LINES else 0  # only a text going in by chunks
        self._update_margins(lines)
        if lines <= LOAD_CHUNK_LINES:
            with self.highlighter.sliced_load(lines, first_batch=self._lines_in_view()):
                super().setPlainText(text)
            return
        chunks = split_lines(text)
        self.highlighter.begin_load()
        super().setPlainText(chunks[0])
        self.highlighter.highlight_top(self._lines_in_view())  # what the first paint shows is coloured
        self._load = ChunkedLoad(self, chunks[1:], self._loaded)

    @property
    def loading(self) -> bool:
        """True while a long text is still going in (the editor is read-only meanwhile)."""
        return self._load is not None

    def finish_loading(self) -> None:
        """Put the rest of a text still going in into the document now."""
        if self._load is not None:
            self._load.finish_now()

    def toPlainText(self) -> str:  # noqa: N802 - Qt override
        """The whole text, also while a long one is still going in (that load finishes first)."""
        self.finish_loading()
        return super().toPlainText()

    def _loaded(self) -> None:
        self._load = None
        self._expected_lines = 0
        self._revision = self.document().revision()  # the load was no edit
        self.highlighter.end_load(self._lines_in_view())
        self.moved.emit()  # a new place for the cursor, now that the text is whole

    def _lines_in_view(self) -> int:
        """About how many lines the viewport shows (the first slice of a sliced highlight).

        The editor's own height stands in for its viewport's: the first call for
        ``viewport()`` makes PySide create a Python type for every kind of widget
        there is (about 20 ms), which a window's first paint does not need.
        """
        return self.contentsRect().height() // max(1, self.fontMetrics().lineSpacing()) + 2

    def _blocks_in_view(self) -> range:
        first = self.firstVisibleBlock().blockNumber()
        return range(max(0, first), max(0, first) + self._lines_in_view())

    # ---- language and theme -------------------------------------------------------

    def set_language(self, language: Language) -> None:
        """Use ``language``'s tab width, indentation and highlighting."""
        self.language = language
        self._measure_tab_stops()
        self.highlighter.set_language(language, first_batch=self._lines_in_view())

    def _measure_tab_stops(self) -> None:
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * self.language.tab_width)

    def apply_theme(self, theme: Theme) -> None:
        """Recolour the editor, gutter, highlighting and ghost text."""
        self.theme = theme
        palette = self.palette()
        palette.setColor(palette.ColorRole.Base, QColor(theme.background))
        palette.setColor(palette.ColorRole.Text, QColor(theme.foreground))
        palette.setColor(palette.ColorRole.Highlight, QColor(theme.selection))
        self.setPalette(palette)
        self.ghost.color = QColor(theme.ghost_text)
        self.highlighter.set_theme(theme, in_view=self._blocks_in_view())
        self._update_extra_selections()

    # ---- gutter ---------------------------------------------------------------------

    def gutter_width(self, lines: int | None = None) -> int:
        """Width for the largest line number (of ``lines``, else the document's) plus padding."""
        digits = max(3, len(str(self.blockCount() if lines is None else lines)))
        return 12 + self.fontMetrics().horizontalAdvance("9") * digits

    @Slot(int)
    def _on_block_count(self, count: int) -> None:
        # While a text goes in by chunks the gutter keeps the width of its last line number.
        self._update_margins(max(count, self._expected_lines))

    def _update_margins(self, lines: int | None = None) -> None:
        width = self.gutter_width(lines)
        if width != self.viewportMargins().left():  # resizing the viewport re-lays the view out
            self.setViewportMargins(width, 0, 0, 0)

    @Slot(QRect, int)
    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._place_gutter()

    def _place_gutter(self) -> None:
        area = self.contentsRect()
        self._gutter.setGeometry(QRect(area.left(), area.top(), self.gutter_width(), area.height()))

    def paint_gutter(self, event) -> None:
        """Draw line numbers for the visible blocks."""
        painter = QPainter(self._gutter)
        painter.fillRect(event.rect(), QColor(self.theme.gutter_background))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        current = self.textCursor().blockNumber()
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                color = self.theme.foreground if number == current else self.theme.gutter_foreground
                painter.setPen(QColor(color))
                painter.drawText(0, top, self._gutter.width() - 6, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()

    # ---- current line and brackets --------------------------------------------------

    @Slot()
    def _on_cursor_moved(self) -> None:
        self.ghost.cursor_moved()
        self._update_extra_selections()
        revision = self.document().revision()
        if revision == self._revision:  # an edit moves the cursor after changing the text
            self.moved.emit()
        self._revision = revision

    @Slot(int)
    def _on_scrolled(self, _value: int) -> None:
        self.moved.emit()

    def _update_extra_selections(self) -> None:
        selections = []
        line = QTextEdit.ExtraSelection()
        line.format.setBackground(QColor(self.theme.current_line))
        line.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        line.cursor = self.textCursor()
        line.cursor.clearSelection()
        selections.append(line)
        for position in self._matching_brackets():
            match = QTextEdit.ExtraSelection()
            match.format.setBackground(QColor(self.theme.bracket_match))
            match.cursor = QTextCursor(self.document())
            match.cursor.setPosition(position)
            match.cursor.movePosition(QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor)
            selections.append(match)
        self.setExtraSelections(selections)

    def _matching_brackets(self) -> list[int]:
        """Positions of the bracket at/before the cursor and its partner, if any."""
        document = self.document()
        position = self.textCursor().position()
        for at in (position, position - 1):
            char = document.characterAt(at)
            if char in BRACKETS or char in CLOSING:
                partner = self._find_partner(at, char)
                return [at, partner] if partner is not None else []
        return []

    def _find_partner(self, at: int, char: str, limit: int = 20000) -> int | None:
        document = self.document()
        forward = char in BRACKETS
        mate = BRACKETS[char] if forward else CLOSING[char]
        step = 1 if forward else -1
        depth, position = 0, at
        for _ in range(limit):
            position += step
            if position < 0 or position >= document.characterCount():
                return None
            current = document.characterAt(position)
            if current == char:
                depth += 1
            elif current == mate:
                if depth == 0:
                    return position
                depth -= 1
        return None

    # ---- keys -------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if self.ghost.handle_key(event):
            return
        if self.isReadOnly():  # a text still going in: Qt's own handling, which edits nothing
            super().keyPressEvent(event)
            return
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            self._newline_with_indent()
            self.typed.emit()
            return
        if key == Qt.Key.Key_Tab and not event.modifiers() and self.language.insert_spaces:
            self.textCursor().insertText(" " * self.language.tab_width)
            self.typed.emit()
            return
        before = self.document().revision()
        super().keyPressEvent(event)
        if self.document().revision() != before and event.text():
            self.typed.emit()

    def _newline_with_indent(self) -> None:
        cursor = self.textCursor()
        line = cursor.block().text()[: cursor.positionInBlock()]
        cursor.insertText("\n" + next_line_indent(self.language, line))
        self.setTextCursor(cursor)

    def context_menu(self) -> QMenu:
        """The standard edit menu plus the Ask actions, enabled when text is selected."""
        menu = self.createStandardContextMenu()
        has_selection = self.textCursor().hasSelection()
        menu.addSeparator()
        for key, label in ASK_ACTIONS:
            action = menu.addAction(label)
            action.triggered.connect(lambda _checked=False, k=key: self.ask.emit(k))
            action.setEnabled(has_selection)
        return menu

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.context_menu().exec(event.globalPos())

    # ---- painting ---------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() != QEvent.Type.FontChange or not self._built:
            return
        # Tab stops, the gutter and the ghost's room are measured in the font; the colours are not.
        self._measure_tab_stops()
        self._update_margins()
        self._place_gutter()
        if self.ghost.visible:
            self.ghost.reserve_room()  # the room is counted in lines of the old font

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.ghost.visible:
            painter = QPainter(self.viewport())
            self.ghost.paint(painter, QColor(self.theme.current_line), QColor(self.theme.foreground))
            painter.end()
