"""Any other GGUF: FIM from whatever FIM tokens it has, chat from its own template or as a transcript."""

from __future__ import annotations

from app.core.generation.chat_template import render_chat_template
from app.core.generation.contracts import ChatMessage, FimRequest
from app.core.generation.families.base import Family, FimTokens, PromptError, psm_tokens, require_fim, with_bos
from app.core.generation.families.transcript import transcript_stops, transcript_tokens
from app.core.generation.families.turns import chatml_turns, gemma_turns, turn_stop_ids
from app.core.generation.stop_text import StopText
from app.core.generation.vocab import Vocab, find_token

# Spellings used by StarCoder, DeepSeek Coder, Qwen2.5-Coder, CodeGemma and others.
PREFIX = ("<|fim_prefix|>", "<fim_prefix>", "<fim-prefix>", "<\uff5cfim\u2581begin\uff5c>", "<PRE>")
SUFFIX = ("<|fim_suffix|>", "<fim_suffix>", "<fim-suffix>", "<\uff5cfim\u2581hole\uff5c>", "<SUF>")
MIDDLE = ("<|fim_middle|>", "<fim_middle>", "<fim-middle>", "<\uff5cfim\u2581end\uff5c>", "<MID>")
FILE_SEPARATOR = ("<|file_sep|>", "<file_sep>", "<|file_separator|>")


class Generic(Family):
    """A model Fimble has no family module for.

    Args:
        transcript: Without a chat template, lay chat out as a plain-text
            transcript (see families/transcript). False keeps the earlier
            layout, Gemma or ChatML turns from the vocabulary's control
            tokens, which a base model was never trained on; ``bench
            starter-echo`` compares the two.
    """

    name = "generic"
    label = "Generic"

    def __init__(self, transcript: bool = True) -> None:
        self.transcript = transcript

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
        """Render the GGUF's own template in a sandbox, else write a plain-text transcript."""
        if chat_template:
            return with_bos(vocab, render_chat_template(chat_template, vocab, messages))
        if self.transcript:
            return transcript_tokens(vocab, messages)
        tokens = gemma_turns(vocab, messages) or chatml_turns(vocab, messages)
        if tokens is None:
            raise PromptError(
                "this model has no chat template, so it is not a chat model; pick an instruction-tuned model for chat"
            )
        return tokens

    def chat_stops(self, chat_template: str | None) -> StopText:
        """A transcript's answer ends where the model starts the next turn."""
        return transcript_stops() if self.transcript and not chat_template else super().chat_stops(chat_template)

    def stop_ids(self, vocab: Vocab) -> frozenset[int]:
        """Stop on end of generation and on any end-of-turn token."""
        return super().stop_ids(vocab) | frozenset(turn_stop_ids(vocab))
