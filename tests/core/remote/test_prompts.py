"""FIM prompts as text, neutralized user text, stop strings and leak trimming."""

from __future__ import annotations

import pytest

from app.core.generation.contracts import ChatMessage, ContextChunk
from app.core.generation.families import PromptError
from app.core.remote.prompts import (
    BREAK,
    control_strings,
    fim_text,
    fim_text_counted,
    neutralize,
    neutralize_messages,
    stop_strings,
    trim_leaked,
)

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"


def test_codegemma_psm_and_spm():
    assert fim_text("codegemma", PREFIX, SUFFIX) == f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
    assert fim_text("codegemma", PREFIX, SUFFIX, order="spm") == (
        f"<|fim_suffix|>{SUFFIX}<|fim_prefix|>{PREFIX}<|fim_middle|>"
    )


def test_codegemma_chunks_go_first_and_name_the_current_file():
    chunks = (ContextChunk("src/util.py", "def helper():\n    pass\n"),)
    prompt = fim_text("codegemma", "x = ", "", chunks, path="src/main.py")
    assert prompt == (
        "<|file_separator|>src/util.py\ndef helper():\n    pass\n"
        "<|file_separator|>src/main.py\n"
        "<|fim_prefix|>x = <|fim_suffix|><|fim_middle|>"
    )
    assert fim_text("codegemma", "a", "b", path="p.py").startswith("<|file_separator|>p.py\n<|fim_prefix|>a")


def test_codellama_layouts_leave_chunks_out():
    expected = f"<PRE> {PREFIX} <SUF>{SUFFIX} <MID>"
    assert fim_text("codellama", PREFIX, SUFFIX) == expected
    chunks = (ContextChunk("a.py", "x"),)
    assert fim_text("codellama", PREFIX, SUFFIX, chunks, path="b.py") == expected
    assert fim_text("codellama", "", "tail") == "<PRE> <SUF>tail <MID>"
    # Suffix first, as Code Llama's own infilling code writes it.
    assert fim_text("codellama", PREFIX, SUFFIX, chunks, order="spm") == f"<PRE> <SUF>{SUFFIX} <MID> {PREFIX}"


def test_codellama_vocabulary_spelling_for_llama_cpp_servers():
    prompt = fim_text("codellama", PREFIX, SUFFIX, vocab_spelling=True)
    assert prompt == f"\u2581<PRE>{PREFIX}\u2581<SUF>{SUFFIX}\u2581<MID>"
    tricky, count = fim_text_counted("codellama", "\u2581<PRE>", "", vocab_spelling=True)
    assert count == 1 and tricky.count("<PRE>") == 1
    # CodeGemma's markers are spelled the same everywhere
    assert fim_text("codegemma", "a", "b", vocab_spelling=True) == fim_text("codegemma", "a", "b")


@pytest.mark.parametrize("family", ["codegemma", "codellama"])
def test_prompt_never_starts_with_bos_text(family):
    prompt = fim_text(family, "<s><bos>code", "")
    assert not prompt.startswith(("<bos>", "<s>"))
    bos = "<bos>" if family == "codegemma" else "<s>"
    assert bos not in prompt and f"<{BREAK}{bos[1:]}" in prompt


def test_generic_and_unknown_families_are_refused():
    with pytest.raises(PromptError, match="known model family"):
        fim_text("generic", "a", "b")
    with pytest.raises(ValueError, match="unknown model family 'starcoder'"):
        fim_text("starcoder", "a", "b")
    with pytest.raises(ValueError, match="order"):
        fim_text("codegemma", "a", "b", order="mps")  # type: ignore[arg-type]


def test_user_markers_are_broken_and_counted_but_the_prompt_markers_stay():
    user_file = "s = '<|fim_middle|>'\n# [INST] not a turn <end_of_turn>\n"
    prompt, count = fim_text_counted("codegemma", user_file, "<|fim_prefix|>", (ContextChunk("c.txt", "<eos>"),))
    assert count == 4  # [INST] is no CodeGemma marker
    assert prompt.count("<|fim_middle|>") == 1 and prompt.endswith("<|fim_middle|>")
    assert prompt.count("<|fim_prefix|>") == 1 and prompt.count("<|fim_suffix|>") == 1
    assert prompt.count("<|file_separator|>") == 2  # the chunk's and the current file's
    assert f"<{BREAK}|fim_middle|>" in prompt and f"<{BREAK}end_of_turn>" in prompt and f"<{BREAK}eos>" in prompt

    prompt, count = fim_text_counted("codellama", user_file + "<PRE> </s>", "[/INST] <<SYS>>")
    assert count == 5
    assert f"[{BREAK}INST]" in prompt and f"[{BREAK}/INST]" in prompt and f"<{BREAK}<SYS>>" in prompt
    assert "<|fim_middle|>" in prompt  # not a Code Llama marker
    assert prompt.startswith("<PRE> ") and prompt.count("<PRE>") == 1 and prompt.endswith(" <MID>")


def test_neutralize_is_idempotent_and_keeps_plain_text():
    text = "a <|fim_prefix|> b [INST] c <</SYS>> d </s>"
    once, first = neutralize(text, "codellama")
    assert first == 3
    assert neutralize(once, "codellama") == (once, 0)
    assert once.replace(BREAK, "") == text
    assert neutralize("plain < text > [here]", "codegemma") == ("plain < text > [here]", 0)
    assert neutralize("", "codegemma") == ("", 0)


def test_neutralize_breaks_a_marker_as_a_whole():
    broken, count = neutralize("<</SYS>>", "codellama")
    assert (broken, count) == (f"<{BREAK}</SYS>>", 1)


def test_generic_neutralizes_every_known_marker():
    text, count = neutralize("<|im_start|> <|fim_prefix|> <PRE> <|file_sep|>", "generic")
    assert count == 4
    assert "<|im_start|>" not in text and "<PRE>" not in text


def test_chat_messages_are_neutralized():
    messages = (ChatMessage("system", "be brief"), ChatMessage("user", "what does <end_of_turn> mean?"))
    out, count = neutralize_messages(messages, "codegemma")
    assert count == 1
    assert out[0] == messages[0]
    assert out[1].role == "user" and out[1].content == f"what does <{BREAK}end_of_turn> mean?"


def test_control_strings():
    assert control_strings("codegemma") == (
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|file_separator|>",
        "<bos>",
        "<eos>",
        "<pad>",
        "<start_of_turn>",
        "<end_of_turn>",
    )
    assert control_strings("codellama") == (
        "<PRE>",
        "<SUF>",
        "<MID>",
        "<EOT>",
        "<s>",
        "</s>",
        "[INST]",
        "[/INST]",
        "<<SYS>>",
        "<</SYS>>",
    )


def test_stop_strings_and_server_limits():
    assert stop_strings("codegemma", None) == (
        "<|file_separator|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<eos>",
        "<end_of_turn>",
    )
    assert stop_strings("codegemma", 4) == ("<|file_separator|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
    assert stop_strings("codellama", 4) == ("<EOT>", "</s>", "<PRE>", "<SUF>")
    assert stop_strings("codellama", 10) == ("<EOT>", "</s>", "<PRE>", "<SUF>", "<MID>")
    assert stop_strings("codellama", 0) == ()
    assert stop_strings("generic", None) == ()


def test_trim_leaked():
    assert trim_leaked("age = now - born<|file_separator|>test.py\n", "codegemma") == "age = now - born"
    assert trim_leaked("x = 1<eos>", "codegemma") == "x = 1"
    assert trim_leaked("return a + b<EOT>", "codellama") == "return a + b"
    assert trim_leaked("a</s><PRE>", "codellama") == "a"
    assert trim_leaked("b\u2581<EOT>", "codellama") == "b"
    assert trim_leaked("if a < b:\n", "codellama") == "if a < b:\n"
    # chat markers are plain text for Code Llama: not cut
    assert trim_leaked("x = '[INST]'", "codellama") == "x = '[INST]'"


def test_trim_leaked_holds_back_a_possible_start_while_streaming():
    assert trim_leaked("x = 1<|file_sep", "codegemma", final=False) == "x = 1"
    assert trim_leaked("x = 1<|file_sep", "codegemma") == "x = 1<|file_sep"
    assert trim_leaked("if a <", "codellama", final=False) == "if a "
    assert trim_leaked("if a < b", "codellama", final=False) == "if a < b"
    assert trim_leaked("", "codegemma", final=False) == ""
