"""The plain-text transcript layout and the stop strings that end its answers."""

from __future__ import annotations

import pytest

from app.core.generation.contracts import ChatMessage
from app.core.generation.families import PromptError, get_family
from app.core.generation.families.transcript import (
    ASSISTANT,
    EXAMPLE_ANSWER,
    EXAMPLE_QUESTION,
    PREAMBLE,
    STOP_STRINGS,
    SYSTEM_LEAD,
    USER,
    transcript_notice,
    transcript_stops,
    transcript_text,
    uses_transcript,
)
from app.core.generation.stop_text import StopText

SYSTEM = "You are terse. Put code in fenced blocks."


def test_the_preamble_comes_once_with_the_system_prompt_folded_in():
    text = transcript_text((ChatMessage("system", SYSTEM), ChatMessage("user", "Sort a list?")))
    assert text.startswith(PREAMBLE + "\n\n" + SYSTEM_LEAD + SYSTEM + "\n\n")
    assert text.count(PREAMBLE) == 1 and text.count(SYSTEM) == 1  # folded, not repeated in a turn
    assert f"{USER} {SYSTEM}" not in text


def test_one_example_exchange_then_the_turns_in_order_ending_with_the_assistant_marker():
    messages = (
        ChatMessage("system", SYSTEM),
        ChatMessage("user", "first question"),
        ChatMessage("assistant", "first answer\n"),
        ChatMessage("user", "  second question  "),
    )
    text = transcript_text(messages)
    example = f"{USER} {EXAMPLE_QUESTION}\n{ASSISTANT} {EXAMPLE_ANSWER}"
    assert text.count(example) == 1 and text.count(EXAMPLE_QUESTION) == 1
    tail = f"\n\n{USER} first question\n{ASSISTANT} first answer\n\n{USER} second question\n{ASSISTANT}"
    assert text.endswith(tail)
    assert text.index(example) < text.index("first question")
    # Every turn starts its own line with its marker; the answer's marker ends the text.
    assert text.count(f"\n{USER} ") == 3 and text.count(f"\n{ASSISTANT}") == 3


def test_without_a_system_prompt_there_is_no_instructions_line():
    text = transcript_text((ChatMessage("user", "hi"),))
    assert SYSTEM_LEAD not in text
    assert text == f"{PREAMBLE}\n\n{USER} {EXAMPLE_QUESTION}\n{ASSISTANT} {EXAMPLE_ANSWER}\n\n{USER} hi\n{ASSISTANT}"


def test_a_conversation_must_end_with_a_user_turn():
    with pytest.raises(PromptError):
        transcript_text((ChatMessage("system", SYSTEM), ChatMessage("user", "q"), ChatMessage("assistant", "a")))
    with pytest.raises(PromptError):
        transcript_text((ChatMessage("system", SYSTEM),))


def test_only_generic_models_without_a_chat_template_use_it():
    assert uses_transcript("generic", has_chat_template=False)
    assert not uses_transcript("generic", has_chat_template=True)
    assert not uses_transcript("codegemma", has_chat_template=False)
    assert not uses_transcript("codellama", has_chat_template=False)
    generic = get_family("generic")
    assert generic.chat_stops(None).strings == STOP_STRINGS
    assert generic.chat_stops("{{ messages }}").strings == ()
    assert get_family("codegemma").chat_stops(None).strings == ()
    assert "Gemma 3 270m" in transcript_notice("Gemma 3 270m")


def _stream(stops: StopText, pieces: list[str]) -> tuple[str, bool]:
    shown = []
    for piece in pieces:
        text, stopped = stops.feed(piece)
        shown.append(text)
        if stopped:
            return "".join(shown), True
    return "".join(shown) + stops.finish(), False


def test_the_next_turn_marker_is_cut_even_when_split_across_pieces():
    pieces = [" Here", " it is", ":\n\n```", "python\nx = 1\n```", "\n", "\nUs", "er", ": thanks"]
    assert _stream(transcript_stops(), pieces) == ("Here it is:\n\n```python\nx = 1\n```", True)
    shown, stopped = _stream(transcript_stops(), ["Sure.", "\nAssist", "ant: more"])
    assert (shown, stopped) == ("Sure.", True)


def test_text_that_only_looks_like_the_start_of_a_marker_is_shown():
    assert _stream(transcript_stops(), ["a\nUs", "e it\n"]) == ("a\nUse it\n", False)
    assert _stream(transcript_stops(), ["ends with\nUse"]) == ("ends with\nUse", False)  # held, then flushed
    stops = transcript_stops()
    assert stops.feed("x\n") == ("x", False)  # the newline waits: a marker may follow
    assert stops.finish() == "\n"


def test_a_newline_stop_keeps_the_spaces_before_it():
    stops = StopText(("\n",))
    assert stops.feed("a = ") == ("a = ", False)
    assert stops.feed("b \nc") == ("b ", True)
    assert stops.feed("more") == ("", True) and stops.finish() == ""
