"""A FIM window wider than the cold one, where the KV cache already holds its start.

The cold window (see ``window_policy``) is what this machine evaluates from
scratch within the target time. But a prompt that starts where a cached prompt
starts reuses everything up to the first difference, so it can be much wider
for the same cost: after an accept, a jump up the same file, or a return to a
place the engine saved. Each cached prompt is remembered with its *anchor*,
the first characters of its prefix. A request may widen its prefix back to an
anchor, up to its wide budget, when the tokens that this adds beyond what is
cached still fit the cold window's budget. The widest such prompt wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from app.core.fim.budget import MAX_CHARS_PER_TOKEN
from app.core.fim.warm_places import common_prefix
from app.core.generation.contracts import FimRequest

# Characters of a prompt's prefix that identify where it starts.
ANCHOR_CHARS = 160

# A built prompt: its token ids and its anchor.
Built = tuple[list[int], str]


def anchor_of(prefix: str) -> str:
    """The anchor of a prompt whose (fitted) prefix is ``prefix``."""
    return prefix[:ANCHOR_CHARS]


def anchored_prefix(prefix: str, anchor: str, max_chars: int) -> str | None:
    """``prefix`` from the first line that starts with ``anchor`` within its last ``max_chars`` characters.

    Returns None when there is no such line (the anchored prompt would not share its start).
    """
    if not anchor:
        return None
    at = prefix.find(anchor, max(0, len(prefix) - max_chars))
    while at > 0 and prefix[at - 1] != "\n":
        at = prefix.find(anchor, at + 1)
    return None if at < 0 else prefix[at:]


def widest_prompt(
    build: Callable[[FimRequest], Built], request: FimRequest, warm: Sequence[tuple[str, Sequence[int]]]
) -> Built:
    """The widest prompt for ``request`` whose uncached tokens fit its cold window.

    Args:
        build: Fits a request to its budgets and returns its tokens and anchor.
        request: The request; ``prefix_tokens + suffix_tokens`` is the cold
            window, which also bounds the tokens a wider prompt may add;
            ``wide_prefix_tokens`` bounds a wider prompt's prefix.
        warm: (anchor, token ids) of each cached prompt: the live one and the saved places.

    Returns:
        The cold prompt, or a wider one anchored at a cached prompt's start.
    """
    best = build(request)
    if request.wide_prefix_tokens <= request.prefix_tokens:
        return best
    limit = request.prefix_tokens + request.suffix_tokens
    tried: set[str] = set()
    for anchor, cached in warm:
        if anchor in tried:
            continue
        tried.add(anchor)
        prefix = anchored_prefix(request.prefix, anchor, request.wide_prefix_tokens * MAX_CHARS_PER_TOKEN)
        if prefix is None:
            continue
        tokens, built_anchor = build(replace(request, prefix=prefix, prefix_tokens=request.wide_prefix_tokens))
        if built_anchor != anchor or len(tokens) <= len(best[0]):
            continue  # cut to fit the wide budget (no longer starts at the anchor), or no wider
        if len(tokens) - common_prefix(cached, tokens) <= limit:
            best = (tokens, built_anchor)
    return best
