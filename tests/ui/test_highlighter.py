"""Incremental Pygments highlighting and the light/dark themes."""

from __future__ import annotations

import pytest
from pygments.token import Comment, Keyword, Name, String, Token
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from app.core.editor.languages import LANGUAGES
from app.ui.highlighter import PygmentsHighlighter
from app.ui.theme import DARK, LIGHT, Theme, current_theme, editor_palette, format_for


def make_editor(qtbot, text: str, language_id: str = "python", theme: Theme = LIGHT):
    """A plain-text editor holding ``text`` and a highlighter that has run once."""
    editor = QPlainTextEdit()
    qtbot.addWidget(editor)
    editor.setPlainText(text)
    highlighter = PygmentsHighlighter(editor.document(), LANGUAGES[language_id], theme)
    highlighter.rehighlight()
    return editor, highlighter


def color_at(editor: QPlainTextEdit, line: int, column: int) -> str:
    """Foreground colour of the character at ``line``/``column`` (UTF-16), as #rrggbb."""
    block = editor.document().findBlockByNumber(line)
    for rng in block.layout().formats():
        if rng.start <= column < rng.start + rng.length:
            return rng.format.foreground().color().name()
    return "unformatted"


def color(theme: Theme, token_type) -> str:
    """The foreground colour ``theme`` gives ``token_type``."""
    return format_for(theme, token_type).foreground().color().name()


def big_python(lines: int = 10_000) -> str:
    """Python source of exactly ``lines`` lines, without multi-line strings."""
    chunk = [
        "class Widget{n}(Base):",
        "    # a comment about widget {n}",
        "    def method(self, value: int = {n}) -> str:",
        "        text = f'value {{value}}' + \"suffix\"",
        "        if value > 0 and text:",
        "            return text.upper()",
        "        return str(len(text) * 2.5)",
        "",
    ]
    out = []
    while len(out) < lines:
        out.extend(line.format(n=len(out)) for line in chunk)
    return "\n".join(out[:lines])


def test_keyword_and_plain_name_get_different_formats(qtbot):
    editor, _ = make_editor(qtbot, "def compute(value):\n    return value\n")
    keyword = color_at(editor, 0, 0)
    assert keyword == color(LIGHT, Keyword)
    assert color_at(editor, 0, 4) == color(LIGHT, Name.Function)
    plain_name = color_at(editor, 1, 11)
    assert plain_name == LIGHT.foreground.lower()
    assert keyword != plain_name


def test_triple_quoted_string_spans_blocks(qtbot):
    editor, _ = make_editor(qtbot, 'x = """first\nmiddle words if def\nlast"""\ny = 1\n')
    string = color(LIGHT, String)
    assert color_at(editor, 1, 0) == string
    assert color_at(editor, 1, 13) == string  # "if" is inside the string
    assert color_at(editor, 2, 0) == string
    assert color_at(editor, 3, 0) == LIGHT.foreground.lower()  # back to code


def test_c_block_comment_spans_blocks(qtbot):
    editor, _ = make_editor(qtbot, "/* start\n   int middle;\n   end */ int x;\nint y;\n", "c")
    comment = color(LIGHT, Comment)
    assert color_at(editor, 1, 3) == comment
    assert color_at(editor, 2, 3) == comment
    assert color_at(editor, 2, 10) == color(LIGHT, Keyword.Type)
    assert color_at(editor, 3, 0) == color(LIGHT, Keyword.Type)


def test_c_standard_types_are_types(qtbot):
    editor, _ = make_editor(qtbot, "size_t n = 0;\n", "c")
    assert color_at(editor, 0, 0) == color(LIGHT, Keyword.Type)


def test_positions_count_utf16_units(qtbot):
    editor, _ = make_editor(qtbot, 's = "\U0001f600" if ok else None\n')
    keyword = color(LIGHT, Keyword)
    # The emoji is one code point but two UTF-16 units, so "if" starts at column 9.
    assert color_at(editor, 0, 9) == color_at(editor, 0, 10) == keyword
    assert color_at(editor, 0, 7) == color(LIGHT, String)
    assert color_at(editor, 0, 8) != keyword


def test_line_by_line_lexer_fallback(qtbot):
    editor, highlighter = make_editor(qtbot, '{\n  "key": "value",\n  "n": 1\n}\n', "json")
    assert color_at(editor, 1, 2) == color(LIGHT, Name.Tag)
    assert color_at(editor, 1, 9) == color(LIGHT, String)
    highlighter.set_language(LANGUAGES["plaintext"])
    assert color_at(editor, 1, 9) in (LIGHT.foreground.lower(), "unformatted")


def test_set_language_rehighlights(qtbot):
    editor, highlighter = make_editor(qtbot, "function run() { return 1; }\n", "plaintext")
    assert color_at(editor, 0, 0) != color(LIGHT, Keyword)
    highlighter.set_language(LANGUAGES["javascript"])
    assert highlighter.language.id == "javascript"
    assert color_at(editor, 0, 0) == color(LIGHT, Keyword)


def test_one_keystroke_rehighlights_few_blocks(qtbot):
    editor, highlighter = make_editor(qtbot, big_python())
    assert highlighter.highlight_count >= 10_000
    for line in (5_000, 5_003, 9_999, 0):
        highlighter.highlight_count = 0
        cursor = QTextCursor(editor.document().findBlockByNumber(line))
        cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)
        cursor.insertText("x")
        qtbot.wait(1)
        assert 1 <= highlighter.highlight_count < 20, line


def test_opening_triple_quote_rehighlights_following_blocks(qtbot):
    editor, highlighter = make_editor(qtbot, big_python())
    assert color_at(editor, 5_004, 8) == color(LIGHT, Keyword)
    highlighter.highlight_count = 0
    cursor = QTextCursor(editor.document().findBlockByNumber(5_000))
    cursor.insertText('"""')
    assert highlighter.highlight_count > 4_000
    assert color_at(editor, 5_004, 8) == color(LIGHT, String)
    assert color_at(editor, 9_990, 0) == color(LIGHT, String)
    highlighter.highlight_count = 0
    cursor.insertText('"""')  # """""" is an empty string: back to code
    assert highlighter.highlight_count > 4_000
    assert color_at(editor, 5_004, 8) == color(LIGHT, Keyword)


def test_initial_highlight_of_10000_lines_covers_every_block(qtbot):
    editor, highlighter = make_editor(qtbot, "")
    editor.setPlainText(big_python())
    before = highlighter.highlight_count
    highlighter.rehighlight()
    assert highlighter.highlight_count - before >= editor.document().blockCount()
    assert color_at(editor, 9_992, 0) == color(LIGHT, Keyword)  # "class" on the last chunk's first line


def test_switching_to_dark_theme(qtbot):
    editor, highlighter = make_editor(qtbot, "value = 1  # note\n")
    light_plain, light_comment = color_at(editor, 0, 0), color_at(editor, 0, 11)
    highlighter.set_theme(DARK)
    assert highlighter.theme is DARK
    assert color_at(editor, 0, 0) == DARK.foreground.lower() != light_plain
    assert color_at(editor, 0, 11) == color(DARK, Comment) != light_comment
    light, dark = editor_palette(LIGHT), editor_palette(DARK)
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Text):
        assert light.color(role) != dark.color(role)
    assert dark.color(QPalette.ColorRole.Base) == QColor(DARK.background)
    assert dark.color(QPalette.ColorRole.Text) == QColor(DARK.foreground)


def test_format_for_walks_up_and_caches():
    assert color(LIGHT, Name.Function.Magic) == color(LIGHT, Name.Function)
    assert color(LIGHT, Name.Other.Fimble) == LIGHT.foreground.lower()
    assert format_for(LIGHT, String.Double) is format_for(LIGHT, String.Double)
    assert format_for(DARK, Comment.Single).fontItalic()
    assert format_for(LIGHT, Name.Class).fontWeight() > format_for(LIGHT, Name).fontWeight()


def test_current_theme(qapp):
    assert current_theme("dark") is DARK
    assert current_theme("light") is LIGHT
    assert current_theme() in (LIGHT, DARK)


def test_current_theme_falls_back_to_palette_lightness(qapp):
    if qapp.styleHints().colorScheme() != Qt.ColorScheme.Unknown:
        pytest.skip("the platform reports a colour scheme")
    original = QPalette(qapp.palette())
    try:
        for window, expected in (("#202124", DARK), ("#F5F5F5", LIGHT)):
            palette = QPalette(original)
            palette.setColor(QPalette.ColorRole.Window, QColor(window))
            qapp.setPalette(palette)
            assert current_theme() is expected
    finally:
        qapp.setPalette(original)


def _luminance(hex_color: str) -> float:
    """WCAG relative luminance."""
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=lambda t: t.name)
def test_theme_contrast_is_readable(theme):
    text_colors = {style.color for style in theme.token_styles.values() if style.color}
    text_colors |= {theme.foreground, theme.ghost_text}
    for text_color in text_colors:
        for surface in (theme.background, theme.current_line):
            assert contrast(text_color, surface) >= 4.5, (text_color, surface)
    assert contrast(theme.gutter_foreground, theme.gutter_background) >= 4.5
    assert contrast(theme.foreground, theme.selection) >= 4.5
    assert contrast(theme.foreground, theme.bracket_match) >= 4.5
    assert theme.is_dark == (_luminance(theme.background) < 0.2)
    assert Token in theme.token_styles
