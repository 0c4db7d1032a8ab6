"""Programming languages the editor knows: detection, indentation, lexers.

Each ``Language`` names the Pygments lexer used to highlight it and the
editing conventions the editor follows (tab width, spaces or tabs, the line
comment marker, and which line endings open an indented block). This module
is pure Python; the Qt highlighter lives in ``app.ui.highlighter``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath

_C_BLOCKS = ("{", "(", "[")


@dataclass(frozen=True)
class Language:
    """One language the editor can highlight and indent.

    Attributes:
        id: Stable identifier, e.g. ``"python"``; used in settings.
        name: Human-readable name shown in the UI.
        extensions: File extensions, lower case with the leading dot.
        lexer: The Pygments lexer alias.
        tab_width: Columns per indentation level.
        insert_spaces: Indent with spaces (``True``) or a tab character.
        line_comment: The line comment marker, or ``None`` if there is none.
        indent_after: Line endings that open a block, so the next line gets
            one more level of indentation.
    """

    id: str
    name: str
    extensions: tuple[str, ...]
    lexer: str
    tab_width: int
    insert_spaces: bool
    line_comment: str | None
    indent_after: tuple[str, ...]

    @property
    def indent_unit(self) -> str:
        """The text of one indentation level: spaces or a tab."""
        return " " * self.tab_width if self.insert_spaces else "\t"


def _lang(
    id: str,
    name: str,
    extensions: tuple[str, ...],
    lexer: str,
    *,
    tab_width: int = 4,
    insert_spaces: bool = True,
    line_comment: str | None = None,
    indent_after: tuple[str, ...] = (),
) -> Language:
    """Build a ``Language`` with the common defaults."""
    return Language(id, name, extensions, lexer, tab_width, insert_spaces, line_comment, indent_after)


LANGUAGES: dict[str, Language] = {
    language.id: language
    for language in (
        _lang(
            "python", "Python", (".py", ".pyw", ".pyi"), "python", line_comment="#", indent_after=(":", "(", "[", "{")
        ),
        _lang(
            "javascript",
            "JavaScript",
            (".js", ".mjs", ".cjs", ".jsx"),
            "javascript",
            tab_width=2,
            line_comment="//",
            indent_after=_C_BLOCKS,
        ),
        _lang(
            "typescript",
            "TypeScript",
            (".ts", ".mts", ".cts", ".tsx"),
            "typescript",
            tab_width=2,
            line_comment="//",
            indent_after=_C_BLOCKS,
        ),
        _lang("java", "Java", (".java",), "java", line_comment="//", indent_after=_C_BLOCKS),
        _lang("c", "C", (".c", ".h"), "c", line_comment="//", indent_after=_C_BLOCKS),
        _lang(
            "cpp",
            "C++",
            (".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ino"),
            "cpp",
            line_comment="//",
            indent_after=_C_BLOCKS,
        ),
        _lang("csharp", "C#", (".cs", ".csx"), "csharp", line_comment="//", indent_after=_C_BLOCKS),
        _lang("go", "Go", (".go",), "go", insert_spaces=False, line_comment="//", indent_after=_C_BLOCKS),
        _lang("rust", "Rust", (".rs",), "rust", line_comment="//", indent_after=_C_BLOCKS),
        _lang("sql", "SQL", (".sql",), "sql", line_comment="--", indent_after=("(",)),
        _lang(
            "bash",
            "Shell",
            (".sh", ".bash", ".zsh", ".ksh"),
            "bash",
            line_comment="#",
            indent_after=("{", "(", "then", "do", "else"),
        ),
        _lang("html", "HTML", (".html", ".htm", ".xhtml"), "html", tab_width=2),
        _lang("css", "CSS", (".css",), "css", tab_width=2, indent_after=("{",)),
        _lang("markdown", "Markdown", (".md", ".markdown", ".mdown", ".mkd"), "markdown"),
        _lang("json", "JSON", (".json", ".jsonc", ".jsonl", ".ndjson"), "json", tab_width=2, indent_after=("{", "[")),
        _lang("yaml", "YAML", (".yaml", ".yml"), "yaml", tab_width=2, line_comment="#", indent_after=(":", "|", ">")),
        _lang("toml", "TOML", (".toml",), "toml", line_comment="#", indent_after=("[", "{")),
        _lang(
            "makefile", "Makefile", (".mk", ".mak"), "make", insert_spaces=False, line_comment="#", indent_after=(":",)
        ),
        _lang("dockerfile", "Dockerfile", (".dockerfile",), "docker", line_comment="#"),
        _lang("plaintext", "Plain Text", (".txt", ".text", ".log"), "text"),
    )
}

PLAINTEXT = LANGUAGES["plaintext"]

_BY_EXTENSION: dict[str, Language] = {
    extension: language for language in LANGUAGES.values() for extension in language.extensions
}

_BY_FILE_NAME: dict[str, str] = {
    "makefile": "makefile",
    "gnumakefile": "makefile",
    "dockerfile": "dockerfile",
    "containerfile": "dockerfile",
    ".bashrc": "bash",
    ".bash_profile": "bash",
    ".bash_login": "bash",
    ".bash_logout": "bash",
    ".bash_aliases": "bash",
    ".profile": "bash",
    ".zshrc": "bash",
    ".zprofile": "bash",
    ".zshenv": "bash",
    "pkgbuild": "bash",
    "pipfile": "toml",
    "cargo.lock": "toml",
    "poetry.lock": "toml",
    ".clang-format": "yaml",
}


def language_by_id(id: str) -> Language:
    """Look a language up by its identifier.

    Args:
        id: A key of ``LANGUAGES`` such as ``"python"``; case-insensitive.

    Returns:
        The language, or plain text when the identifier is unknown (for
        example a setting written by a newer version of the app).
    """
    return LANGUAGES.get(str(id).strip().lower(), PLAINTEXT)


def language_for_path(path: str | os.PathLike[str]) -> Language:
    """Guess a file's language from its name.

    Well-known file names (``Makefile``, ``Dockerfile``, ``.bashrc`` …) are
    matched first, then the extension, case-insensitively.

    Args:
        path: A file path; the file does not need to exist.

    Returns:
        The matching language, or plain text when nothing matches.
    """
    name = PurePath(os.fspath(path)).name.lower()
    if name in _BY_FILE_NAME:
        return LANGUAGES[_BY_FILE_NAME[name]]
    stem, dot, suffix = name.rpartition(".")
    if dot and stem:
        language = _BY_EXTENSION.get("." + suffix)
        if language is not None:
            return language
        if stem in ("makefile", "dockerfile", "containerfile"):  # Dockerfile.dev, Makefile.am
            return LANGUAGES[_BY_FILE_NAME[stem]]
    return PLAINTEXT


def _ends_with_opener(code: str, opener: str) -> bool:
    """Whether ``code`` ends with ``opener``, a whole word when it is one."""
    if not code.endswith(opener):
        return False
    if not opener[-1].isalnum():
        return True
    before = code[: len(code) - len(opener)]
    return not before or not (before[-1].isalnum() or before[-1] == "_")


def next_line_indent(language: Language, line: str) -> str:
    """Return the indentation for a new line typed after ``line``.

    The new line keeps the indentation of ``line``; when ``line`` ends with one
    of the language's ``indent_after`` endings (ignoring trailing whitespace
    and a trailing line comment) one more level is added, as spaces or a tab
    per the language.

    Args:
        language: The language of the document.
        line: The full text of the line the cursor is at the end of.

    Returns:
        A string of spaces and/or tabs; never raises.
    """
    try:
        line = line.rstrip("\r\n")
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        code = line.rstrip()
        candidates = [code]
        marker = language.line_comment
        if marker and marker in code:
            candidates.append(code[: code.rindex(marker)].rstrip())
        for candidate in candidates:
            if candidate and any(_ends_with_opener(candidate, o) for o in language.indent_after if o):
                return indent + language.indent_unit
        return indent
    except Exception:  # a keystroke handler must never fail
        return ""
