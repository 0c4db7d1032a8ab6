"""Which saved prompt states to keep, so that going back to a place needs no new evaluation.

A completion engine holds one prompt in its KV cache. When the cursor moves to
another file, the next prompt shares little with it and the old cache is
overwritten. The engine first saves it here as a *place*: the prompt's tokens
and an opaque copy of the cache. When a later prompt shares much more with a
saved place than with the live cache, the engine puts that place back and
evaluates only the difference.

This module is the bookkeeping alone: which places to keep within a byte
budget (least recently used go first), and which one suits a prompt best.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

# A place is worth saving, or restoring, only when it spares this many tokens. Small: a slow
# model's window is small too (64 tokens for a 2B model on 2 cores), and copying a cache back
# costs far less than evaluating even a few tokens again.
MIN_PLACE_TOKENS = 16
# The places kept at most, whatever the budget: the current file's and a few before.
MAX_PLACES = 4
# Tokens a place holds at most: the full completion window (1,536 + 512) and the FIM layout.
PLACE_TOKENS = 2048 + 64
# The automatic budget takes at most this part of the memory free when the model loads.
MAX_RAM_SHARE = 0.25

_T = TypeVar("_T")


def common_prefix(old: Sequence[int], new: Sequence[int]) -> int:
    """How many leading tokens two prompts share."""
    count = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        count += 1
    return count


def auto_budget_bytes(kv_bytes_per_token: float, free_ram_bytes: int) -> int:
    """The memory for warm places when the user left it to Fimble.

    Enough for ``MAX_PLACES`` full completion windows at this model's KV size
    per token (a 7B model's places are twenty times a 270M model's), but never
    more than ``MAX_RAM_SHARE`` of the memory that is free.
    """
    wanted = int(MAX_PLACES * PLACE_TOKENS * kv_bytes_per_token)
    return max(0, min(wanted, int(free_ram_bytes * MAX_RAM_SHARE)))


def describe_budget(budget_bytes: int, kv_bytes_per_token: float) -> str:
    """One line for the user: the memory for warm places and the windows it holds."""
    if budget_bytes <= 0:
        return "warm places off"
    per_place = PLACE_TOKENS * kv_bytes_per_token
    places = min(MAX_PLACES, int(budget_bytes // per_place)) if per_place > 0 else MAX_PLACES
    return f"warm places {budget_bytes / 2**20:.0f} MiB ({places} full windows)"


@dataclass
class Place(Generic[_T]):
    """One saved prompt state: its tokens, the engine's copy of its cache, that copy's size, its anchor."""

    tokens: list[int]
    state: _T
    nbytes: int
    anchor: str = ""  # where its prompt's prefix starts (see core/fim/anchored)


@dataclass
class WarmPlaces(Generic[_T]):
    """Saved places, most recently used last, within ``budget_bytes`` together.

    Attributes:
        budget_bytes: The most memory all saved copies may take; 0 keeps none.
        places: The saved places, oldest use first.
    """

    budget_bytes: int
    places: list[Place[_T]] = field(default_factory=list)

    @property
    def used_bytes(self) -> int:
        """Memory the saved copies take now."""
        return sum(p.nbytes for p in self.places)

    def worth_saving(self, live: Sequence[int], prompt: Sequence[int]) -> bool:
        """Whether the live cache is about to be lost and is worth keeping.

        It is when the new prompt keeps less than half of it and it is long
        enough to matter.
        """
        return (
            self.budget_bytes > 0
            and len(live) >= MIN_PLACE_TOKENS
            and common_prefix(live, prompt) < len(live) // 2
            and not any(p.tokens == list(live) for p in self.places)
        )

    def remember(self, place: Place[_T]) -> bool:
        """Keep ``place``, dropping the least recently used ones to fit; False if it alone is too big."""
        if place.nbytes > self.budget_bytes:
            return False
        self.places = [p for p in self.places if p.tokens != place.tokens]
        self.places.append(place)
        while len(self.places) > MAX_PLACES or self.used_bytes > self.budget_bytes:
            self.places.pop(0)
        return True

    def take_best(self, prompt: Sequence[int], live_shared: int) -> tuple[Place[_T], int] | None:
        """Remove and return the place sharing the most with ``prompt``, and how much it shares.

        Only a place that shares at least ``MIN_PLACE_TOKENS`` more than the live
        cache does (``live_shared``) is worth the swap.
        """
        best: tuple[int, int] | None = None
        for index, place in enumerate(self.places):
            shared = common_prefix(place.tokens, prompt)
            if best is None or shared > best[1]:
                best = (index, shared)
        if best is None or best[1] < live_shared + MIN_PLACE_TOKENS:
            return None
        return self.places.pop(best[0]), best[1]
