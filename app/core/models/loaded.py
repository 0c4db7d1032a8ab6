"""What an engine reports once a model is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.models.load_params import LoadParams

if TYPE_CHECKING:  # info imports gguf (and numpy), which the window does not need to open
    from app.core.models.info import ModelInfo


@dataclass(frozen=True)
class LoadedModel:
    """A model an engine has loaded: its inspected summary plus the facts of the load.

    ``n_ctx`` is the context the engine actually made (llama.cpp pads the one
    asked for), ``load_ms`` how long loading took, ``params`` the settings it
    was loaded with; ``vocab_only`` loads can build prompts but not generate.
    """

    info: ModelInfo
    n_ctx: int
    load_ms: float
    params: LoadParams
    vocab_only: bool = False
    warm_places_bytes: int = 0  # memory for warm completion places, resolved from the params
    kv_bytes_per_token: float = 0.0  # the KV cache's size per token at the load's cache type
