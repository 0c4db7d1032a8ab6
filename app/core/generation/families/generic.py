"""Any other GGUF: FIM from whatever FIM tokens it has, chat from its own template."""

from __future__ import annotations

from app.core.generation.chat_template import render_chat_template
from app.core.generation.contracts import ChatMessage, FimRequest
from app.core.generation.families.base import Family, FimTokens, PromptError, psm_tokens, require_fim, with_bos
from app.core.generation.families.turns import chatml_turns, gemma_turns, turn_stop_ids
from app.core.generation.vocab import Vocab, find_token

# Spellings used by StarCoder, DeepSeek Coder, Qwen2.5-Coder, CodeGemma and others.
PREFIX = ("<|fim_prefix|>", "<fim_prefix>", "<fim-prefix>", "<\uff5cfim\u2581begin\uff5c>", "<PRE>")
SUFFIX = ("<|fim_suffix|>", "<fim_suffix>", "<fim-suffix>", "<\uff5cfim\u2581hole\uff5c>", "<SUF>")
MIDDLE = ("<|fim_middle|>", "<fim_middle>", "<fim-middle>", "<\uff5cfim\u2581end\uff5c>", "<MID>")
FILE_SEPARATOR = ("<|file_sep|>", "<file_sep>", "<|file_separator|>")


class Generic(Family):
    """A model Fimble has no family module for."""

    name = "generic"
    label = "Generic"

    def fim_tokens(self, vocab: Vocab) -> FimTokens | None:
        """Return FIM ids under any common spelling, or None."""
        prefix, suffix, middle = (find_token(vocab, *spellings) for spellings in (PREFIX, SUFFIX, MIDDLE))
        if prefix is None or suffix is None or middle is None:
            return None
        return FimTokens(prefix, suffix, middle, file_separator=find_token(vocab, *FILE_SEPARATOR))

    def build_fim(self, vocab: Vocab, request: FimRequest) -> list[int]:
        """Lay out prefix-suffix-middle, with other files behind file separators."""
        fim = require_fim(self.fim_tokens(vocab), self)
        return psm_tokens(vocab, fim, request, name_current_file=False)

    def build_chat(self, vocab: Vocab, messages: tuple[ChatMessage, ...], chat_template: str | None) -> list[int]:
        """Render the GGUF's own template in a sandbox, else known turn tokens."""
        if chat_template:
            return with_bos(vocab, render_chat_template(chat_template, vocab, messages))
        tokens = gemma_turns(vocab, messages) or chatml_turns(vocab, messages)
        if tokens is None:
            raise PromptError(
                "this model has no chat template, so it is not a chat model; pick an instruction-tuned model for chat"
            )
        return tokens

    def stop_ids(self, vocab: Vocab) -> frozenset[int]:
        """Stop on end of generation and on any end-of-turn token."""
        return super().stop_ids(vocab) | frozenset(turn_stop_ids(vocab))
