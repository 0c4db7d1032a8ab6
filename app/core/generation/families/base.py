"""What every model family knows: its FIM layout, chat layout and stop tokens."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.generation.contracts import ChatMessage, FimRequest
from app.core.generation.stop_text import StopText
from app.core.generation.vocab import Vocab, text_tokens


class PromptError(ValueError):
    """The model cannot build the asked-for prompt (say, FIM without FIM tokens)."""


@dataclass(frozen=True)
class FimTokens:
    """Ids of a model's fill-in-the-middle control tokens."""

    prefix: int
    suffix: int
    middle: int
    file_separator: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        """Return the ids by role, as ``fimble inspect`` prints them."""
        return {
            "prefix": self.prefix,
            "suffix": self.suffix,
            "middle": self.middle,
            "file_separator": self.file_separator,
        }


class Family:
    """Base class; a family module subclasses it and overrides what differs."""

    name = "generic"
    label = "Generic"

    def fim_tokens(self, vocab: Vocab) -> FimTokens | None:
        """Return the model's FIM token ids, or None when it has none."""
        raise NotImplementedError

    def build_fim(self, vocab: Vocab, request: FimRequest) -> list[int]:
        """Return the FIM prompt as token ids.

        Raises:
            PromptError: The model has no FIM tokens.
        """
        raise NotImplementedError

    def build_chat(self, vocab: Vocab, messages: tuple[ChatMessage, ...], chat_template: str | None) -> list[int]:
        """Return the chat prompt, ending where the assistant's answer starts.

        Raises:
            PromptError: The model has no chat format.
        """
        raise NotImplementedError

    def stop_ids(self, vocab: Vocab) -> frozenset[int]:
        """Return the token ids that end a generation."""
        return frozenset(vocab.eog_ids) | _known(vocab.eos_id)

    def chat_stops(self, chat_template: str | None) -> StopText:
        """Return a fresh cutter for the stop strings of a chat answer (none: the turn ends on a token)."""
        return StopText()

    def can_chat(self, name: str, has_chat_template: bool) -> bool:
        """Say whether chat prompts make sense for a model of this family."""
        return has_chat_template


def _known(*ids: int | None) -> frozenset[int]:
    return frozenset(i for i in ids if i is not None)


def with_bos(vocab: Vocab, tokens: list[int]) -> list[int]:
    """Put exactly one BOS in front when the model wants one."""
    if vocab.bos_id is None or not vocab.add_bos:
        return tokens
    while tokens and tokens[0] == vocab.bos_id:
        tokens = tokens[1:]
    return [vocab.bos_id, *tokens]


def require_fim(fim: FimTokens | None, family: Family) -> FimTokens:
    """Return ``fim`` or raise a plain error when the model lacks FIM tokens."""
    if fim is None:
        raise PromptError(
            "this model has no fill-in-the-middle tokens; pick a code completion model"
            " such as CodeGemma 2B/7B or Code Llama 7B/13B"
        )
    return fim


def split_system(messages: tuple[ChatMessage, ...]) -> tuple[str | None, list[ChatMessage]]:
    """Return the system prompt (if any) and the other turns."""
    system = [m.content for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    if not rest or rest[-1].role != "user":
        raise PromptError("a chat prompt must end with a user message")
    return ("\n\n".join(system) if system else None), rest


def psm_tokens(vocab: Vocab, fim: FimTokens, request: FimRequest, *, name_current_file: bool) -> list[int]:
    """Lay out PSM or SPM (``request.order``), other files first behind file separators.

    Args:
        vocab: The model's vocabulary.
        fim: The model's FIM token ids.
        request: Prefix, suffix, path and context chunks.
        name_current_file: Put ``separator path\n`` before the current file too,
            as in CodeGemma's repository-level training packs.

    Returns:
        Token ids, BOS first when the model wants one.
    """
    tokens: list[int] = []
    if fim.file_separator is not None:
        for chunk in request.chunks:
            tokens += [fim.file_separator, *text_tokens(vocab, f"{chunk.path}\n{chunk.text}")]
        if name_current_file and (request.chunks or request.path):
            tokens += [fim.file_separator, *text_tokens(vocab, f"{request.path}\n")]
    prefix = [fim.prefix, *text_tokens(vocab, request.prefix)]
    suffix = [fim.suffix, *text_tokens(vocab, request.suffix)]
    tokens += prefix + suffix if request.order == "psm" else suffix + prefix
    tokens.append(fim.middle)
    return with_bos(vocab, tokens)
