"""Code Llama: ``[INST]`` chat with ``<<SYS>>`` and the ``<PRE>/<SUF>/<MID>`` infill layout."""

from __future__ import annotations

from app.core.generation.contracts import ChatMessage, FimRequest
from app.core.generation.families.base import (
    Family,
    FimTokens,
    PromptError,
    _known,
    require_fim,
    split_system,
    with_bos,
)
from app.core.generation.vocab import Vocab, find_token, text_tokens, tokens_without_space_prefix

# Code Llama's SentencePiece model spells these with a leading "▁"; some
# converted vocabularies drop it, so both spellings are looked up.
PRE = ("<PRE>", "\u2581<PRE>")
SUF = ("<SUF>", "\u2581<SUF>")
MID = ("<MID>", "\u2581<MID>")
EOT = ("<EOT>", "\u2581<EOT>")


class CodeLlama(Family):
    """Meta's Code Llama 7B / 13B base and Instruct."""

    name = "codellama"
    label = "Code Llama"

    def fim_tokens(self, vocab: Vocab) -> FimTokens | None:
        """Return the ``<PRE>``, ``<SUF>`` and ``<MID>`` ids."""
        prefix, suffix, middle = (find_token(vocab, *spellings) for spellings in (PRE, SUF, MID))
        if prefix is None or suffix is None or middle is None:
            return None
        return FimTokens(prefix, suffix, middle, file_separator=None)

    def build_fim(self, vocab: Vocab, request: FimRequest) -> list[int]:
        """Lay out ``[BOS, <PRE>] prefix [<SUF>] suffix [<MID>]``, or suffix first for ``order="spm"``.

        Suffix first is ``[BOS, <PRE>, <SUF>] suffix [<MID>] prefix``, the
        other layout Code Llama was trained on: the prefix, where the user
        types, comes last, so typing leaves the rest of the prompt in the KV
        cache. Either way the suffix is tokenized without SentencePiece's
        leading space and the prefix with it, as in Code Llama's own
        infilling code. Code Llama was not trained on a multi-file format, so
        context chunks are left out.
        """
        fim = require_fim(self.fim_tokens(vocab), self)
        prefix = text_tokens(vocab, request.prefix)
        suffix = tokens_without_space_prefix(vocab, request.suffix)
        if request.order == "spm":
            return with_bos(vocab, [fim.prefix, fim.suffix, *suffix, fim.middle, *prefix])
        return with_bos(vocab, [fim.prefix, *prefix, fim.suffix, *suffix, fim.middle])

    def build_chat(self, vocab: Vocab, messages: tuple[ChatMessage, ...], chat_template: str | None) -> list[int]:
        """Lay out ``<s>[INST] <<SYS>>…<</SYS>> user [/INST] answer </s>`` turns.

        Only BOS and EOS are control tokens; ``[INST]`` is plain text, and so
        is everything a user typed.
        """
        if vocab.bos_id is None or vocab.eos_id is None:
            raise PromptError("this model's vocabulary has no BOS/EOS tokens for [INST] chat")
        system, turns = split_system(messages)
        tokens: list[int] = []
        pending_user: str | None = None
        for message in turns:
            if message.role == "user":
                text = message.content.strip()
                if system is not None and not tokens and pending_user is None:
                    text = f"<<SYS>>\n{system}\n<</SYS>>\n\n{text}"
                pending_user = text
                continue
            if pending_user is None:
                raise PromptError("an assistant turn must follow a user turn")
            turn = f"[INST] {pending_user} [/INST] {message.content.strip()} "
            tokens += [vocab.bos_id, *text_tokens(vocab, turn), vocab.eos_id]
            pending_user = None
        tokens += [vocab.bos_id, *text_tokens(vocab, f"[INST] {pending_user} [/INST]")]
        return tokens

    def stop_ids(self, vocab: Vocab) -> frozenset[int]:
        """Stop on ``<EOT>`` and ``</s>``."""
        return super().stop_ids(vocab) | _known(find_token(vocab, *EOT))

    def can_chat(self, name: str, has_chat_template: bool) -> bool:
        """Instruct models chat; base models are completion-only."""
        return has_chat_template or "instruct" in name.lower()
