"""The code editor: ghost-text keys, stale answers, cache hits, files and recovery."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from app.core.editor.recovery import RecoveryStore
from app.ui.code_editor import CodeEditor
from app.ui.editor_tabs import EditorTabs


@pytest.fixture
def editor(qtbot):
    widget = CodeEditor()
    qtbot.addWidget(widget)
    widget.setPlainText("def add(a, b):\n    ")
    widget.document().setModified(False)
    widget.moveCursor(QTextCursor.MoveOperation.End)
    widget.show()
    return widget


def _undo_depth(editor: CodeEditor) -> int:
    return editor.document().availableUndoSteps()


def test_ghost_is_painted_not_inserted(editor):
    steps = _undo_depth(editor)
    editor.ghost.show("return a + b\nprint(add(1, 2))")
    editor.repaint()
    assert editor.toPlainText() == "def add(a, b):\n    "
    assert not editor.document().isModified()
    assert _undo_depth(editor) == steps


def test_tab_accepts_all(qtbot, editor):
    editor.ghost.show("return a + b")
    qtbot.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText().endswith("    return a + b")
    assert not editor.ghost.visible and editor.document().isModified()


def test_ctrl_right_accepts_a_word_and_ctrl_down_a_line(qtbot, editor):
    editor.ghost.show("return a + b\n\nprint(1)")
    qtbot.keyClick(editor, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText().endswith("    return")
    assert editor.ghost.text == " a + b\n\nprint(1)"
    qtbot.keyClick(editor, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert editor.toPlainText().endswith("    return a + b\n")
    assert editor.ghost.text.strip() == "print(1)"


def test_end_accepts_a_line(qtbot, editor):
    editor.ghost.show("x = 1\ny = 2")
    qtbot.keyClick(editor, Qt.Key.Key_End)
    assert editor.toPlainText().endswith("    x = 1\n") and editor.ghost.text == "y = 2"


def test_escape_dismisses(qtbot, editor):
    editor.ghost.show("return a")
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert not editor.ghost.visible and editor.toPlainText() == "def add(a, b):\n    "


def test_matching_typing_consumes_and_other_typing_dismisses(qtbot, editor):
    typed = []
    editor.typed.connect(lambda: typed.append(1))
    editor.ghost.show("return a + b")
    qtbot.keyClicks(editor, "ret")
    assert editor.ghost.text == "urn a + b"
    assert typed == []  # consumed keys ask for no new completion
    qtbot.keyClicks(editor, "X")
    assert not editor.ghost.visible and typed == [1]


def test_moving_the_cursor_dismisses(qtbot, editor):
    editor.ghost.show("return a")
    editor.moveCursor(QTextCursor.MoveOperation.Start)
    assert not editor.ghost.visible


def test_enter_keeps_the_indent_of_the_language(qtbot, tmp_path):
    from app.core.editor.languages import language_for_path

    widget = CodeEditor(language_for_path("x.py"))
    qtbot.addWidget(widget)
    qtbot.keyClicks(widget, "def f():")
    qtbot.keyClick(widget, Qt.Key.Key_Return)
    assert widget.toPlainText() == "def f():\n    "


def test_tabs_open_save_and_refuse(qtbot, tmp_path):
    tabs = EditorTabs(RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(tabs)
    messages = []
    tabs.message.connect(messages.append)
    source = tmp_path / "a.py"
    source.write_text("x = 1\r\n", encoding="utf-8", newline="")
    tab = tabs.open_path(str(source))
    assert tab.editor.toPlainText() == "x = 1\n" and tab.newline == "\r\n"
    tab.editor.moveCursor(QTextCursor.MoveOperation.End)
    tab.editor.insertPlainText("y = 2\n")
    assert tabs.tabText(tabs.indexOf(tab)).startswith("●")
    assert tabs.save(tab)
    assert source.read_bytes() == b"x = 1\r\ny = 2\r\n"
    assert not tabs.tabText(tabs.indexOf(tab)).startswith("●")
    binary = tmp_path / "b.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    assert tabs.open_path(str(binary)) is None and "binary" in messages[-1]


def test_non_utf8_file_shows_a_notice_and_keeps_its_encoding(qtbot, tmp_path):
    tabs = EditorTabs(RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(tabs)
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("caf\xe9\n".encode("cp1252"))
    tab = tabs.open_path(str(legacy))
    assert not tab.notice.isHidden() and "UTF-8" in tab.notice.text()
    tab.editor.insertPlainText("ok ")
    assert tabs.save(tab)
    assert legacy.read_bytes() == "ok caf\xe9\n".encode("cp1252")


def test_autosave_restores_after_a_simulated_crash(qtbot, tmp_path):
    folder = tmp_path / "recovery"
    first = RecoveryStore(folder)
    first.begin_session()
    tabs = EditorTabs(first)
    qtbot.addWidget(tabs)
    tabs.new_tab().editor.insertPlainText("precious unsaved work")
    tabs.autosave()
    tabs.flush_autosave()
    # The process dies here: no end_session. Simulate a new process's view.
    marker = folder / "session.lock"
    marker.write_text('{"pid": 999999999, "started_at": 0}')
    second = RecoveryStore(folder)
    assert second.crashed_last_time()
    buffers = second.pending()
    assert [b.text for b in buffers] == ["precious unsaved work"]
    restored = EditorTabs(second)
    qtbot.addWidget(restored)
    tab = restored.restore(buffers)[0]
    assert tab.editor.toPlainText() == "precious unsaved work" and tab.modified


def test_opening_a_file_replaces_an_untouched_empty_tab(qtbot, tmp_path):
    tabs = EditorTabs(RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(tabs)
    tabs.new_tab()
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    tabs.open_path(str(source))
    assert [t.title for t in tabs.tabs()] == ["a.py"]
    tabs.new_tab().editor.insertPlainText("draft")
    tabs.open_path(str(source))
    assert [t.title for t in tabs.tabs()] == ["a.py", "untitled"]  # a draft is kept


def test_bracket_under_the_cursor_and_its_partner_are_marked(qtbot):
    widget = CodeEditor()
    qtbot.addWidget(widget)
    widget.setPlainText("f(a[1], {b: (c)})")
    cursor = widget.textCursor()
    cursor.setPosition(1)  # just before "("
    widget.setTextCursor(cursor)
    assert widget._matching_brackets() == [1, 16]
    cursor.setPosition(6)  # just after "]"
    widget.setTextCursor(cursor)
    assert widget._matching_brackets() == [5, 3]
    marked = [s.cursor.selectionStart() for s in widget.extraSelections() if s.cursor.hasSelection()]
    assert sorted(marked) == [3, 5]


def test_dark_theme_recolours_the_editor(qtbot):
    from app.ui.theme import DARK, LIGHT

    widget = CodeEditor(theme=LIGHT)
    qtbot.addWidget(widget)
    widget.apply_theme(DARK)
    assert widget.palette().color(widget.palette().ColorRole.Base).name() == DARK.background.lower()


def test_restored_buffers_replace_an_untouched_empty_tab_even_when_not_current(qtbot, tmp_path):
    from app.core.editor.recovery import RecoveredBuffer

    tabs = EditorTabs(RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(tabs)
    blank = tabs.new_tab()
    typed = tabs.new_tab()
    typed.editor.insertPlainText("draft")  # the current tab, with unsaved typing: kept
    assert tabs.current_tab() is typed and blank in tabs.tabs()
    tabs.restore([RecoveredBuffer("b1", None, "untitled", "utf-8", "saved text", 0.0)])
    assert [t.editor.toPlainText() for t in tabs.tabs()] == ["draft", "saved text"]


def test_a_new_tab_after_the_last_one_was_closed_and_deleted(qtbot, tmp_path):
    from PySide6.QtCore import QCoreApplication, QEvent

    from app.services.completion_service import CompletionService
    from app.services.engine_worker import EngineController
    from app.ui.editor_pane import EditorPane

    controller = EngineController("completion")
    pane = EditorPane(CompletionService(controller), RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(pane)
    try:
        with qtbot.captureExceptions() as exceptions:
            assert pane.tabs.close_tab(0)
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # the closed editor is gone
            tab = pane.tabs.new_tab("x = 1\n")
        assert exceptions == []
        assert pane.tabs.current_editor() is tab.editor
    finally:
        controller.shutdown()


def test_the_ask_actions_emit_their_template_key_for_a_selection(qtbot, editor):
    from app.ui.code_editor import ASK_ACTIONS

    labels = {label: key for key, label in ASK_ACTIONS}
    menu = editor.context_menu()
    asks = [a for a in menu.actions() if a.text() in labels]
    assert len(asks) == len(ASK_ACTIONS) and not any(a.isEnabled() for a in asks)  # nothing selected
    editor.selectAll()
    menu = editor.context_menu()
    asks = [a for a in menu.actions() if a.text() in labels]
    assert all(a.isEnabled() for a in asks)
    for action in asks:
        with qtbot.waitSignal(editor.ask, timeout=1000) as asked:
            action.trigger()
        assert asked.args == [labels[action.text()]]
