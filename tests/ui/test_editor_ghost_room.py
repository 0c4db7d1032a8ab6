"""Multi-line ghost text makes room under the cursor's line instead of covering the code below."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QTextCursor

from app.ui.code_editor import CodeEditor
from app.ui.ghost_layout import GhostLayout
from app.ui.theme import LIGHT

SOURCE = "".join(f"def handler_{i}(event):\n    return event.value * {i}\n\n" for i in range(30))
SUGGESTION = "\n    log(event)\n    check(event)\n    audit(event)"  # three lines under the cursor's line
CURSOR_LINE = 10  # "    return event.value * 3"


@pytest.fixture
def editor(qtbot):
    widget = CodeEditor(theme=LIGHT)  # dark ink on a light ground: the ghost grey is the lightest ink
    qtbot.addWidget(widget)
    widget.resize(640, 480)
    widget.setPlainText(SOURCE)
    cursor = widget.textCursor()
    cursor.movePosition(QTextCursor.MoveOperation.End)
    cursor.insertText("# end")  # an edit to undo...
    cursor.insertText("\nx = 1")  # ...and one undone, to redo
    widget.undo()
    cursor.setPosition(widget.document().findBlockByNumber(CURSOR_LINE).position())
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
    widget.setTextCursor(cursor)
    widget.document().setModified(False)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _top(editor: CodeEditor, line: int) -> float:
    block = editor.document().findBlockByNumber(line)
    return editor.blockBoundingGeometry(block).translated(editor.contentOffset()).top()


def _document_state(editor: CodeEditor) -> tuple[str, int, int, bool, bool]:
    document = editor.document()
    return (
        document.toPlainText(),
        document.availableUndoSteps(),
        document.availableRedoSteps(),
        document.isUndoAvailable(),
        document.isModified(),
    )


def _grab(editor: CodeEditor) -> QImage:
    editor.viewport().repaint()
    return editor.viewport().grab().toImage()


def _strip(image: QImage, top: float, height: int) -> QImage:
    return image.copy(QRect(0, round(top), image.width(), height))


def test_the_editor_lays_out_with_a_ghost_layout_and_keeps_its_font(editor):
    assert isinstance(editor.document().documentLayout(), GhostLayout)
    assert editor.document().defaultFont() == editor.font()


def test_the_next_line_moves_down_while_shown_and_comes_back(editor):
    line_height = editor.cursorRect().height()
    before = _top(editor, CURSOR_LINE + 1)
    cursor_top = editor.cursorRect().top()
    editor.ghost.show(SUGGESTION)
    assert _top(editor, CURSOR_LINE + 1) == pytest.approx(before + 3 * line_height, abs=1)
    assert editor.cursorRect().top() == cursor_top  # the cursor stays where it was
    next_line = QTextCursor(editor.document().findBlockByNumber(CURSOR_LINE + 1))
    assert editor.cursorRect(next_line).top() == pytest.approx(before + 3 * line_height, abs=1)
    editor.ghost.clear()
    assert _top(editor, CURSOR_LINE + 1) == before


def test_the_room_follows_a_font_change(editor):
    editor.ghost.show(SUGGESTION)
    font = editor.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    editor.setFont(font)
    line_height = editor.cursorRect().height()
    gap = _top(editor, CURSOR_LINE + 1) - _top(editor, CURSOR_LINE)
    assert gap == pytest.approx(4 * line_height, abs=1)  # its own line and three ghost lines, in the new size


def test_a_one_line_ghost_makes_no_room(editor):
    before = _top(editor, CURSOR_LINE + 1)
    editor.ghost.show("  # doubled")
    assert _top(editor, CURSOR_LINE + 1) == before
    assert editor.document().documentLayout().reserved == (-1, 0.0)


def test_the_document_is_untouched_while_shown_and_after_dismiss(qtbot, editor):
    state = _document_state(editor)
    assert state[1] >= 1 and state[2] >= 1 and not state[4]
    editor.ghost.show(SUGGESTION)
    _grab(editor)
    assert _document_state(editor) == state
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert not editor.ghost.visible
    assert _document_state(editor) == state
    editor.redo()  # the redo step survived
    assert editor.toPlainText().endswith("# end\nx = 1")


def test_tab_inserts_exactly_the_suggestion_as_one_undo_step(qtbot, editor):
    text = editor.toPlainText()
    at = editor.textCursor().position()
    editor.ghost.show(SUGGESTION)
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    accepted = text[:at] + SUGGESTION + text[at:]
    assert editor.toPlainText() == accepted and editor.document().isModified()
    assert editor.document().documentLayout().reserved == (-1, 0.0)  # the real lines took the room
    editor.undo()  # one undo takes the whole suggestion back...
    assert editor.toPlainText() == text
    editor.undo()  # ...and the next one the edit made before it
    assert not editor.toPlainText().endswith("# end")
    editor.redo()
    editor.redo()
    assert editor.toPlainText() == accepted


def test_accepting_a_line_shrinks_the_room(qtbot, editor):
    line_height = editor.cursorRect().height()
    editor.ghost.show(SUGGESTION)
    layout = editor.document().documentLayout()
    assert layout.reserved == (CURSOR_LINE, 3 * line_height)
    qtbot.keyClick(editor, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)  # takes "\n    log(event)\n"
    assert editor.ghost.text == "    check(event)\n    audit(event)"
    assert layout.reserved == (editor.textCursor().blockNumber(), line_height)


def test_the_ghost_is_painted_in_the_room_and_the_lines_below_move_intact(editor):
    line_height = editor.cursorRect().height()
    room_top = _top(editor, CURSOR_LINE + 1)
    plain = _grab(editor)
    editor.ghost.show("\n" + "\n".join(" " * 12 for _ in range(3)))  # the same room, nothing to see in it
    blank = _grab(editor)
    editor.ghost.show(SUGGESTION)
    shown = _grab(editor)
    room = 3 * line_height
    background = QColor(editor.theme.background).rgb()
    empty_room = _strip(blank, room_top, room)
    assert {empty_room.pixel(x, y) for x in range(empty_room.width()) for y in range(empty_room.height())} == {
        background
    }  # the next line is no longer painted there
    assert _strip(shown, room_top, room) != empty_room  # the suggestion is
    ghost = QColor(editor.theme.ghost_text)
    inks = [QColor(_strip(shown, room_top, room).pixel(x, y)) for x in range(200) for y in range(room)]
    darkest = min(inks, key=lambda c: c.lightness())
    assert abs(darkest.lightness() - ghost.lightness()) < 40  # drawn in the ghost colour, not the text colour
    for offset in range(1, 4):  # the following lines are drawn whole, three lines lower
        old_top = _top(editor, CURSOR_LINE + offset) - room
        assert _strip(shown, old_top + room, line_height) == _strip(plain, old_top, line_height)


def test_line_numbers_follow_their_lines(qtbot, editor):
    line_height = editor.cursorRect().height()
    before = _top(editor, CURSOR_LINE + 1)
    editor._gutter.repaint()
    plain = editor._gutter.grab().toImage()
    editor.ghost.show(SUGGESTION)
    editor._gutter.repaint()
    shown = editor._gutter.grab().toImage()
    offset = editor.viewport().geometry().top() - editor._gutter.geometry().top()
    old = _strip(plain, before + offset, line_height)
    assert _strip(shown, before + offset + 3 * line_height, line_height) == old  # the number moved with its line
    assert _strip(shown, before + offset, line_height) != old


def test_scrolling_keeps_the_room_and_reaches_it_at_the_end_of_the_file(qtbot, editor):
    line_height = editor.cursorRect().height()
    editor.ghost.show(SUGGESTION)
    gap = _top(editor, CURSOR_LINE + 1) - _top(editor, CURSOR_LINE)
    editor.verticalScrollBar().setValue(2)  # the view scrolls; moving off the anchor is what dismisses
    assert editor.ghost.visible
    assert _top(editor, CURSOR_LINE + 1) - _top(editor, CURSOR_LINE) == gap
    editor.ghost.clear()
    editor.moveCursor(QTextCursor.MoveOperation.End)
    bar = editor.verticalScrollBar()
    maximum = bar.maximum()
    editor.ghost.show(SUGGESTION)
    assert bar.maximum() == maximum + 3  # room to scroll the suggestion at the end into view
    bar.setValue(bar.maximum())
    last = editor.document().lastBlock()
    bottom = editor.blockBoundingGeometry(last).translated(editor.contentOffset()).bottom()
    assert bottom <= editor.viewport().height() + 1
    assert bottom - editor.cursorRect().top() >= 4 * line_height
    editor.ghost.clear()
    assert bar.maximum() == maximum
