"""Post-processing of FIM suggestions and splitting them for partial accepts."""

import pytest

from app.core.fim.post import accept_line, accept_word, consume_typed, postprocess, wants_multiline


@pytest.mark.parametrize(
    "suffix, expected",
    [
        ("", True),
        ("\nmore", True),
        ("   \nmore", True),
        ("\t\n", True),
        (")\n", False),
        ("foo", False),
        ("  x = 1\n", False),
    ],
)
def test_wants_multiline_looks_at_the_rest_of_the_cursor_line(suffix, expected):
    assert wants_multiline("def f():\n    ", suffix) is expected


def test_function_body_stops_before_a_dedented_def():
    prefix = "def area(r):\n    "
    text = "pi = 3.14159\n    return pi * r * r\n\ndef perimeter(r):\n    return 2 * r"
    assert postprocess(text, prefix, "\n") == "pi = 3.14159\n    return pi * r * r"


def test_same_or_deeper_indent_is_kept():
    prefix = "for x in xs:\n    "
    text = "if x:\n        print(x)\n    total += x"
    assert postprocess(text, prefix, "") == text


def test_indent_comes_from_a_non_blank_cursor_line():
    prefix = "class A:\n    def f(self):\n        x = "
    text = "1\n        y = 2\n    def g(self):\n        pass"
    assert postprocess(text, prefix, "\n") == "1\n        y = 2"


def test_first_line_is_never_cut_for_its_indent():
    # The first line continues the cursor line, so its own indent does not matter.
    assert postprocess("x\n    y", "    ", "") == "x\n    y"


def test_tabs_count_as_indentation():
    prefix = "if a:\n\t"
    assert postprocess("b()\n\tc()\nd()", prefix, "") == "b()\n\tc()"


def test_trailing_blank_lines_are_cut():
    assert postprocess("return 1\n\n   \n", "def f():\n    ", "") == "return 1"


def test_leading_newline_is_kept_in_block_mode():
    prefix = "def f():"
    assert postprocess("\n    return 1\n", prefix, "") == "\n    return 1"


def test_single_line_mode_cuts_at_the_first_newline():
    assert postprocess("a, b\n    more()", "call(", ")\n", multiline=False) == "a, b"
    # None picks single-line mode from the suffix: text follows the cursor.
    assert postprocess("a, b\n    more()", "call(", ")\n") == "a, b"


def test_forced_multiline_mode_keeps_lines():
    assert postprocess("a\nb", "", "x", multiline=True) == "a\nb"


def test_suggestion_repeating_the_suffix_start_is_dropped():
    assert postprocess("return x", "def f(x):\n    ", "\n    return x\n") == ""
    assert postprocess("  )", "f(a", ")") == ""


def test_trailing_lines_repeating_the_suffix_are_trimmed():
    prefix = "function f() {\n  "
    text = "const a = 1;\n  return a;\n}"
    suffix = "\n}\n\nfunction g() {}\n"
    assert postprocess(text, prefix, suffix) == "const a = 1;\n  return a;"


def test_several_repeated_lines_are_trimmed():
    prefix = "x = 1\n"
    text = "y = 2\nz = 3\nprint(x)"
    suffix = "\nz = 3\nprint(x)\n"
    assert postprocess(text, prefix, suffix) == "y = 2"


def test_overlap_with_the_closing_paren_is_trimmed():
    assert postprocess("foo)", "print(", ")\n") == "foo"
    assert postprocess("a, b)", "f(", ")  \nnext") == "a, b"


def test_overlap_with_the_whole_rest_of_the_line_is_trimmed():
    assert postprocess("x + 1):", "if (", "):\n") == "x + 1"


def test_partial_overlap_only_for_closing_characters():
    # The rest of the line starts with "):"; the suggestion ends with ")" only.
    assert postprocess("x)", "if (", "):\n") == "x"
    assert postprocess('hello"', 'print("', '")\n') == "hello"
    # A word character is never trimmed as a partial overlap.
    assert postprocess("a + b", "x = ", "b + c\n") == "a + b"


def test_overlap_is_kept_when_the_suggestion_closes_its_own_brackets():
    # "print(f(x))": the suggestion's ")" closes its own "(", the suffix's closes print(.
    assert postprocess("f(x)", "print(", ")\n") == "f(x)"
    assert postprocess("x)", "f(g(", "):\n") == "x)"
    assert postprocess("(a + b)", "x = abs(", ")\n") == "(a + b)"
    # Brackets opened on earlier lines count too.
    assert postprocess("b)", "call(\n    a,\n    ", ")\n") == "b"


def test_whitespace_only_results_are_empty():
    assert postprocess("   ", "x = ", "") == ""
    assert postprocess("\n\n  \n", "def f():\n    ", "") == ""
    assert postprocess("\nfoo", "f(", ")") == ""


@pytest.mark.parametrize(
    "ghost, accepted, rest",
    [
        ("foo(bar)", "foo", "(bar)"),
        ("  return x", "  return", " x"),
        (".append(item)", ".append", "(item)"),
        ("(a, b)", "(a", ", b)"),
        ("))", "))", ""),
        ("\n    pass", "\n    pass", ""),
        ("", "", ""),
    ],
)
def test_accept_word(ghost, accepted, rest):
    assert accept_word(ghost) == (accepted, rest)


@pytest.mark.parametrize(
    "ghost, accepted, rest",
    [
        ("a = 1\nb = 2\n", "a = 1\n", "b = 2\n"),
        ("a = 1", "a = 1", ""),
        ("\n    x = 1\n    y = 2", "\n    x = 1\n", "    y = 2"),
        ("\n    x = 1", "\n    x = 1", ""),
        ("", "", ""),
    ],
)
def test_accept_line(ghost, accepted, rest):
    assert accept_line(ghost) == (accepted, rest)


def test_consume_typed():
    assert consume_typed("return x", "r") == "eturn x"
    assert consume_typed("return x", "retu") == "rn x"
    assert consume_typed("return x", "return x") == ""
    assert consume_typed("return x", "x") is None
    assert consume_typed("return x", "") is None
    assert consume_typed("ab", "abc") is None
