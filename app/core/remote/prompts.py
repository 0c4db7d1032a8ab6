"""FIM prompts as text, for servers that take a prompt only as a string.

The layouts are the local families' (``app.core.generation.families``), spelled
out: the local path builds token ids, and a string-only server (TGI, Ollama,
llama-cpp-python, LM Studio) tokenizes the text itself, parsing control-token
spellings anywhere in it. So a marker typed by the user (``<|fim_middle|>``,
``[INST]``) is broken before it goes out: ``neutralize`` puts a zero-width
space (U+200B) after its first character, which no tokenizer reads as a
control token. The prompt never starts with the BOS text: the server adds BOS
itself when the model wants one, and a second one would hurt the answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from app.core.generation.contracts import ChatMessage, ContextChunk, FimOrder
from app.core.generation.families import MARKER_SPELLINGS, PromptError
from app.core.generation.families.codegemma import FILE_SEPARATOR, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from app.core.generation.families.codellama import EOT, MID, PRE, SUF
from app.core.generation.families.turns import END_OF_TURN, START_OF_TURN

BREAK = "\u200b"  # zero-width space, put after the first character of a marker

# Code Llama's vocabulary spells its FIM tokens with a leading "▁" (a space);
# in text they are written without it, as in Meta's own infilling format.
_PRE, _SUF, _MID, _EOT = PRE[0], SUF[0], MID[0], EOT[0]

# Control tokens: they end an answer if they show up in it, and must never come from user text.
_TOKENS: dict[str, tuple[str, ...]] = {
    "codegemma": (
        FIM_PREFIX,
        FIM_SUFFIX,
        FIM_MIDDLE,
        FILE_SEPARATOR,
        "<bos>",
        "<eos>",
        "<pad>",
        START_OF_TURN,
        END_OF_TURN,
    ),
    "codellama": (_PRE, _SUF, _MID, _EOT, "<s>", "</s>"),
    # A model Fimble has no module for: every marker some family knows.
    "generic": tuple(sorted(m for m in MARKER_SPELLINGS if not m.startswith("\u2581"))),
}
# Plain-text markers of a chat layout: harmless in an answer, but user text must not fake them.
_CHAT_MARKERS: dict[str, tuple[str, ...]] = {"codellama": ("[INST]", "[/INST]", "<<SYS>>", "<</SYS>>")}

# What ends a FIM answer, most important first (TGI takes only the first few).
_STOPS: dict[str, tuple[str, ...]] = {
    "codegemma": (FILE_SEPARATOR, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, "<eos>", END_OF_TURN),
    "codellama": (_EOT, "</s>", _PRE, _SUF, _MID),
    "generic": (),
}


def _known(family: str) -> str:
    if family not in _TOKENS:
        raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(sorted(_TOKENS))}")
    return family


def control_strings(family: str) -> tuple[str, ...]:
    """Return every spelling user text must not carry for ``family``.

    Raises:
        ValueError: ``family`` is not a registered family name.
    """
    return _TOKENS[_known(family)] + _CHAT_MARKERS.get(family, ())


@cache
def _pattern(strings: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so a marker that holds another is broken as a whole.
    return re.compile("|".join(re.escape(s) for s in sorted(strings, key=len, reverse=True)))


def _break(match: re.Match[str]) -> str:
    found = match.group(0)
    return found[0] + BREAK + found[1:]


def neutralize(text: str, family: str) -> tuple[str, int]:
    """Break every control-token spelling of ``family`` inside user text.

    Args:
        text: Text typed by the user or read from a file.
        family: A family name (``codegemma``, ``codellama``, ``generic``).

    Returns:
        The text with U+200B after the first character of each marker, and
        how many markers were broken. Broken markers no longer match, so a
        second call changes nothing.
    """
    strings = control_strings(family)
    if not text or not strings:
        return text, 0
    return _pattern(strings).subn(_break, text)


def neutralize_messages(messages: Sequence[ChatMessage], family: str) -> tuple[tuple[ChatMessage, ...], int]:
    """Neutralize the content of every chat message; return them and the count."""
    out: list[ChatMessage] = []
    total = 0
    for message in messages:
        content, count = neutralize(message.content, family)
        out.append(ChatMessage(message.role, content))
        total += count
    return tuple(out), total


def fim_text(
    family: str,
    prefix: str,
    suffix: str,
    chunks: Sequence[ContextChunk] = (),
    order: FimOrder = "psm",
    *,
    path: str = "",
    vocab_spelling: bool = False,
) -> str:
    """Return the FIM prompt as text; see ``fim_text_counted``."""
    return fim_text_counted(family, prefix, suffix, chunks, order, path=path, vocab_spelling=vocab_spelling)[0]


def fim_text_counted(
    family: str,
    prefix: str,
    suffix: str,
    chunks: Sequence[ContextChunk] = (),
    order: FimOrder = "psm",
    *,
    path: str = "",
    vocab_spelling: bool = False,
) -> tuple[str, int]:
    """Lay out a FIM prompt as text, with user text neutralized.

    CodeGemma: ``(<|file_separator|>path\\ntext)*``, then
    ``<|file_separator|>path\\n`` for the current file when there are chunks
    or a path, then ``<|fim_prefix|>prefix<|fim_suffix|>suffix<|fim_middle|>``
    (SPM: suffix part first). Code Llama: ``<PRE> prefix <SUF>suffix <MID>``
    (SPM: ``<PRE> <SUF>suffix <MID> prefix``), without chunks, as the local
    family lays it out.

    Code Llama's vocabulary spells its FIM tokens ``▁<PRE>`` (with
    SentencePiece's space mark). Servers that tokenize with llama.cpp match a
    control token only by that exact spelling, so for them
    (``vocab_spelling``) the prompt is ``▁<PRE>prefix▁<SUF>suffix▁<MID>``.
    llama.cpp then puts a space before the text that follows each control
    token: right for the prefix, one space too many before the suffix; only a
    token-id prompt avoids that. The plain spelling is Meta's text format, as
    Hugging Face tokenizers (TGI, vLLM) expect it.

    Args:
        family: ``codegemma`` or ``codellama``.
        prefix: Text before the cursor.
        suffix: Text after the cursor.
        chunks: Other files given as context.
        order: ``psm`` or ``spm``.
        path: The current file's path, or "".
        vocab_spelling: Spell Code Llama's markers as its vocabulary does
            (see ``ServerKind.llama_cpp_tokenizer``).

    Returns:
        The prompt (never starting with BOS text) and how many markers in
        user text were broken.

    Raises:
        PromptError: The family has no FIM layout Fimble can write as text.
        ValueError: Unknown family or order.
    """
    _known(family)
    if order not in ("psm", "spm"):
        raise ValueError("order must be 'psm' or 'spm'")
    counted = 0

    def safe(text: str) -> str:
        nonlocal counted
        clean, count = neutralize(text, family)
        counted += count
        return clean

    if family == "codegemma":
        parts = [f"{FILE_SEPARATOR}{safe(c.path)}\n{safe(c.text)}" for c in chunks]
        if chunks or path:
            parts.append(f"{FILE_SEPARATOR}{safe(path)}\n")
        head = f"{FIM_PREFIX}{safe(prefix)}"
        tail = f"{FIM_SUFFIX}{safe(suffix)}"
        parts += [head, tail] if order == "psm" else [tail, head]
        parts.append(FIM_MIDDLE)
        return "".join(parts), counted
    if family == "codellama":
        clean_prefix, clean_suffix = safe(prefix), safe(suffix)
        if vocab_spelling:
            if order == "spm":
                return f"{PRE[1]}{SUF[1]}{clean_suffix}{MID[1]}{clean_prefix}", counted
            return f"{PRE[1]}{clean_prefix}{SUF[1]}{clean_suffix}{MID[1]}", counted
        if order == "spm":  # Code Llama's suffix-first layout: "<PRE> <SUF>{suffix} <MID> {prefix}"
            return f"{_PRE} {_SUF}{clean_suffix} {_MID} {clean_prefix}", counted
        # "<PRE> " matches the local layout, whose first prefix token carries SentencePiece's space.
        before = f"{_PRE} {clean_prefix} " if clean_prefix else f"{_PRE} "
        return f"{before}{_SUF}{clean_suffix} {_MID}", counted
    raise PromptError(
        "fill-in-the-middle on a remote server needs a known model family; choose CodeGemma or Code Llama"
    )


def stop_strings(family: str, limit: int | None = None) -> tuple[str, ...]:
    """Return the strings that end a FIM answer, most important first.

    Args:
        family: A family name.
        limit: The most a server accepts (TGI's ``max_stop_sequences``), or None.
    """
    stops = _STOPS[_known(family)]
    return stops if limit is None else stops[: max(limit, 0)]


def trim_leaked(text: str, family: str, *, final: bool = True) -> str:
    """Cut an answer at the first control token that leaked into its text.

    Some servers do not stop on every stop string, or were sent fewer of them
    than the family has; nothing from a control token on is ever shown.

    Args:
        text: The answer so far.
        family: A family name.
        final: False while the stream goes on: then a tail that could be the
            start of a control token is held back too, until more text tells.

    Returns:
        The part of ``text`` that is safe to show.
    """
    tokens = _TOKENS[_known(family)]
    if not tokens or not text:
        return text
    found = _pattern(tokens).search(text)
    if found is not None:
        # A vocabulary spelling (Code Llama's "▁<EOT>") may come out with its space mark.
        return text[: found.start()].removesuffix("\u2581")
    if final:
        return text
    for size in range(min(len(text), max(map(len, tokens)) - 1), 0, -1):
        tail = text[-size:]
        if any(t.startswith(tail) for t in tokens):
            return text[:-size]
    return text
