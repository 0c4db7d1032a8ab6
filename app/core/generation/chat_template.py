"""Render a GGUF's own ``tokenizer.chat_template`` safely, as token ids.

The template runs in Jinja's immutable sandbox. Message contents are passed
in as private-use sentinels, so the rendered text can be split back into
template text (tokenized with special tokens on) and user text (tokenized
with special tokens off): whatever a user types stays text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from app.core.generation.contracts import ChatMessage
from app.core.generation.vocab import Vocab, continuation_tokens, text_tokens, tokens_without_space_prefix

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

_SENTINEL = "\ue000{}\ue001"
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")


class TemplateError(ValueError):
    """The chat template could not be rendered."""


def _environment() -> ImmutableSandboxedEnvironment:
    from datetime import date

    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: date.today().strftime(fmt)
    return env


def render_chat_template(
    template: str,
    vocab: Vocab,
    messages: tuple[ChatMessage, ...],
) -> list[int]:
    """Render ``template`` over ``messages`` with a generation prompt.

    Args:
        template: The Jinja source from ``tokenizer.chat_template``.
        vocab: The model's vocabulary (for BOS/EOS text and tokenizing).
        messages: The conversation, ending with a user turn.

    Returns:
        The prompt as token ids.

    Raises:
        TemplateError: The template failed, or altered message text so that
            it can no longer be kept apart from control tokens.
    """
    contents = [m.content for m in messages]
    placeholders = [{"role": m.role, "content": _SENTINEL.format(i)} for i, m in enumerate(messages)]
    bos = vocab.piece(vocab.bos_id) if vocab.bos_id is not None else ""
    eos = vocab.piece(vocab.eos_id) if vocab.eos_id is not None else ""
    try:
        rendered = (
            _environment()
            .from_string(template)
            .render(messages=placeholders, add_generation_prompt=True, bos_token=bos, eos_token=eos)
        )
    except TemplateError:
        raise
    except Exception as exc:  # jinja raises many types; the user needs one line
        raise TemplateError(f"the model's chat template failed: {exc}") from None
    tokens: list[int] = []
    position = 0
    for match in _SENTINEL_RE.finditer(rendered):
        tokens += _template_text(vocab, rendered[position : match.start()], first=not tokens)
        content = contents[int(match.group(1))]
        tokens += text_tokens(vocab, content) if not tokens else tokens_without_space_prefix(vocab, content)
        position = match.end()
    tail = rendered[position:]
    if "\ue000" in tail or "\ue001" in tail:
        raise TemplateError("the model's chat template rewrites message text; it cannot be used safely")
    return tokens + _template_text(vocab, tail, first=not tokens)


def _template_text(vocab: Vocab, text: str, first: bool) -> list[int]:
    """Tokenize template text, where control-token spellings are meant."""
    if first:
        return vocab.tokenize(text, special=True) if text else []
    return continuation_tokens(vocab, text, special=True)
