"""Rendering chat answers (Markdown) to QTextBrowser HTML and to plain text."""

from __future__ import annotations

import re

import pytest

from app.core.markdown.highlight import warm_up
from app.core.markdown.plain import plain_text
from app.core.markdown.render import CodeBlock, RenderedMarkdown, render
from tests.core.markdown.html_tags import parsed


def tag_names(html: str) -> list[str]:
    return [name for name, _ in parsed(html).tags]


def text_of(html: str) -> str:
    return "".join(parsed(html).text)


def hrefs(html: str) -> list[str]:
    return [attrs.get("href") for name, attrs in parsed(html).tags if name == "a"]


def body(markdown: str, **kwargs) -> str:
    return render(markdown, **kwargs).html


# --- blocks -----------------------------------------------------------------


def test_result_type_and_empty_input():
    result = render("")
    assert isinstance(result, RenderedMarkdown)
    assert result == RenderedMarkdown("", ())
    with pytest.raises(AttributeError):
        result.html = "x"  # frozen


@pytest.mark.parametrize("level", range(1, 7))
def test_atx_headings(level):
    html = body("#" * level + " Title *here* ##")
    assert re.fullmatch(rf"<h{level}>Title <em>here</em></h{level}>", html)


def test_hash_without_space_is_not_a_heading():
    assert "<h1>" not in body("#hashtag")
    assert "#hashtag" in body("#hashtag")


def test_setext_heading():
    assert body("Title\n=====") == "<h1>Title</h1>"


def test_paragraphs_split_on_blank_lines_and_keep_single_line_breaks():
    html = body("one\ntwo\n\nthree")
    assert html.count("<p") == 2
    assert "one<br>two" in html
    assert "three</p>" in html


def test_trailing_backslash_is_a_line_break_not_text():
    html = body("one\\\ntwo")
    assert "one<br>two" in html
    assert "\\" not in html


def test_emphasis_and_strong():
    html = body("*a* _b_ **c** __d__ ***e*** ~~f~~")
    assert "<em>a</em>" in html and "<em>b</em>" in html
    assert "<strong>c</strong>" in html and "<strong>d</strong>" in html
    assert re.search(r"<(em|strong)><(em|strong)>e</\2></\1>", html)
    assert "<s>f</s>" in html


def test_nested_emphasis_is_well_nested():
    html = body("**bold *both* bold** and *it **both** it*")
    assert "<strong>bold <em>both</em> bold</strong>" in html
    assert "<em>it <strong>both</strong> it</em>" in html


@pytest.mark.parametrize(
    "text",
    [
        "snake_case_name and other_name",
        "2 * 3 * 4",
        "a ** b",
        "**unclosed bold",
        "file_*.py",
    ],
)
def test_text_that_is_not_emphasis(text):
    html = body(text)
    assert "<em>" not in html and "<strong>" not in html
    assert text_of(html) == text


def test_backslash_escapes_markers():
    assert text_of(body(r"\*not em\* and \_x\_ and \`y\`")) == "*not em* and _x_ and `y`"


def test_inline_code_is_monospace_with_background_and_not_parsed():
    html = body("Use `a*b*c` and `__init__` or `<b>&`.")
    code = [attrs for name, attrs in parsed(html).tags if name == "code"]
    assert len(code) == 3
    assert all("background-color" in attrs["style"] for attrs in code)
    assert "<em>" not in html and "<strong>" not in html
    assert ">a*b*c</code>" in html
    assert ">__init__</code>" in html
    assert ">&lt;b&gt;&amp;</code>" in html


def test_inline_code_with_longer_backtick_runs():
    html = body("`` a `tick` ``")
    assert ">a `tick`</code>" in html


def test_links_render_text_with_href():
    html = body("See [the *docs*](https://example.com/a_(b)?q=1&r=2) and [mail](mailto:a@b.c).")
    assert hrefs(html) == ["https://example.com/a_(b)?q=1&r=2", "mailto:a@b.c"]
    assert "the <em>docs</em></a>" in html
    assert 'href="https://example.com/a_(b)?q=1&amp;r=2"' in html


def test_autolinks_and_bare_urls():
    html = body("Go to <https://a.example/x> or https://b.example/y_z. Done")
    assert hrefs(html) == ["https://a.example/x", "https://b.example/y_z"]
    assert "</a>. Done" in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "fimble:copy/0",
        "vbscript:x",
        "/relative/path",
    ],
)
def test_links_with_other_schemes_stay_plain_text(url):
    html = body(f"[x]({url})")
    assert hrefs(html) == []
    assert text_of(html) == f"[x]({url})"


def test_bullet_lists_with_every_marker():
    for marker in "-*+":
        html = body(f"{marker} one\n{marker} two")
        assert tag_names(html) == ["ul", "li", "li"]
        assert ">one</li><li>two</li>" in html


def test_numbered_list_keeps_its_start():
    assert tag_names(body("1. a\n2. b")) == ["ol", "li", "li"]
    html = body("3. c\n4. d")
    assert 'start="3"' in html


def test_nested_lists_by_indentation():
    markdown = "- top\n  - second\n    - third\n  - second again\n- top again\n1. n\n   - mixed"
    tags = tag_names(body(markdown))
    assert tags == ["ul", "li", "ul", "li", "ul", "li", "li", "li", "ol", "li", "ul", "li"]
    html = body(markdown)
    assert "top<ul" in html and "second<ul" in html
    # Deeper bullets change their marker so levels stay distinguishable.
    assert re.findall(r"list-style-type:(\w+)", html)[:3] == ["disc", "circle", "square"]


def test_four_space_nesting_and_loose_items():
    html = body("* a\n    * b\n\n* c\n\n  more about c")
    assert tag_names(html) == ["ul", "li", "ul", "li", "li", "p"]
    assert "more about c" in html


def test_list_item_holding_a_code_block():
    result = render("1. Install:\n   ```bash\n   pip install x\n   ```\n2. Run")
    assert result.code_blocks == (CodeBlock(0, "bash", "pip install x"),)
    assert result.html.count("<li>") == 2


def test_list_item_code_block_with_unindented_lines_stays_in_the_item():
    result = render("1. Do:\n   ```py\nx = 1\n\ny = 2\n   ```\n2. Next")
    assert result.code_blocks == (CodeBlock(0, "py", "x = 1\n\ny = 2"),)
    assert result.html.count("<li>") == 2 and result.html.count("<ol") == 1


def test_indented_fence_outside_a_list():
    result = render("Here:\n\n    ```python\n    x = 1\n      y\n    ```\nafter")
    assert result.code_blocks == (CodeBlock(0, "python", "x = 1\n  y"),)
    assert "after</p>" in result.html


def test_code_block_inside_a_quote():
    result = render("> ```sh\n> ls -l\n> ```")
    assert result.code_blocks == (CodeBlock(0, "sh", "ls -l"),)


def test_block_quote():
    html = body("> quoted *text*\n> - item\n\nafter")
    assert "quoted <em>text</em>" in html
    assert "<li>item</li>" in html
    assert ">" not in text_of(html)
    assert html.index("item") < html.index("after")


@pytest.mark.parametrize("rule", ["---", "***", "___", "- - -", " * * *"])
def test_horizontal_rules(rule):
    assert body(f"above\n\n{rule}\n\nbelow").count("<hr>") == 1


def test_table_with_alignment():
    markdown = "| Name | Left | Mid | Right |\n|----|:---|:--:|---:|\n| a | **b** | c | 1 |"
    html = body(markdown)
    tags = parsed(html).tags
    headers = [attrs.get("align") for name, attrs in tags if name == "th"]
    cells = [attrs.get("align") for name, attrs in tags if name == "td"]
    assert headers == ["left", "left", "center", "right"]
    assert cells == [None, "left", "center", "right"]
    assert "<strong>b</strong>" in html
    assert "|" not in text_of(html)


def test_table_pipes_inside_code_and_escaped_pipes_stay_in_the_cell():
    html = body("| a | b |\n|---|---|\n| `x || y` | p \\| q |")
    assert ">x || y</code>" in html
    assert "p | q" in html
    assert html.count("<td") == 2


def test_table_needs_matching_delimiter_row():
    html = body("a | b | c\n---|---")
    assert "<table" not in html


# --- code blocks ------------------------------------------------------------


def test_code_blocks_are_extracted_exactly():
    code_a = "def f():  \n    return 1   \n\n\n    # end"
    code_b = "\tint x;\n\n"
    markdown = (
        f"Intro\n\n```python\n{code_a}\n```\n\ntext\n\n"
        f"~~~c++ extra info\n{code_b}\n~~~\n\n"
        "````\n```\nnested fence\n```\n````"
    )
    result = render(markdown)
    assert result.code_blocks == (
        CodeBlock(0, "python", code_a),
        CodeBlock(1, "c++", code_b),
        CodeBlock(2, "", "```\nnested fence\n```"),
    )


def test_code_block_action_links_and_language_header():
    html = body("```py\nx = 1\n```\n\n```js\nlet y;\n```")
    assert hrefs(html) == [
        "fimble:copy/0",
        "fimble:insert/0",
        "fimble:open/0",
        "fimble:copy/1",
        "fimble:insert/1",
        "fimble:open/1",
    ]
    assert ">Copy</a>" in html and ">Insert at cursor</a>" in html
    assert ">Open in new tab</a>" in html
    assert ">py</td>" in html and ">js</td>" in html


def test_code_actions_can_be_turned_off():
    result = render("```py\nx = 1\n```", code_actions=False)
    assert hrefs(result.html) == []
    assert len(result.code_blocks) == 1


def test_code_block_structure_for_qtextbrowser():
    html = body("```python\nx = 1\n```")
    tags = parsed(html).tags
    table = next(attrs for name, attrs in tags if name == "table")
    assert table["width"] == "100%" and table["bgcolor"].startswith("#")
    assert "pre" in [name for name, _ in tags]
    assert "class" not in html


def test_code_is_highlighted_by_language():
    html = body("```python\ndef f():\n    return 'x'\n```")
    assert '<span style="' in html
    assert text_of(html).endswith("def f():\n    return 'x'")


def test_unknown_language_renders_plain():
    html = body("```nosuchlang\na < b\n```")
    assert "<span" not in html.split("<pre")[1]
    assert "a &lt; b</pre>" in html


def test_short_block_without_language_is_not_guessed():
    html = body("```\nimport os\n```")
    assert "import os</pre>" in html


def test_longer_block_without_language_is_guessed():
    code = '#include <stdio.h>\nint main(void) {\n    printf("hi");\n    return 0;\n}'
    html = body(f"```\n{code}\n```")
    pre = html.split("<pre", 1)[1]
    assert "<span" in pre
    assert text_of(html).endswith(code)


def test_warm_up_runs_and_changes_nothing():
    before = render("```\na = 1\nb = 2\nc = 3\nd = 4\n```")
    warm_up()
    assert render("```\na = 1\nb = 2\nc = 3\nd = 4\n```") == before


def test_unterminated_fence_runs_to_the_end():
    result = render("Before\n\n```python\ndef f():\n    return 1\n\n# still code")
    code = "def f():\n    return 1\n\n# still code"
    assert result.code_blocks == (CodeBlock(0, "python", code),)
    assert "# still code" in text_of(result.html)
    assert result.html.rstrip().endswith("</table>")


def test_unterminated_fence_ignores_the_final_line_break():
    result = render("```js\nlet a = 1;\n")
    assert result.code_blocks[0].code == "let a = 1;"


def test_markdown_inside_code_blocks_is_not_interpreted():
    result = render("```\n# not a heading\n- not a list\n**not bold**\n```")
    assert "<h1>" not in result.html and "<li>" not in result.html
    assert "<strong>" not in result.html
    assert result.code_blocks[0].code == "# not a heading\n- not a list\n**not bold**"


def test_dark_changes_colours():
    markdown = "`x` [l](https://a.b)\n\n```python\ndef f(): pass\n```\n\n| a |\n|---|\n| b |"
    light, dark = body(markdown), body(markdown, dark=True)
    assert light != dark
    colours = lambda html: set(re.findall(r"#[0-9a-fA-F]{3,6}\b", html))  # noqa: E731
    assert colours(light) != colours(dark)
    assert 'bgcolor="#272822"' in dark  # monokai's background
    assert text_of(light) == text_of(dark)


# --- untrusted input --------------------------------------------------------


def test_raw_html_is_shown_as_text():
    markdown = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "*<b>bold?</b>* and `<i>` and [<u>x</u>](https://a.b)"
    )
    html = body(markdown)
    names = tag_names(html)
    assert not {"script", "img", "b", "i", "u"} & set(names)
    text = text_of(html)
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(1)>" in text
    assert "<b>bold?</b>" in text and "<u>x</u>" in text


@pytest.mark.parametrize(
    "markdown",
    [
        '[x](http://a" onmouseover="x)',
        '[x](https://a.b/"onmouseover="alert(1))',
        '<https://a.b/"onmouseover="x>',
        'https://a.b/x"onmouseover="y',
        "[x](https://a.b/'onmouseover='x)",
        '| "a" | b |\n|---|---|\n| c | d\' |',
        '```py"onmouseover="x\ncode\n```',
    ],
)
def test_attribute_injection_is_escaped(markdown):
    html = body(markdown)
    for name, attrs in parsed(html).tags:
        assert "onmouseover" not in attrs, (name, attrs)
        if name == "a":
            assert set(attrs) == {"href", "style"}
            assert attrs["href"].startswith(("http://", "https://", "fimble:"))
    assert 'onmouseover="' not in html and "onmouseover='" not in html


def test_code_blocks_escape_everything():
    html = body("```html\n<script>alert('x' & \"y\")</script>\n```")
    pre = html.split("<pre", 1)[1].split(">", 1)[1]
    assert "<script" not in pre
    outside_tags = re.sub(r"<[^>]*>", "", pre)
    assert "'" not in outside_tags and '"' not in outside_tags
    assert "<script>alert('x' & \"y\")</script>" in text_of(html)


def test_nul_characters_cannot_forge_placeholders():
    html = body("a \x000\x00 `code` b")
    assert "<code" in html and html.count("<code") == 1
    assert "\x00" not in html


# --- plain text -------------------------------------------------------------


def test_plain_text_removes_markers_and_keeps_code_verbatim():
    markdown = (
        "## Title\n\nSome **bold** and `code` and [docs](https://d.io) and <https://e.io>.\n"
        "Line two.\n\n- a\n  - b\n1. one\n2. two\n\n> quoted\n\n---\n\n"
        "| h1 | h2 |\n|:--|--:|\n| c1 | c2 |\n\n```python\n  x = 1  \n\n# **not bold**\n```"
    )
    assert plain_text(markdown) == (
        "Title\n\nSome bold and code and docs (https://d.io) and https://e.io.\nLine two.\n\n"
        "• a\n  • b\n\n1. one\n2. two\n\nquoted\n\nh1\th2\nc1\tc2\n\n"
        "  x = 1  \n\n# **not bold**"
    )


def test_plain_text_keeps_raw_html_and_unsafe_links_as_written():
    assert plain_text("<b>x</b> [y](javascript:z)") == "<b>x</b> [y](javascript:z)"
