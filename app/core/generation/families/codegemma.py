"""CodeGemma: Gemma's chat turns and the ``<|fim_*|>`` infilling layout."""

from __future__ import annotations

from app.core.generation.contracts import ChatMessage, FimRequest
from app.core.generation.families.base import Family, FimTokens, PromptError, _known, psm_tokens, require_fim
from app.core.generation.families.turns import END_OF_TURN, gemma_turns
from app.core.generation.vocab import Vocab, find_token

FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
FILE_SEPARATOR = "<|file_separator|>"


class CodeGemma(Family):
    """Google's CodeGemma 2B / 7B / 7B-it (and Gemma vocabularies with FIM tokens)."""

    name = "codegemma"
    label = "CodeGemma"

    def fim_tokens(self, vocab: Vocab) -> FimTokens | None:
        """Return the ``<|fim_*|>`` ids and ``<|file_separator|>``."""
        prefix, suffix, middle = (find_token(vocab, t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE))
        if prefix is None or suffix is None or middle is None:
            return None
        return FimTokens(prefix, suffix, middle, file_separator=find_token(vocab, FILE_SEPARATOR))

    def build_fim(self, vocab: Vocab, request: FimRequest) -> list[int]:
        """Lay out ``[BOS] (<|file_separator|>path\\ntext)* <|fim_prefix|>…``.

        Other files go first, each behind a file separator, as CodeGemma was
        trained on repository-level packs. The current file's path follows
        its own separator when it is known.
        """
        fim = require_fim(self.fim_tokens(vocab), self)
        return psm_tokens(vocab, fim, request, name_current_file=True)

    def build_chat(self, vocab: Vocab, messages: tuple[ChatMessage, ...], chat_template: str | None) -> list[int]:
        """Lay out Gemma turns; the system prompt is folded into the first user turn."""
        tokens = gemma_turns(vocab, messages)
        if tokens is None:
            raise PromptError("this model's vocabulary has no Gemma chat turn tokens")
        return tokens

    def stop_ids(self, vocab: Vocab) -> frozenset[int]:
        """Stop on eos, end of turn, the file separator and the FIM tokens."""
        spelled = [find_token(vocab, t) for t in (END_OF_TURN, FILE_SEPARATOR, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)]
        return super().stop_ids(vocab) | _known(*spelled)

    def can_chat(self, name: str, has_chat_template: bool) -> bool:
        """The -it models chat; CodeGemma 2B and 7B base are completion-only."""
        return has_chat_template or "-it" in name.lower() or "instruct" in name.lower()
