"""FIM layouts written as text into a completion prompt are found and taken apart."""

from __future__ import annotations

import pytest

from app.core.fim.text_layouts import split_fim_text

PREFIX, SUFFIX = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"


@pytest.mark.parametrize(
    "prompt",
    [
        f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>",  # CodeGemma
        f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>",  # StarCoder (a plugin's default)
        f"<PRE> {PREFIX} <SUF>{SUFFIX} <MID>",  # Code Llama, with its spaces
    ],
)
def test_each_known_layout_gives_back_the_prefix_and_suffix(prompt):
    assert split_fim_text(prompt) == (PREFIX, SUFFIX)


def test_text_around_the_layout_stays_with_the_prefix():
    prompt = f"# path: a.py\n<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>return"
    assert split_fim_text(prompt) == ("# path: a.py\n" + PREFIX + "return", SUFFIX)


@pytest.mark.parametrize(
    "prompt",
    [
        "def add(a, b):",  # plain text
        f"<|fim_suffix|>{SUFFIX}<|fim_prefix|>{PREFIX}<|fim_middle|>",  # another order
        f"<|fim_prefix|>{PREFIX}<|fim_middle|>",  # a marker missing
        "<|fim_prefix|>a<|fim_prefix|>b<|fim_suffix|>c<|fim_middle|>",  # a marker twice
    ],
)
def test_anything_else_is_not_a_layout(prompt):
    assert split_fim_text(prompt) is None
