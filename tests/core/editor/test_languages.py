"""Language detection, lookup and Enter-key indentation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name

from app.core.editor.languages import LANGUAGES, Language, language_by_id, language_for_path, next_line_indent

REQUIRED = (
    "python",
    "javascript",
    "typescript",
    "java",
    "c",
    "cpp",
    "csharp",
    "go",
    "rust",
    "sql",
    "bash",
    "html",
    "css",
    "markdown",
    "json",
    "yaml",
    "toml",
    "plaintext",
)

BY_EXTENSION = {
    "main.py": "python",
    "app.js": "javascript",
    "index.mjs": "javascript",
    "types.ts": "typescript",
    "View.tsx": "typescript",
    "Main.java": "java",
    "util.c": "c",
    "util.h": "c",
    "engine.cpp": "cpp",
    "engine.hpp": "cpp",
    "Program.cs": "csharp",
    "main.go": "go",
    "lib.rs": "rust",
    "schema.sql": "sql",
    "build.sh": "bash",
    "index.html": "html",
    "site.css": "css",
    "README.md": "markdown",
    "package.json": "json",
    "config.yaml": "yaml",
    "ci.yml": "yaml",
    "pyproject.toml": "toml",
    "notes.txt": "plaintext",
}


def test_all_required_languages_exist_with_a_real_lexer():
    for language_id in REQUIRED:
        language = LANGUAGES[language_id]
        assert language.id == language_id
        assert get_lexer_by_name(language.lexer) is not None


@pytest.mark.parametrize(("file_name", "language_id"), sorted(BY_EXTENSION.items()))
def test_detects_language_by_extension(file_name, language_id):
    assert language_for_path(file_name).id == language_id
    assert language_for_path(Path("some/folder") / file_name).id == language_id


def test_extension_match_ignores_case():
    assert language_for_path("SCRIPT.PY").id == "python"
    assert language_for_path("Main.JAVA").id == "java"


@pytest.mark.parametrize(
    ("file_name", "language_id"),
    [
        ("Makefile", "makefile"),
        ("GNUmakefile", "makefile"),
        ("Dockerfile", "dockerfile"),
        ("Dockerfile.dev", "dockerfile"),
        (".bashrc", "bash"),
        ("/home/me/.zshrc", "bash"),
    ],
)
def test_detects_well_known_file_names(file_name, language_id):
    assert language_for_path(file_name).id == language_id


@pytest.mark.parametrize("file_name", ["LICENSE", "archive.xyz", ".gitignore", "", "folder/"])
def test_unknown_files_are_plain_text(file_name):
    assert language_for_path(file_name).id == "plaintext"


def test_language_by_id():
    assert language_by_id("rust") is LANGUAGES["rust"]
    assert language_by_id("Python") is LANGUAGES["python"]
    assert language_by_id("no-such-language").id == "plaintext"


def test_indentation_conventions():
    assert LANGUAGES["python"].tab_width == 4 and LANGUAGES["python"].insert_spaces
    for language_id in ("javascript", "typescript", "html", "css", "json", "yaml"):
        assert LANGUAGES[language_id].tab_width == 2, language_id
    assert not LANGUAGES["go"].insert_spaces
    assert LANGUAGES["go"].indent_unit == "\t"


def test_language_is_frozen():
    with pytest.raises(AttributeError):
        LANGUAGES["python"].tab_width = 8  # type: ignore[misc]
    assert isinstance(LANGUAGES["c"], Language)


@pytest.mark.parametrize(
    ("language_id", "line", "expected"),
    [
        ("python", "def f():", "    "),
        ("python", "    def f():", "        "),
        ("python", "    if ready:  # check first", "        "),
        ("python", "    return x", "    "),
        ("python", "\tx = 1", "\t"),
        ("python", "items = [", "    "),
        ("c", "int main(void) {", "    "),
        ("c", "    if (x) {", "        "),
        ("c", "    x++;", "    "),
        ("c", "    call(   // arguments below", "        "),
        ("go", "func main() {", "\t"),
        ("go", "\tfor i := range xs {", "\t\t"),
        ("go", "\tfmt.Println(i)", "\t"),
        ("javascript", "function f() {", "  "),
        ("bash", "if [ -f x ]; then", "    "),
        ("bash", "undo", ""),
        ("yaml", "services:", "  "),
        ("plaintext", "   some text:", "   "),
        ("python", "", ""),
        ("python", "        ", "        "),
        ("python", "def f():\n", "    "),
    ],
)
def test_next_line_indent(language_id, line, expected):
    assert next_line_indent(LANGUAGES[language_id], line) == expected


def test_next_line_indent_never_raises():
    assert next_line_indent(LANGUAGES["python"], None) == ""  # type: ignore[arg-type]
