"""A plain-text chat transcript, for models never trained on chat turns.

A base model has seen no chat turns: laid out with control tokens it does
not know (Gemma's ``<start_of_turn>`` in a base Gemma vocabulary, say), a
conversation looks like noise, and the model recites the system prompt back.
Written as a transcript instead, the same conversation is text of a kind the
model has read a lot of, and it continues the assistant's turn: a short
preamble that says who speaks (with the system prompt folded in), one
example exchange that answers with a code block, then ``User:`` and
``Assistant:`` turns, ending where the assistant's answer starts. The model
then tends to start the next ``User:`` turn itself; generation stops there
(see ``STOP_STRINGS``), and the marker is never shown.

Used for a model whose GGUF has no chat template and whose family has no
trained turn format (the generic family).
"""

from __future__ import annotations

from app.core.generation.contracts import ChatMessage
from app.core.generation.families.base import split_system, with_bos
from app.core.generation.stop_text import StopText
from app.core.generation.vocab import Vocab, text_tokens

USER = "User:"
ASSISTANT = "Assistant:"
PREAMBLE = (
    "Below is a chat between a programmer (User) and an expert coding assistant (Assistant)."
    " The Assistant gives short, correct answers and puts code in Markdown code blocks."
)
# How the system prompt is brought in: as the assistant's brief, in the third person.
SYSTEM_LEAD = "The Assistant's instructions: "
EXAMPLE_QUESTION = "Write a Python function that checks whether a number is even."
EXAMPLE_ANSWER = "Here it is:\n\n```python\ndef is_even(n):\n    return n % 2 == 0\n```"
# Where the model starts another turn; the answer ends before it.
STOP_STRINGS = (f"\n{USER}", f"\n{ASSISTANT}")


def uses_transcript(family: str, has_chat_template: bool) -> bool:
    """Say whether a model's chat is laid out as a plain-text transcript.

    Args:
        family: The model's family name (``ModelInfo.family``).
        has_chat_template: Whether its GGUF has ``tokenizer.chat_template``.

    Returns:
        True for a generic model without a chat template: its family has no
        trained turn format, and its file names none.
    """
    return family == "generic" and not has_chat_template


def transcript_notice(model_name: str) -> str:
    """The one line that tells the user this mode is in use."""
    return (
        f"Plain-text transcript mode: {model_name} has no chat format, so Fimble lays the chat out"
        " as a transcript it can continue. For better answers, assign an instruction-tuned chat model."
    )


def transcript_text(messages: tuple[ChatMessage, ...]) -> str:
    """Lay a conversation out as a transcript that ends where the answer starts.

    Args:
        messages: The conversation: system prompts anywhere (joined and
            folded into the preamble), then user and assistant turns
            ending with a user turn.

    Returns:
        The preamble, the example exchange and the turns: each user turn
        as ``User: text`` after a blank line, each answer as
        ``Assistant: text`` on the next line, ending with ``Assistant:``.

    Raises:
        PromptError: The conversation does not end with a user message.
    """
    system, turns = split_system(messages)
    text = PREAMBLE
    if system and system.strip():
        text += f"\n\n{SYSTEM_LEAD}{system.strip()}"
    example = (ChatMessage("user", EXAMPLE_QUESTION), ChatMessage("assistant", EXAMPLE_ANSWER))
    for message in (*example, *turns):
        # A blank line before each user turn; its answer follows on the next line.
        text += f"\n\n{USER} " if message.role == "user" else f"\n{ASSISTANT} "
        text += message.content.strip()
    return f"{text}\n{ASSISTANT}"


def transcript_tokens(vocab: Vocab, messages: tuple[ChatMessage, ...]) -> list[int]:
    """Return the transcript as token ids, BOS first when the model wants one.

    All of it is text: whatever a user typed can never become a control token.
    """
    return with_bos(vocab, text_tokens(vocab, transcript_text(messages)))


def transcript_stops() -> StopText:
    """The stop strings of a transcript's answer (a fresh cutter per answer)."""
    return StopText(STOP_STRINGS, trim=True)
