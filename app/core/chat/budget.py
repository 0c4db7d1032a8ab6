"""Fit a chat conversation into the model's context, leaving room for the answer.

Two policies decide what happens when the prompt plus the answer's reserve
does not fit ``n_ctx``:

* ``"drop_oldest"`` leaves out the oldest turns (a user message and the
  answers that follow it) after the system message. The system message and
  the last user message are always kept. When even those two do not fit, the
  last user message loses lines from its start, so the end of it (usually the
  question, after pasted code) survives.
* ``"stop"`` never changes the conversation; it only reports that it does
  not fit.

Counting tokens means building and tokenizing the whole prompt, so the search
for how much to leave out is a binary search: O(log n) counts, not O(n).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.core.generation.contracts import ChatMessage

POLICIES = ("drop_oldest", "stop")
# Put before a message whose start was cut, so the model knows text is missing.
TRIM_MARKER = "[…the start of this message was cut to fit the context…]\n"

CountTokens = Callable[[Sequence[ChatMessage]], int]


@dataclass(frozen=True)
class BudgetResult:
    """What ``fit_conversation`` kept and why.

    Attributes:
        messages: The messages to send (the input unchanged when nothing fit).
        dropped: How many earlier turns were left out.
        trimmed: Whether the last user message lost its start.
        prompt_tokens: The token count of ``messages`` as a prompt.
        fits: Whether prompt plus reserve fits the context.
        notice: A one-line message for the user, or None when all was kept.
    """

    messages: tuple[ChatMessage, ...]
    dropped: int
    trimmed: bool
    prompt_tokens: int
    fits: bool
    notice: str | None


def fit_conversation(
    messages: Sequence[ChatMessage],
    count_tokens: CountTokens,
    n_ctx: int,
    reserve: int,
    policy: str = "drop_oldest",
) -> BudgetResult:
    """Return the messages to send so that the prompt plus ``reserve`` fits ``n_ctx``.

    Args:
        messages: The conversation; an optional system message first, and at
            least one user message (the last one is the one to answer).
        count_tokens: Returns the token count of the whole prompt the engine
            would build for the given messages. It is assumed that fewer or
            shorter messages never count more.
        n_ctx: The model's context length in tokens.
        reserve: Tokens kept free for the answer (its max tokens).
        policy: ``"drop_oldest"`` or ``"stop"``.

    Returns:
        The result. ``fits`` is False, with a notice, under ``"stop"`` when the
        conversation is too long, and under ``"drop_oldest"`` when not even
        the system message and the end of the last user message fit.

    Raises:
        ValueError: Unknown policy, a context or reserve out of range, or no
            user message.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown context policy {policy!r}")
    if n_ctx < 1 or reserve < 0:
        raise ValueError("n_ctx must be positive and reserve not negative")
    messages = tuple(messages)
    last_user = _last_user_index(messages)
    budget = n_ctx - reserve

    full = count_tokens(messages)
    if full <= budget:
        return BudgetResult(messages, 0, False, full, True, None)
    if policy == "stop":
        return _failure(messages, full, n_ctx)

    head = messages[:1] if messages[0].role == "system" else ()
    turns = _split_turns(messages[len(head) : last_user])
    tail = messages[last_user:]

    def build(dropped: int) -> tuple[ChatMessage, ...]:
        return head + tuple(m for turn in turns[dropped:] for m in turn) + tail

    if turns:
        # Invariant: dropping ``hi`` turns fits and counts ``tokens``;
        # dropping ``lo - 1`` does not fit.
        lo, hi = 1, len(turns)
        tokens = count_tokens(build(hi))
        if tokens <= budget:
            while lo < hi:
                mid = (lo + hi) // 2
                mid_tokens = count_tokens(build(mid))
                if mid_tokens <= budget:
                    hi, tokens = mid, mid_tokens
                else:
                    lo = mid + 1
            return BudgetResult(build(hi), hi, False, tokens, True, _dropped_notice(hi, n_ctx))
    return _trim_last_user(messages, head, tail, len(turns), count_tokens, budget, n_ctx, full)


def context_usage(prompt_tokens: int, n_ctx: int) -> float:
    """Return the share of the context a prompt uses, clamped to 0..1.

    Args:
        prompt_tokens: Tokens in the prompt.
        n_ctx: The context length.

    Returns:
        ``prompt_tokens / n_ctx``, between 0.0 and 1.0.

    Raises:
        ValueError: ``n_ctx`` is not positive.
    """
    if n_ctx < 1:
        raise ValueError("n_ctx must be positive")
    return min(1.0, max(0.0, prompt_tokens / n_ctx))


def _last_user_index(messages: tuple[ChatMessage, ...]) -> int:
    """Return the index of the last user message; raise if there is none."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return index
    raise ValueError("the conversation has no user message to answer")


def _split_turns(middle: tuple[ChatMessage, ...]) -> list[tuple[ChatMessage, ...]]:
    """Group messages into turns, each starting at a user message."""
    turns: list[list[ChatMessage]] = []
    for message in middle:
        if message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return [tuple(turn) for turn in turns]


def _trim_last_user(
    messages: tuple[ChatMessage, ...],
    head: tuple[ChatMessage, ...],
    tail: tuple[ChatMessage, ...],
    dropped: int,
    count_tokens: CountTokens,
    budget: int,
    n_ctx: int,
    full: int,
) -> BudgetResult:
    """Cut the start of the last user message until the prompt fits."""
    content, after = tail[0].content, tail[1:]

    def build(cut: int) -> tuple[ChatMessage, ...]:
        return head + (ChatMessage("user", TRIM_MARKER + content[cut:]),) + after

    # Cut points: line starts first (keeping whole lines), then characters
    # of the last line, so that one huge line still keeps its end. Cutting
    # nothing is known not to fit; ``len(cuts)`` stands for "nothing fits".
    line_starts = [i + 1 for i, ch in enumerate(content) if ch == "\n" and i + 1 < len(content)]
    last_start = line_starts[-1] if line_starts else 0
    cuts = [0, *line_starts, *range(last_start + 1, len(content))]
    lo, hi, tokens = 1, len(cuts), None
    while lo < hi:
        mid = (lo + hi) // 2
        mid_tokens = count_tokens(build(cuts[mid]))
        if mid_tokens <= budget:
            hi, tokens = mid, mid_tokens
        else:
            lo = mid + 1
    if tokens is None:
        system_only = head + (ChatMessage("user", ""),)
        too_big = bool(head) and count_tokens(system_only) > budget
        return _failure(messages, full, n_ctx, system=too_big)
    notice = _trimmed_notice(dropped, n_ctx)
    return BudgetResult(build(cuts[hi]), dropped, True, tokens, True, notice)


def _failure(messages: tuple[ChatMessage, ...], tokens: int, n_ctx: int, system: bool = False) -> BudgetResult:
    """Return the unchanged conversation marked as not fitting."""
    if system:
        notice = (
            f"The system prompt alone does not fit the {n_ctx:,}-token context with room "
            "for the answer; shorten it, lower the max tokens or raise the context length"
        )
    else:
        notice = (
            f"This conversation no longer fits the {n_ctx:,}-token context; "
            "start a new chat or raise the context length"
        )
    return BudgetResult(messages, 0, False, tokens, False, notice)


def _turns(count: int) -> str:
    """Return "1 earlier turn was" or "N earlier turns were"."""
    return "1 earlier turn was" if count == 1 else f"{count:,} earlier turns were"


def _dropped_notice(dropped: int, n_ctx: int) -> str:
    """Return the notice for turns left out."""
    return f"{_turns(dropped)} left out to fit the {n_ctx:,}-token context"


def _trimmed_notice(dropped: int, n_ctx: int) -> str:
    """Return the notice for a cut last message."""
    if dropped:
        return f"{_turns(dropped)} left out and the start of your message was cut to fit the {n_ctx:,}-token context"
    return f"The start of your message was cut to fit the {n_ctx:,}-token context"
