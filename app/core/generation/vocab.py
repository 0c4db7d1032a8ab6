"""What prompt builders need from a model's tokenizer.

The engine host implements ``Vocab`` over llama.cpp; core code only sees this
protocol, so prompt layouts are plain functions that tests can read.
"""

from __future__ import annotations

from typing import Protocol


class Vocab(Protocol):
    """A model's vocabulary as prompt builders use it."""

    bos_id: int | None
    eos_id: int | None
    add_bos: bool
    add_space_prefix: bool
    special_ids: frozenset[int]  # control tokens, and any token spelled like a known marker
    eog_ids: frozenset[int]  # tokens llama.cpp treats as end of generation

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Tokenize ``text`` without adding BOS."""

    def token_id(self, text: str) -> int | None:
        """Return the id of the single control token spelled ``text``, if any."""

    def piece(self, token_id: int) -> str:
        """Return the text of one token, control tokens included."""


def find_token(vocab: Vocab, *spellings: str) -> int | None:
    """Return the id of the first spelling the vocabulary has as one token."""
    for text in spellings:
        token = vocab.token_id(text)
        if token is not None:
            return token
    return None


def text_tokens(vocab: Vocab, text: str) -> list[int]:
    """Tokenize user or file text so that it can never become a control token.

    llama.cpp matches user-defined tokens even with ``special=False``, so a
    result holding a special id is split inside that spelling and each side
    is tokenized again, until no special id is left.

    Args:
        vocab: The model's vocabulary.
        text: Text typed by a user or read from a file.

    Returns:
        Token ids, none of them in ``vocab.special_ids``.
    """
    return _safe_tokens(vocab, text, continuation=False)


def _safe_tokens(vocab: Vocab, text: str, continuation: bool) -> list[int]:
    if not text:
        return []
    if continuation:
        tokens = continuation_tokens(vocab, text, special=False)
    else:
        tokens = vocab.tokenize(text, special=False)
    if not vocab.special_ids.intersection(tokens):
        return tokens
    cut = _first_special_start(vocab, text)
    if cut is None or len(text) < 2:
        return [t for t in tokens if t not in vocab.special_ids]
    head, rest = text[: cut + 1], text[cut + 1 :]
    return _safe_tokens(vocab, head, continuation) + _safe_tokens(vocab, rest, True)


def _first_special_start(vocab: Vocab, text: str) -> int | None:
    starts = [text.find(vocab.piece(t)) for t in vocab.special_ids if vocab.piece(t)]
    found = [at for at in starts if at >= 0]
    return min(found) if found else None


_MARK = "\u263a"  # a character tokenized on its own, used to suppress the space prefix


def continuation_tokens(vocab: Vocab, text: str, *, special: bool) -> list[int]:
    """Tokenize text that continues other text, so no leading space is added.

    SentencePiece vocabularies with ``add_space_prefix`` put a space before
    the first word of every tokenized string. Text that continues a line
    (Code Llama's FIM suffix, template text after a message) must not get one.

    Args:
        vocab: The model's vocabulary.
        text: The text.
        special: Whether control-token spellings in ``text`` are meant.

    Returns:
        Token ids.
    """
    if not text:
        return []
    if not vocab.add_space_prefix:
        return vocab.tokenize(text, special=special)
    mark = vocab.tokenize(_MARK, special=False)
    both = vocab.tokenize(_MARK + text, special=special)
    if both[: len(mark)] == mark:
        return both[len(mark) :]
    return vocab.tokenize(text, special=special)


def tokens_without_space_prefix(vocab: Vocab, text: str) -> list[int]:
    """Tokenize user or file text as a continuation, never as control tokens.

    Args:
        vocab: The model's vocabulary.
        text: User or file text.

    Returns:
        Token ids, none of them special.
    """
    return _safe_tokens(vocab, text, continuation=True)
