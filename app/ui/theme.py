"""Editor colour themes: a light and a dark one, chosen to follow the OS.

A ``Theme`` holds the editor's surface colours and a style per Pygments token
type. ``format_for`` turns a token type into a cached ``QTextCharFormat``,
walking up the token hierarchy (``Name.Function.Magic`` → ``Name.Function``)
until a style is found. Every text colour has a contrast ratio of at least
4.5:1 against the editor background and the current-line colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pygments.token import Comment, Error, Generic, Keyword, Name, Number, Operator, String, Token, _TokenType
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette, QTextCharFormat


@dataclass(frozen=True)
class TokenStyle:
    """How one kind of token looks: a colour (``None`` keeps the editor's) and font style."""

    color: str | None = None
    bold: bool = False
    italic: bool = False


@dataclass(frozen=True, eq=False)
class Theme:
    """The colours of the code editor.

    Colours are ``#RRGGBB`` strings; use ``QColor(theme.background)`` or
    ``editor_palette`` to apply them.

    Attributes:
        name: ``"light"`` or ``"dark"``.
        is_dark: Whether the background is dark.
        background: Editor background.
        foreground: Plain text.
        current_line: Background of the line holding the cursor.
        gutter_background: Line-number area background.
        gutter_foreground: Line numbers.
        selection: Selected-text background (plain text stays readable on it).
        bracket_match: Background of a bracket and its partner.
        ghost_text: Inline completion suggestions; a grey readable on both
            the background and the current line.
        token_styles: Style per Pygments token type; types without an entry
            inherit their parent's style.
    """

    name: str
    is_dark: bool
    background: str
    foreground: str
    current_line: str
    gutter_background: str
    gutter_foreground: str
    selection: str
    bracket_match: str
    ghost_text: str
    token_styles: Mapping[_TokenType, TokenStyle]
    _formats: dict[_TokenType, QTextCharFormat] = field(default_factory=dict, init=False, repr=False)


def _styles(
    fg: str,
    keyword: str,
    type_: str,
    function: str,
    class_: str,
    decorator: str,
    string: str,
    comment: str,
    number: str,
    operator: str,
    variable: str,
    deleted: str,
    inserted: str,
) -> dict[_TokenType, TokenStyle]:
    """Build the token-style table from a theme's palette of accent colours."""
    return {
        Token: TokenStyle(fg),
        Error: TokenStyle(fg),
        Keyword: TokenStyle(keyword),
        Keyword.Type: TokenStyle(type_),
        Operator: TokenStyle(operator),
        Operator.Word: TokenStyle(keyword),
        Name.Builtin: TokenStyle(type_),
        Name.Builtin.Pseudo: TokenStyle(keyword, italic=True),
        Name.Function: TokenStyle(function),
        Name.Function.Magic: TokenStyle(function),
        Name.Class: TokenStyle(class_, bold=True),
        Name.Exception: TokenStyle(class_),
        Name.Namespace: TokenStyle(class_),
        Name.Decorator: TokenStyle(decorator),
        Name.Attribute: TokenStyle(decorator),
        Name.Tag: TokenStyle(keyword),
        Name.Constant: TokenStyle(number),
        Name.Variable: TokenStyle(variable),
        Name.Label: TokenStyle(decorator),
        String: TokenStyle(string),
        String.Escape: TokenStyle(number),
        String.Interpol: TokenStyle(operator),
        String.Regex: TokenStyle(number),
        Number: TokenStyle(number),
        Comment: TokenStyle(comment, italic=True),
        Comment.Preproc: TokenStyle(keyword),
        Comment.PreprocFile: TokenStyle(string),
        Generic.Heading: TokenStyle(function, bold=True),
        Generic.Subheading: TokenStyle(function, bold=True),
        Generic.Emph: TokenStyle(None, italic=True),
        Generic.Strong: TokenStyle(None, bold=True),
        Generic.Deleted: TokenStyle(deleted),
        Generic.Inserted: TokenStyle(inserted),
        Generic.Prompt: TokenStyle(comment, bold=True),
        Generic.Output: TokenStyle(comment),
        Generic.Traceback: TokenStyle(deleted),
        Generic.Error: TokenStyle(deleted),
    }


LIGHT = Theme(
    name="light",
    is_dark=False,
    background="#FFFFFF",
    foreground="#24292F",
    current_line="#F3F6FA",
    gutter_background="#F3F4F6",
    gutter_foreground="#5F6873",
    selection="#CFE0F7",
    bracket_match="#D8EFD3",
    ghost_text="#6B7079",
    token_styles=_styles(
        fg="#24292F",
        keyword="#8E24AA",
        type_="#00796B",
        function="#1F5FBF",
        class_="#A35200",
        decorator="#8A6100",
        string="#2E7D32",
        comment="#5F6873",
        number="#B4430E",
        operator="#0E6E8C",
        variable="#B31D28",
        deleted="#B31D28",
        inserted="#2E7D32",
    ),
)

DARK = Theme(
    name="dark",
    is_dark=True,
    background="#1E1F24",
    foreground="#D4D7DD",
    current_line="#272A31",
    gutter_background="#1B1C20",
    gutter_foreground="#8B919C",
    selection="#2D4A6E",
    bracket_match="#3B4A3A",
    ghost_text="#959BA5",
    token_styles=_styles(
        fg="#D4D7DD",
        keyword="#C792EA",
        type_="#4EC9B0",
        function="#82AAFF",
        class_="#FFCB6B",
        decorator="#E5C07B",
        string="#A5D6A7",
        comment="#8B949E",
        number="#F78C6C",
        operator="#89DDFF",
        variable="#F07178",
        deleted="#F07178",
        inserted="#A5D6A7",
    ),
)

THEMES: dict[str, Theme] = {LIGHT.name: LIGHT, DARK.name: DARK}


def current_theme(preference: str = "system") -> Theme:
    """Return the theme to use now.

    Args:
        preference: ``"light"``, ``"dark"`` or ``"system"``. With ``"system"``
            the OS colour scheme decides (``QStyleHints.colorScheme``, Qt 6.5+),
            falling back to the lightness of the application palette's window
            colour when the scheme is unknown.

    Returns:
        ``LIGHT`` or ``DARK``; ``LIGHT`` when no Qt application exists yet.
    """
    if preference in THEMES:
        return THEMES[preference]
    if QGuiApplication.instance() is None:
        return LIGHT
    hints = QGuiApplication.styleHints()
    color_scheme = getattr(hints, "colorScheme", None)
    if color_scheme is not None:
        scheme = color_scheme()
        if scheme == Qt.ColorScheme.Dark:
            return DARK
        if scheme == Qt.ColorScheme.Light:
            return LIGHT
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return DARK if window.lightness() < 128 else LIGHT


def style_for(theme: Theme, token_type: _TokenType) -> TokenStyle:
    """Return the style of ``token_type`` or of its nearest styled ancestor.

    Args:
        theme: The theme to look in.
        token_type: A Pygments token type such as ``Name.Function.Magic``.

    Returns:
        The style; the plain-text style when no ancestor has one.
    """
    ttype: _TokenType | None = token_type
    while ttype is not None:
        style = theme.token_styles.get(ttype)
        if style is not None:
            return style
        ttype = ttype.parent
    return TokenStyle(theme.foreground)


def format_for(theme: Theme, token_type: _TokenType) -> QTextCharFormat:
    """Return the character format for a token type, cached per theme.

    Args:
        theme: The theme to use.
        token_type: A Pygments token type.

    Returns:
        A shared ``QTextCharFormat``; copy it before changing it.
    """
    cached = theme._formats.get(token_type)
    if cached is not None:
        return cached
    style = style_for(theme, token_type)
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(style.color or theme.foreground))
    if style.bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    if style.italic:
        fmt.setFontItalic(True)
    theme._formats[token_type] = fmt
    return fmt


def editor_palette(theme: Theme, base: QPalette | None = None) -> QPalette:
    """Return a palette that paints an editor widget in the theme's colours.

    Args:
        theme: The theme to apply.
        base: The palette to start from, e.g. the widget's current one.

    Returns:
        A copy of ``base`` (or of the application palette) with the base,
        text, highlight and placeholder roles set from the theme.
    """
    palette = QPalette(base) if base is not None else QPalette(QGuiApplication.palette())
    roles = {
        QPalette.ColorRole.Base: theme.background,
        QPalette.ColorRole.Text: theme.foreground,
        QPalette.ColorRole.Highlight: theme.selection,
        QPalette.ColorRole.HighlightedText: theme.foreground,
        QPalette.ColorRole.PlaceholderText: theme.ghost_text,
    }
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        for role, color in roles.items():
            palette.setColor(group, role, QColor(color))
    return palette
