"""``core.vocab.Vocab`` over a loaded ``llama_cpp.Llama``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.core.models.info import GGUFVocab

if TYPE_CHECKING:
    from llama_cpp import Llama


class LlamaVocab:
    """``core.vocab.Vocab`` over llama.cpp's tokenizer and the GGUF's token table."""

    def __init__(self, llama: Llama, table: GGUFVocab) -> None:
        import llama_cpp

        self._llama = llama
        self._table = table
        bos, eos = llama.token_bos(), llama.token_eos()
        self.bos_id = bos if bos >= 0 else None
        self.eos_id = eos if eos >= 0 else None
        self.add_bos = table.add_bos
        self.add_space_prefix = table.add_space_prefix
        self.special_ids = table.special_ids
        vocab = llama_cpp.llama_model_get_vocab(llama.model)
        candidates = set(table.special_ids) | set(table.eog_ids)
        self.eog_ids = frozenset(t for t in candidates if llama_cpp.llama_vocab_is_eog(vocab, t))

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Tokenize without BOS."""
        if not text:
            return []
        return self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def token_id(self, text: str) -> int | None:
        """Look a token up by its exact spelling in the vocabulary."""
        return self._table.token_id(text)

    def piece(self, token_id: int) -> str:
        """Return the vocabulary's spelling of a token."""
        return self._table.piece(token_id)
