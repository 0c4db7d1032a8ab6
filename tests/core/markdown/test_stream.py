"""The streaming renderer gives exactly what a full render gives, at every step of a stream."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from app.core.markdown.render import render
from app.core.markdown.stream import StreamingRender
from bench.markdown import answer

# Texts where a growing line changes blocks before it, or a later line changes earlier ones.
TRICKY = [
    "1. first\n\n2. second\n\n3. third, now a loose list\n\nAfter the list.\n",
    "- a\n\n-\n\n- c\n\n  continued item\n\nend",
    "Some prose\n#x is not a heading\n# but this is\ntext\n***not a rule\n***\n",
    "Intro paragraph\n| a | b |\n|---|---|x\n| 1 | 2 |\n\n| a | b |\n|---|---|\n| 1 | 2 |\nlazy row\n\nafter",
    "Title\n=====\n\nSub\n---\n\nparagraph\n---\n\n- item\n---\n",
    "> quoted\nlazy continuation\n\n> second quote\n> > nested\n\nout\n",
    "1. step\n   ```python\n   x = 1\n  y = 2\n   ```\n2. next\n\n```\nopen fence to the end\n\n\n",
    "See [the docs][d] and [x].\n\nMore text.\n\n[d]: https://d.example\n[x]: https://x.example 'title'\n",
    "Para one\r\nstill one\r\n\r\n```js\r\nlet a = 1;\r\n```\r\n\r\n| `a || b` | c |\r\n|---|---|\r\n| 1 | 2 |\r\n",
    "* a\n    * b\n        * c\n\n     text\n\n```\ncode\n```\n\n---\n\n1) one\n2) two\n\n\n\nend\n",
    "Before\n\n```\n\n```\n~~~\nthe same\n~~~~\n\n``` python\nprint(1)\n",
    "text with a trailing backslash\\\nnext\n\ntext with two spaces  \nnext\n\n<b>html</b> stays text\n",
]


# Lines whose meaning depends on the lines around them, for random small documents.
LINES = ["text", "more *words*", "", "", "#", "# h", "#x", "***", "***x", "---", "===", "- a", "-", "* b",
         "  - nested", "    deep", "1. one", "2.", "2. two", "1) x", "> q", ">", "> > qq", "| a | b |", "|---|---|",
         "|---|---|x", "| 1 | 2 |", "```", "```py", "~~~", "   ```", "code = 1", "  indented", "`a|b`",
         "| `a|b` | c |", "|:-|-:|-|", "\t- tab", "x  ", "y\\", "10. ten", "   > q in list", "+ plus"]  # fmt: skip


def _test_inputs() -> list[str]:
    """Every string literal in the renderer's own tests: the cases they were written for."""
    found: set[str] = set()
    for name in ("test_html.py", "test_syntax.py"):
        tree = ast.parse((Path(__file__).parent / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
                found.add(node.value)
    return sorted(found)


def _stream(text: str, seed: int, largest: int, **options: bool) -> StreamingRender:
    """Feed ``text`` in random-sized chunks; at every step the result must equal a full render."""
    rng = random.Random(seed)
    streaming = StreamingRender()
    end = 0
    while end < len(text):
        end = min(len(text), end + rng.randint(1, largest))
        so_far = text[:end]
        assert streaming.render(so_far, **options) == render(so_far, **options), (seed, end, so_far[-60:])
    return streaming


@pytest.mark.parametrize("text", TRICKY)
def test_every_prefix_of_tricky_texts_renders_as_a_whole(text):
    _stream(text, seed=0, largest=1)  # one character at a time: every prefix
    _stream(text, seed=1, largest=7, dark=True, code_actions=False)


def test_random_small_documents_streamed_a_few_characters_at_a_time():
    for seed in range(150):
        rng = random.Random(seed)
        text = "\n".join(rng.choice(LINES) for _ in range(rng.randint(3, 14)))
        _stream(text, seed=seed, largest=3)


def test_the_test_inputs_streamed_one_after_another():
    inputs = _test_inputs()
    assert len(inputs) > 50
    rng = random.Random(7)
    for seed in range(6):
        picked = rng.sample(inputs, 12)
        text = "".join(piece + rng.choice(["\n", "\n\n", "\n\n\n", ""]) for piece in picked)
        _stream(text, seed=seed, largest=3)
    for seed, text in enumerate(inputs):
        _stream(text, seed=seed, largest=4)


@pytest.mark.parametrize("seed", range(2))
def test_a_long_generated_answer_reuses_its_earlier_blocks(seed):
    text = answer(260)
    streaming = _stream(text, seed=seed, largest=40)
    assert streaming.full_renders <= 6  # only while the answer had a block or two; then its end only
    dark = _stream(text[:1500] + "\n\n[ref]: https://r.example\n\nand [ref].\n", seed=seed, largest=40, dark=True)
    assert dark.full_renders > 1  # a link reference definition makes it render everything


def test_a_changed_text_or_theme_renders_everything_again():
    streaming = StreamingRender()
    text = answer(120)
    streaming.render(text)
    assert streaming.full_renders == 1
    assert streaming.render(text, dark=True) == render(text, dark=True)
    assert streaming.full_renders == 2
    edited = text.replace("Step 1", "Step one")
    assert streaming.render(edited, dark=True) == render(edited, dark=True)
    assert streaming.full_renders == 3
    longer = edited + "\n\nMore.\n"
    assert streaming.render(longer, dark=True) == render(longer, dark=True)
    assert streaming.full_renders == 3
    code = [block.index for block in streaming.render(longer + "```sh\nls\n```\n", dark=True).code_blocks]
    assert code == list(range(len(code))) and len(code) > 1  # numbering continues after the kept blocks
