"""A long file's first highlight runs in slices and ends as a one-shot highlight would."""

from __future__ import annotations

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from app.core.editor.languages import LANGUAGES
from app.ui.highlighter import SLICE_MIN_LINES, PygmentsHighlighter
from app.ui.text_loader import LOAD_CHUNK_LINES
from app.ui.theme import current_theme
from tests.ui.editor_files import open_in_tabs

HIGHLIGHT_TIMEOUT_MS = 180_000


def long_python(lines: int = 10_000) -> str:
    """Python of ``lines`` lines whose docstrings and a long string span many lines."""
    unit = [
        "def handler_{n}(request, limit=10):",
        '    """Answer request {n}.',
        "",
        "    The docstring spans lines; def and return here are not keywords.",
        '    """',
        "    total = 0  # a comment",
        "    for item in request.items[:limit]:",
        "        total += len(str(item)) * {n}",
        "    return {{'id': {n}, 'ok': total > 0}}",
        "",
    ]
    out: list[str] = []
    while len(out) < lines:
        if len(out) == 8_000:  # one string of 200 lines, deep in the file
            out.extend(['LONG = """'] + [f"class not_a_class_{i}: return" for i in range(198)] + ['"""'])
        out.extend(line.format(n=len(out)) for line in unit)
    return "\n".join(out[:lines]) + "\n"


def formats(document, numbers) -> list[list[tuple]]:
    """Each block's format ranges as (start, length, colour, bold, italic)."""
    found = []
    for number in numbers:
        layout = document.findBlockByNumber(number).layout()
        found.append(
            [
                (r.start, r.length, r.format.foreground().color().name(), r.format.fontWeight(), r.format.fontItalic())
                for r in layout.formats()
            ]
        )
    return found


def one_shot(qtbot, text: str) -> QPlainTextEdit:
    """A plain editor holding ``text``, highlighted in one go."""
    editor = QPlainTextEdit()
    qtbot.addWidget(editor)
    editor.setPlainText(text)
    highlighter = PygmentsHighlighter(editor.document(), LANGUAGES["python"], current_theme())
    highlighter.rehighlight()
    editor.highlighter = highlighter  # kept alive with the editor
    return editor


open_file = open_in_tabs


def test_long_file_goes_in_by_chunks_and_is_highlighted_in_slices(qtbot, tmp_path):
    text = long_python()
    tabs, tab = open_file(qtbot, tmp_path, text)
    editor, highlighter = tab.editor, tab.editor.highlighter
    assert editor.loading and editor.isReadOnly()
    assert editor.document().blockCount() == LOAD_CHUNK_LINES + 1  # the top is there at once
    assert not highlighter.complete  # the rest comes in chunks, then slices
    assert formats(editor.document(), [0])[0]  # the top is coloured before the first paint
    assert formats(editor.document(), [LOAD_CHUNK_LINES - 10]) == [[]]  # further lines are not yet
    with qtbot.waitSignal(highlighter.highlighted, timeout=HIGHLIGHT_TIMEOUT_MS):
        pass
    assert not editor.loading and not editor.isReadOnly()
    assert editor.document().blockCount() == 10_001
    assert editor.toPlainText() == text
    assert highlighter.complete
    assert highlighter.slice_count > 1
    reference = one_shot(qtbot, text)
    deep = [8_000, 8_001, 8_100, 8_199, 8_200, 8_201, 9_001, 9_003, 9_996]
    got, expected = formats(editor.document(), deep), formats(reference.document(), deep)
    assert got == expected
    assert all(got)  # every one of those lines is coloured
    # a line inside the long string is one string run, not a class statement
    assert len(got[2]) == 1 and got[2][0][:2] == (0, len("class not_a_class_99: return"))


def test_edits_while_the_text_goes_in_end_as_a_one_shot_highlight(qtbot, tmp_path):
    tabs, tab = open_file(qtbot, tmp_path, long_python())
    editor, highlighter = tab.editor, tab.editor.highlighter
    assert editor.loading
    cursor = QTextCursor(editor.document())
    cursor.insertText('OPEN = """\n')  # in the coloured top, while the rest is still going in
    with qtbot.waitSignal(highlighter.highlighted, timeout=HIGHLIGHT_TIMEOUT_MS):
        pass
    document = editor.document()
    assert document.blockCount() == 10_002
    reference = one_shot(qtbot, document.toPlainText())
    numbers = range(0, document.blockCount(), 7)
    assert formats(document, numbers) == formats(reference.document(), numbers)


def test_edits_while_slices_run_end_as_a_one_shot_highlight(qtbot, tmp_path):
    tabs, tab = open_file(qtbot, tmp_path, long_python())
    editor, highlighter = tab.editor, tab.editor.highlighter
    qtbot.waitUntil(lambda: not editor.loading, timeout=HIGHLIGHT_TIMEOUT_MS)
    assert not highlighter.complete
    cursor = QTextCursor(editor.document())
    cursor.insertText('OPEN = """\n')  # opens a string above the highlighted part: everything shifts
    block = editor.document().findBlockByNumber(9_000)
    cursor = QTextCursor(block)
    cursor.insertText("x = 1  # typed where the slices have not been yet\n")
    cursor = QTextCursor(editor.document().findBlockByNumber(5))
    cursor.movePosition(QTextCursor.MoveOperation.Down, QTextCursor.MoveMode.KeepAnchor, 3)
    cursor.removeSelectedText()  # three lines fewer above the tail
    cursor = QTextCursor(editor.document().findBlockByNumber(0))
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
    cursor.insertText('"""')  # and the string closes on the line it opened
    assert not highlighter.complete
    with qtbot.waitSignal(highlighter.highlighted, timeout=HIGHLIGHT_TIMEOUT_MS):
        pass
    document = editor.document()
    reference = one_shot(qtbot, document.toPlainText())
    numbers = range(document.blockCount())
    assert formats(document, numbers) == formats(reference.document(), numbers)


def test_short_text_is_highlighted_in_the_call(qtbot, tmp_path):
    tabs, tab = open_file(qtbot, tmp_path, long_python(SLICE_MIN_LINES - 10))
    highlighter = tab.editor.highlighter
    assert highlighter.complete
    numbers = [0, SLICE_MIN_LINES - 20]
    assert all(formats(tab.editor.document(), numbers))


def test_a_new_text_replaces_a_sliced_highlight_under_way(qtbot, tmp_path):
    tabs, tab = open_file(qtbot, tmp_path, long_python())
    editor, highlighter = tab.editor, tab.editor.highlighter
    assert not highlighter.complete
    editor.setPlainText("def short():\n    return 1\n")  # a short text: highlighted at once, slices stop
    assert highlighter.complete
    assert formats(editor.document(), [0, 1]) == formats(one_shot(qtbot, editor.toPlainText()).document(), [0, 1])
