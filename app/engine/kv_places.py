"""Save the live prompt's KV cache and put a saved one back, for warm completion places.

Only sequence 0's cache is copied (``llama_state_seq_get_data``), not the
whole context state: ``Llama.save_state`` would also copy the logits of a
batch, which for a 256k-token vocabulary is hundreds of megabytes. After a
restore, the ``Llama`` object's record of its prompt is set to the place's
tokens, so ``generate`` evaluates only what the new prompt adds, and it
evaluates at least the last token again, which refreshes the logits.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import llama_cpp

from app.core.fim.warm_places import Place

if TYPE_CHECKING:
    from llama_cpp import Llama

_SEQ = 0


def save_place(llama: Llama) -> Place[bytes] | None:
    """Copy the live prompt's cache; None when llama.cpp cannot."""
    n_tokens = int(llama.n_tokens)
    if n_tokens <= 0:
        return None
    ctx = llama.ctx
    size = int(llama_cpp.llama_state_seq_get_size(ctx, _SEQ))
    if size <= 0:
        return None
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_seq_get_data(ctx, buffer, size, _SEQ))
    if written <= 0 or written > size:
        return None
    tokens = [int(t) for t in llama.input_ids[:n_tokens]]
    return Place(tokens, bytes(buffer)[:written], written)


def restore_place(llama: Llama, place: Place[bytes]) -> bool:
    """Make ``place`` the live prompt; on failure the cache is cleared and False returned."""
    ctx = llama.ctx
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), _SEQ, -1, -1)
    buffer = (ctypes.c_uint8 * place.nbytes).from_buffer_copy(place.state)
    if int(llama_cpp.llama_state_seq_set_data(ctx, buffer, place.nbytes, _SEQ)) == 0:
        llama.n_tokens = 0
        return False
    count = len(place.tokens)
    llama.input_ids[:count] = place.tokens
    llama.n_tokens = count
    # the logits are not restored: generate must decode at least one token first
    llama._requires_eval = True
    return True
