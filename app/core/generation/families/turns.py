"""Chat turn layouts recognised by their control tokens.

Used by CodeGemma, and by any model whose GGUF has no chat template but
whose vocabulary carries Gemma's or ChatML's turn tokens.
"""

from __future__ import annotations

from app.core.generation.contracts import ChatMessage
from app.core.generation.families.base import split_system, with_bos
from app.core.generation.vocab import Vocab, find_token, text_tokens

START_OF_TURN, END_OF_TURN = "<start_of_turn>", "<end_of_turn>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


def gemma_turns(vocab: Vocab, messages: tuple[ChatMessage, ...]) -> list[int] | None:
    """Lay out Gemma turns, or return None when the vocabulary lacks them.

    Gemma has no system role: a system prompt is folded into the first user
    turn, as Google's own template does.
    """
    start, end = find_token(vocab, START_OF_TURN), find_token(vocab, END_OF_TURN)
    if start is None or end is None:
        return None
    system, turns = split_system(messages)
    newline = text_tokens(vocab, "\n")
    tokens: list[int] = []
    for index, message in enumerate(turns):
        role = "model" if message.role == "assistant" else "user"
        content = message.content
        if index == 0 and system:
            content = f"{system}\n\n{content}"
        tokens += [start, *text_tokens(vocab, f"{role}\n{content}"), end, *newline]
    tokens += [start, *text_tokens(vocab, "model\n")]
    return with_bos(vocab, tokens)


def chatml_turns(vocab: Vocab, messages: tuple[ChatMessage, ...]) -> list[int] | None:
    """Lay out ChatML turns, or return None when the vocabulary lacks them."""
    start, end = find_token(vocab, IM_START), find_token(vocab, IM_END)
    if start is None or end is None:
        return None
    split_system(messages)  # checks the conversation ends with a user turn
    newline = text_tokens(vocab, "\n")
    tokens: list[int] = []
    for message in messages:
        tokens += [start, *text_tokens(vocab, f"{message.role}\n{message.content}"), end, *newline]
    return tokens + [start, *text_tokens(vocab, "assistant\n")]


def turn_stop_ids(vocab: Vocab) -> set[int]:
    """Return the end-of-turn ids the vocabulary has."""
    return {t for t in (find_token(vocab, END_OF_TURN), find_token(vocab, IM_END)) if t is not None}


def has_turn_tokens(vocab: Vocab) -> bool:
    """Say whether the vocabulary has Gemma or ChatML turn tokens."""
    pairs = ((START_OF_TURN, END_OF_TURN), (IM_START, IM_END))
    return any(find_token(vocab, a) is not None and find_token(vocab, b) is not None for a, b in pairs)
