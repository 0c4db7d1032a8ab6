"""Fit a FIM request's prefix and suffix into token budgets, on line boundaries.

The prefix keeps its last lines and the suffix its first lines. The prefix's
first kept line is snapped to a multiple of ``SNAP_LINES`` (fewer for a small
window, which gives up at most a quarter of its lines), so that typing does
not slide the window by a line on every keystroke: a stable start is what
lets the engine reuse its KV cache.
"""

from __future__ import annotations

from dataclasses import replace

from app.core.generation.contracts import FimRequest
from app.core.generation.vocab import Vocab

SNAP_LINES = 16
# An upper bound on characters per token, to pre-cut huge texts before tokenizing.
MAX_CHARS_PER_TOKEN = 8


def fit_request(vocab: Vocab, request: FimRequest) -> FimRequest:
    """Return ``request`` with prefix and suffix cut to their token budgets.

    Args:
        vocab: The model's vocabulary, for counting tokens.
        request: The request with full (or generously pre-cut) texts.

    Returns:
        A request whose prefix has at most ``prefix_tokens`` tokens and whose
        suffix has at most ``suffix_tokens``, both cut between lines.
    """
    prefix = _fit_prefix(vocab, request.prefix, request.prefix_tokens)
    suffix = _fit_suffix(vocab, request.suffix, request.suffix_tokens)
    if prefix is request.prefix and suffix is request.suffix:
        return request
    return replace(request, prefix=prefix, suffix=suffix)


def _count(vocab: Vocab, text: str) -> int:
    return len(vocab.tokenize(text, special=False)) if text else 0


def _fit_prefix(vocab: Vocab, prefix: str, budget: int) -> str:
    if len(prefix) <= budget or _count(vocab, prefix) <= budget:
        return prefix
    lines = prefix.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    # Lines [lo, len) might fit; find the smallest start line that does.
    lo = 0
    while len(prefix) - starts[lo] > budget * MAX_CHARS_PER_TOKEN and lo < len(lines) - 1:
        lo += 1
    hi = len(lines) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _count(vocab, prefix[starts[mid] :]) <= budget:
            hi = mid
        else:
            lo = mid + 1
    # A small window would lose much of itself to a full snap: give up at most a quarter of its lines.
    step = max(1, min(SNAP_LINES, (len(lines) - lo) // 4))
    snapped = min(-(-lo // step) * step, len(lines) - 1)
    cut = prefix[starts[snapped] :]
    if _count(vocab, cut) > budget:  # the cursor's own line is longer than the budget
        tokens = vocab.tokenize(cut, special=False)[-budget:]
        return _tail_text(cut, len(tokens))
    return cut


def _tail_text(text: str, keep_tokens: int) -> str:
    # Rough cut for a single enormous line: keep about keep_tokens * 4 characters.
    return text[-keep_tokens * 4 :]


def _fit_suffix(vocab: Vocab, suffix: str, budget: int) -> str:
    if budget == 0:
        return ""
    if len(suffix) <= budget or _count(vocab, suffix) <= budget:
        return suffix
    lines = suffix.split("\n")
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = _count(vocab, line + "\n")
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    if not kept:
        return suffix[: budget * 4]
    return "\n".join(kept) + "\n"
