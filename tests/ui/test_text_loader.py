"""A long text goes into the editor a chunk per event-loop turn, and nothing can read or save part of it."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextCursor

from app.ui.code_editor import CodeEditor
from app.ui.text_loader import LOAD_CHUNK_LINES, split_lines
from tests.ui.editor_files import open_in_tabs

LOAD_TIMEOUT_MS = 60_000


def numbered(lines: int) -> str:
    return "".join(f"line_{n} = {n}  # ünïcode\n" for n in range(lines))


@pytest.mark.parametrize(
    "text",
    ["", "one line, no end", "a\nb\n", numbered(5), numbered(LOAD_CHUNK_LINES), numbered(3 * LOAD_CHUNK_LINES + 7)],
)
def test_split_lines_joins_back_exactly(text):
    chunks = split_lines(text, 3)
    assert "".join(chunks) == text
    assert all(chunk.count("\n") <= 3 for chunk in chunks)
    assert all(chunk.count("\n") == 3 for chunk in chunks[:-1])


def shown_editor(qtbot) -> CodeEditor:
    editor = CodeEditor()
    qtbot.addWidget(editor)
    editor.resize(800, 600)
    editor.show()
    return editor


def test_long_text_arrives_whole_with_no_undo_step_and_flags_restored(qtbot):
    editor = shown_editor(qtbot)
    text = numbered(4 * LOAD_CHUNK_LINES + 3)
    editor.setPlainText(text)
    assert editor.loading and editor.isReadOnly()
    assert editor.document().blockCount() == LOAD_CHUNK_LINES + 1
    editor.document().setModified(True)  # as a restored buffer is marked: kept through the chunks
    qtbot.waitUntil(lambda: not editor.loading, timeout=LOAD_TIMEOUT_MS)
    assert not editor.isReadOnly()
    assert editor.document().isModified()
    assert not editor.document().isUndoAvailable()  # putting the file in is no edit to undo
    assert editor.document().isUndoRedoEnabled()
    assert editor.toPlainText() == text
    cursor = editor.textCursor()
    cursor.insertText("typed ")
    assert editor.document().isUndoAvailable()  # undo works again for the user's edits


def test_reading_the_text_mid_load_finishes_the_load(qtbot):
    editor = shown_editor(qtbot)
    text = numbered(3 * LOAD_CHUNK_LINES)
    editor.setPlainText(text)
    assert editor.loading
    assert editor.toPlainText() == text  # never a part
    assert not editor.loading and not editor.isReadOnly()


def test_a_new_text_mid_load_drops_the_rest_of_the_old_one(qtbot):
    editor = shown_editor(qtbot)
    editor.setPlainText(numbered(3 * LOAD_CHUNK_LINES))
    assert editor.loading
    editor.setPlainText("short = 1\n")
    assert not editor.loading and not editor.isReadOnly()
    qtbot.wait(50)  # the old load's timer would have fired by now
    assert editor.toPlainText() == "short = 1\n"


def test_a_save_mid_load_writes_the_whole_file(qtbot, tmp_path):
    text = numbered(3 * LOAD_CHUNK_LINES + 1)
    tabs, tab = open_in_tabs(qtbot, tmp_path, text, "big.py")
    assert tab.editor.loading
    copy = tmp_path / "copy.py"
    assert tabs.save(tab, str(copy))
    assert copy.read_text(encoding="utf-8") == text
    assert not tab.modified


def test_programmatic_edit_during_load_lands_in_the_text(qtbot):
    editor = shown_editor(qtbot)
    text = numbered(2 * LOAD_CHUNK_LINES + 1)
    editor.setPlainText(text)
    QTextCursor(editor.document()).insertText("# header\n")  # the top is in; the rest keeps coming
    qtbot.waitUntil(lambda: not editor.loading, timeout=LOAD_TIMEOUT_MS)
    assert editor.toPlainText() == "# header\n" + text


def python_tab(qtbot, tmp_path, lines: int):
    text = "".join(f"def f_{n}(x):\n    return x + {n}  # n\n" for n in range(lines // 2))
    _tabs, tab = open_in_tabs(qtbot, tmp_path, text, "big.py")
    assert tab.editor.loading
    return tab


def test_theme_and_language_changes_mid_load_leave_the_file_unmodified(qtbot, tmp_path):
    from app.core.editor.languages import language_by_id
    from app.ui.theme import DARK, LIGHT

    tab = python_tab(qtbot, tmp_path, 4 * LOAD_CHUNK_LINES)
    editor = tab.editor
    editor.apply_theme(LIGHT if editor.theme is DARK else DARK)
    editor.set_language(language_by_id("python"))
    with qtbot.waitSignal(editor.highlighter.highlighted, timeout=LOAD_TIMEOUT_MS):
        pass
    assert not tab.modified
    assert not editor.document().isUndoAvailable()


def test_keys_do_not_edit_while_the_text_goes_in(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    tab = python_tab(qtbot, tmp_path, 3 * LOAD_CHUNK_LINES)
    editor = tab.editor
    before = editor.document().blockCount()
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Tab, Qt.Key.Key_A):
        qtbot.keyClick(editor, key)
    assert editor.document().blockCount() == before and not tab.modified
    qtbot.waitUntil(lambda: not editor.loading, timeout=LOAD_TIMEOUT_MS)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert tab.modified  # typing works once the text is in


def test_the_gutter_keeps_its_width_while_the_text_goes_in(qtbot, tmp_path):
    tab = python_tab(qtbot, tmp_path, 7 * LOAD_CHUNK_LINES)  # five digits of line numbers
    editor = tab.editor
    widths = {editor.viewportMargins().left()}
    for _turn in range(LOAD_TIMEOUT_MS):  # at least a millisecond a turn: the load's time limit
        if not editor.loading:
            break
        qtbot.wait(1)
        widths.add(editor.viewportMargins().left())
    assert not editor.loading
    assert widths == {editor.gutter_width()}


def test_the_editor_says_moved_when_a_load_ends(qtbot, tmp_path):
    tab = python_tab(qtbot, tmp_path, 3 * LOAD_CHUNK_LINES)
    with qtbot.waitSignal(tab.editor.moved, timeout=LOAD_TIMEOUT_MS):
        pass
    assert not tab.editor.loading


def test_a_second_recolour_keeps_the_colours_in_view(qtbot, tmp_path):
    from app.ui.theme import DARK, LIGHT

    tab = python_tab(qtbot, tmp_path, 3 * LOAD_CHUNK_LINES)
    editor = tab.editor
    with qtbot.waitSignal(editor.highlighter.highlighted, timeout=LOAD_TIMEOUT_MS):
        pass
    bottom = editor.document().lastBlock().previous()
    cursor = editor.textCursor()
    cursor.setPosition(bottom.position())
    editor.setTextCursor(cursor)  # the view is at the end, far past the first slice
    editor.apply_theme(LIGHT if editor.theme is DARK else DARK)
    editor.apply_theme(LIGHT if editor.theme is DARK else DARK)  # again, before the first recolour ends
    assert bottom.layout().formats()  # the line in view is coloured at once
    with qtbot.waitSignal(editor.highlighter.highlighted, timeout=LOAD_TIMEOUT_MS):
        pass
    assert bottom.layout().formats()
