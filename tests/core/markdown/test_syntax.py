"""GitHub-flavoured syntax and untrusted input in chat answers, beyond the renderer's basics."""

from __future__ import annotations

import pytest

from app.core.markdown.plain import plain_text
from app.core.markdown.render import CodeBlock, render
from tests.core.markdown.html_tags import parsed

# Every tag the renderer may write: Qt's rich-text subset, nothing that loads or runs anything.
QT_TAGS = {"p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "s", "code", "a", "hr",
           "ul", "ol", "li", "table", "tr", "th", "td", "pre", "span"}  # fmt: skip


def anchors(html: str) -> list[dict[str, str | None]]:
    return [attrs for name, attrs in parsed(html).tags if name == "a"]


def text_of(html: str) -> str:
    return "".join(parsed(html).text)


# --- tables -------------------------------------------------------------------


def test_table_rows_are_padded_and_trimmed_to_the_header():
    html = render("| a | b | c |\n|---|---|---|\n| 1 |\n| 1 | 2 | 3 | 4 |").html
    rows = html.split("<tr>")[1:]
    assert [row.count("<th") for row in rows] == [3, 0, 0]
    assert [row.count("<td") for row in rows] == [0, 3, 3]
    assert "4" not in text_of(html)


def test_table_without_outer_pipes_and_with_inline_markup():
    html = render("Name | Link\n--- | ---\n`x` | [docs](https://d.example) ~~old~~").html
    assert html.count("<th") == 2 and html.count("<td") == 2
    assert ">x</code>" in html and "<s>old</s>" in html
    assert [a["href"] for a in anchors(html)] == ["https://d.example"]


def test_table_ends_at_a_blank_line():
    html = render("| a |\n|---|\n| 1 |\n\n| not a row |").html
    assert html.count("<td") == 1
    assert "| not a row |</p>" in html


def test_table_in_plain_text_is_tab_separated():
    assert plain_text("| a | **b** |\n|---|---|\n| `c` | d |") == "a\tb\nc\td"


# --- strikethrough ------------------------------------------------------------


def test_strikethrough_needs_two_tildes():
    html = render("~~gone~~ and ~one~").html
    assert html.count("<s>") == 1 and "<s>gone</s>" in html
    assert "~one~" in text_of(html)


def test_strikethrough_nests_with_emphasis_and_is_plain_in_plain_text():
    html = render("~~**bold** gone~~").html
    assert "<s><strong>bold</strong> gone</s>" in html
    assert plain_text("~~**bold** gone~~") == "bold gone"


# --- autolinks ----------------------------------------------------------------


def test_angle_bracket_autolinks_for_urls_and_emails():
    html = render("<https://a.example/x?y=1&z=2> and <mailto:me@b.example> and <me@c.example>").html
    assert [a["href"] for a in anchors(html)] == [
        "https://a.example/x?y=1&z=2",
        "mailto:me@b.example",
        "mailto:me@c.example",
    ]
    assert "me@c.example</a>" in html


def test_bare_urls_become_links_without_trailing_punctuation():
    html = render("See https://a.example/p_(q), or (https://b.example/r).").html
    assert [a["href"] for a in anchors(html)] == ["https://a.example/p_(q)", "https://b.example/r"]
    assert text_of(html) == "See https://a.example/p_(q), or (https://b.example/r)."


@pytest.mark.parametrize(
    "markdown",
    [
        "www.example.com",
        "example.com/path",
        "write to me@example.com",
        "ftp://files.example/x",
        "`https://in.code/span`",
        "```\nhttps://in.code/block\n```",
    ],
)
def test_text_that_does_not_become_a_link(markdown):
    html = render(markdown, code_actions=False).html
    assert anchors(html) == []


def test_a_link_label_holding_a_url_is_not_linked_twice():
    html = render("[https://shown.example](https://target.example)").html
    assert [a["href"] for a in anchors(html)] == ["https://target.example"]
    assert html.count("<a ") == 1


def test_autolinks_in_plain_text_are_just_the_url():
    assert plain_text("<https://a.example> or https://b.example.") == "https://a.example or https://b.example."


# --- raw HTML -----------------------------------------------------------------


@pytest.mark.parametrize(
    "markdown",
    [
        '<div onclick="alert(1)">\n<b>block</b>\n</div>',
        '<iframe src="https://evil.example"></iframe>',
        "text <span style='color:red'>inline</span> <!-- comment --> <?php x ?> <![CDATA[x]]>",
        "<a href='javascript:alert(1)'>click</a>",
        "<img src=https://tracker.example/pixel.png>",
        "&lt;script&gt;alert(1)&lt;/script&gt; &#60;b&#62;",
        "> <style>body{display:none}</style>\n- <script>x</script>",
    ],
)
def test_raw_html_never_passes_through(markdown):
    html = render(markdown).html
    names = {name for name, _ in parsed(html).tags}
    assert names <= QT_TAGS
    # Only a URL in the markup's text may become a link.
    assert all(a["href"].startswith("https://") and set(a) == {"href", "style"} for a in anchors(html))
    assert "<" in text_of(html)  # the markup shows as text


def test_raw_html_is_shown_exactly_as_written():
    markdown = '<div onclick="alert(1)">\n<b>block</b>\n</div>'
    assert text_of(render(markdown).html) == markdown.replace("\n", "")
    assert plain_text(markdown) == markdown


# --- unsafe links -------------------------------------------------------------


@pytest.mark.parametrize(
    "markdown",
    [
        "[x](javascript:alert(1))",
        "[x]( JAVASCRIPT:alert(1) )",
        "[x](&#106;avascript:alert(1))",
        "[x](java%73cript:alert(1))",
        "<javascript:alert(1)>",
        "![x](javascript:alert(1))",
        "[x][r]\n\n[r]: javascript:alert(1)",
        "[x](vbscript:msgbox(1)) [y](data:text/html;base64,PHNjcmlwdD4=) [z](file:///etc/passwd)",
        "javascript:alert(1) and javascript://%0aalert(1)",
        "[x](//evil.example/a) [y](#top) [z](?q=1)",
    ],
)
def test_only_http_https_and_mailto_links_become_anchors(markdown):
    html = render(markdown).html
    assert anchors(html) == []
    assert "href" not in html


def test_images_become_links_and_nothing_is_loaded():
    html = render("![a *diagram*](https://img.example/d.png)").html
    assert "<img" not in html
    assert [a["href"] for a in anchors(html)] == ["https://img.example/d.png"]
    assert "a <em>diagram</em></a>" in html


# --- unclosed fences (streaming) ----------------------------------------------

ANSWER = (
    "Steps:\n\n1. Install:\n   ```bash\n   pip install x\n   ```\n2. Code:\n\n"
    "```python\ndef f():\n    return 1\n```\n\n> ```sh\n> ls\n> ```\n\nDone `x` ~~y~~ | a |\n"
)


def test_every_streamed_prefix_renders_and_its_code_blocks_grow_into_the_final_ones():
    final = render(ANSWER).code_blocks
    assert [block.language for block in final] == ["bash", "python", "sh"]
    for end in range(len(ANSWER) + 1):
        blocks = render(ANSWER[:end]).code_blocks
        assert len(blocks) <= len(final), end
        for block, done in zip(blocks, final[: len(blocks)], strict=True):
            assert block.index == done.index
            # A half-written closing fence is code until its line is complete.
            assert done.code.startswith(block.code.rstrip("`\n ")), (end, block)


def test_unclosed_fence_runs_to_the_end_of_the_answer_with_everything_after_it():
    result = render("Intro\n\n~~~~rust\nfn main() {}\n~~~\n\n# not a heading\n| not | a table |")
    assert result.code_blocks == (CodeBlock(0, "rust", "fn main() {}\n~~~\n\n# not a heading\n| not | a table |"),)
    assert "<h1>" not in result.html and "<th" not in result.html
    assert result.html.endswith("</table>")


def test_unclosed_fence_in_a_list_item_runs_to_the_end():
    result = render("- step:\n  ```py\n  x = 1\ny = 2\n- not an item")
    assert result.code_blocks == (CodeBlock(0, "py", "x = 1\ny = 2\n- not an item"),)
    assert result.html.count("<li>") == 1


def test_unclosed_fence_in_a_quote_ends_with_the_quote():
    result = render("> ```sh\n> ls\n\nafter")
    assert result.code_blocks == (CodeBlock(0, "sh", "ls"),)
    assert "after</p>" in result.html


def test_only_qt_tags_and_no_classes_in_a_full_answer():
    html = render(ANSWER + "\n# H\n\n---\n\n| a |\n|:-:|\n| b |\n\n* x\n  1. y\n").html
    names = {name for name, _ in parsed(html).tags}
    assert names <= QT_TAGS
    assert {"ol", "ul", "li", "pre", "table", "th", "td", "code", "s", "hr", "h1"} <= names
    assert "class=" not in html


DEEP_LIST = "".join("  " * depth + f"- item{depth}\n" for depth in range(40)) + "\nafter"


@pytest.mark.parametrize(
    ("markdown", "words"),
    [
        (">" * 40 + " deepest *words*\n\nafter", ["deepest words"]),
        (DEEP_LIST, [f"item{depth}" for depth in range(40)]),
    ],
)
def test_nesting_past_the_limit_keeps_its_text(markdown, words):
    text, plain = text_of(render(markdown).html), plain_text(markdown)
    assert all(word in text and word in plain for word in words)
    assert text.endswith("after") and plain.endswith("after")
