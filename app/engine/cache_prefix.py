"""Small helpers for the part of a prompt the KV cache already holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.core.fim.warm_places import common_prefix

if TYPE_CHECKING:
    from llama_cpp import Llama


def reset_cache(llama: Llama) -> None:
    """Make ``llama`` evaluate the next prompt from its first token (``reset`` has no annotations)."""
    reset: Callable[[], None] = llama.reset
    reset()


def reusable_prefix(old: list[int], new: list[int]) -> int:
    """Tokens of ``new`` that need no evaluation after ``old`` was cached."""
    # generate() evaluates the last token again when the whole prompt is cached
    return min(common_prefix(old, new), max(len(new) - 1, 0))
