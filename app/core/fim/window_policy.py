"""How many tokens of text around the cursor a FIM prompt gets, from the machine's measured speed.

A jump to a new place means evaluating the whole window from scratch, so the
window is sized to what this machine evaluates within a target time (1 s by
default): ``tokens/s × target``, between a floor and the full budget. While
the user is idle the window grows toward the full budget, one step at a time;
the caller evaluates the bigger window in the background, so nobody waits for
it. A size the user pins wins over all of this.

Window sizes are rounded down to multiples of ``WINDOW_STEP`` tokens (a
quarter of that below ``4 × WINDOW_STEP``, where a slow model's windows are):
a speed estimate that drifts a little must not move the prefix's first line
on every request, because a stable start is what keeps the KV cache reusable.
"""

from __future__ import annotations

from dataclasses import dataclass

# Evaluations shorter than this say more about fixed costs than about speed.
MIN_MEASURED_TOKENS = 64
WINDOW_STEP = 128


@dataclass
class SpeedEstimate:
    """A smoothed prompt-evaluation speed (tokens per second) over real requests.

    Attributes:
        smoothing: The weight of each new measurement (exponential moving average).
        tokens_per_s: The estimate; 0.0 until something meaningful was measured.
        samples: How many evaluations went into it.
    """

    smoothing: float = 0.3
    tokens_per_s: float = 0.0
    samples: int = 0

    def observe(self, evaluated_tokens: int, eval_ms: float) -> bool:
        """Fold one evaluation in; return whether it counted.

        Args:
            evaluated_tokens: Prompt tokens evaluated (not reused from the KV cache).
            eval_ms: How long evaluating them took.
        """
        if evaluated_tokens < MIN_MEASURED_TOKENS or eval_ms <= 0:
            return False
        speed = evaluated_tokens * 1000.0 / eval_ms
        if self.samples == 0:
            self.tokens_per_s = speed
        else:
            self.tokens_per_s += self.smoothing * (speed - self.tokens_per_s)
        self.samples += 1
        return True

    def reset(self) -> None:
        """Forget everything (another model was loaded)."""
        self.tokens_per_s, self.samples = 0.0, 0


@dataclass(frozen=True)
class WindowPolicy:
    """The rules that turn a speed into a window (prefix plus suffix tokens).

    Attributes:
        target_s: How long a cold evaluation of the window may take.
        floor_tokens: The smallest window, however slow the machine.
        full_tokens: The full budget (the largest window).
        suffix_share: The part of the window that goes to the suffix.
        unmeasured_tokens: The window before any speed was measured.
        grow_after_s: Idle time before the first step up.
        grow_every_s: Idle time between further steps.
    """

    target_s: float = 1.0
    floor_tokens: int = 64
    full_tokens: int = 2048
    suffix_share: float = 0.25
    unmeasured_tokens: int = 64
    grow_after_s: float = 2.0
    grow_every_s: float = 2.0

    def __post_init__(self) -> None:
        if self.floor_tokens < 1 or self.full_tokens < self.floor_tokens:
            raise ValueError("the window's floor must be at least 1 and at most its full budget")
        if not 0.0 <= self.suffix_share < 1.0:
            raise ValueError("the suffix share must be in [0, 1)")
        if self.target_s <= 0 or self.grow_every_s <= 0:
            raise ValueError("times must be positive")

    def cold_window(self, tokens_per_s: float) -> int:
        """The window whose cold evaluation fits the target at ``tokens_per_s``."""
        if tokens_per_s <= 0:
            wanted = self.unmeasured_tokens
        else:
            wanted = int(tokens_per_s * self.target_s)
        step = WINDOW_STEP if wanted >= 4 * WINDOW_STEP else WINDOW_STEP // 4
        return self._clamp(wanted // step * step)

    def settle(self, current: int, tokens_per_s: float) -> int:
        """The cold window after a new speed estimate, with hysteresis.

        A window that is within a quarter (at least one step) of the new ideal
        stays: an estimate that wobbles between two steps must not flip the
        window, and with it the prompt's start, back and forth.

        Args:
            current: The cold window in use (0: none yet).
            tokens_per_s: The new speed estimate.
        """
        wanted = self.cold_window(tokens_per_s)
        if current and abs(wanted - current) <= max(WINDOW_STEP // 4, current // 4):
            return current
        return wanted

    def grown(self, window: int) -> int:
        """One step up from ``window``: twice as large, at most the full budget."""
        return self._clamp(max(window * 2, window + WINDOW_STEP))

    def window(
        self, tokens_per_s: float, *, idle_s: float = 0.0, pinned: int | None = None, cold: int | None = None
    ) -> int:
        """The window to use now.

        Args:
            tokens_per_s: The measured prompt-evaluation speed (0: not measured yet).
            idle_s: How long the user has not typed; each step of idleness doubles
                the window, up to the full budget.
            pinned: A size the user fixed; it is used as is (at least one token).
            cold: The cold window already settled for this speed (see ``settle``);
                None computes it from ``tokens_per_s``.

        Returns:
            The window in tokens, prefix and suffix together.
        """
        if pinned is not None:
            return max(1, pinned)
        window = self.cold_window(tokens_per_s) if cold is None else self._clamp(cold)
        if idle_s >= self.grow_after_s:
            steps = 1 + int((idle_s - self.grow_after_s) / self.grow_every_s)
            for _ in range(steps):
                if window >= self.full_tokens:
                    break
                window = self.grown(window)
        return window

    def split(self, window: int) -> tuple[int, int]:
        """Prefix and suffix budgets for a window, in the policy's proportion."""
        suffix = int(window * self.suffix_share)
        prefix = max(1, window - suffix)
        return prefix, suffix

    def _clamp(self, tokens: int) -> int:
        return max(self.floor_tokens, min(self.full_tokens, tokens))


def describe(window: int, tokens_per_s: float, pinned: bool) -> str:
    """One line for the user: the window and where its size came from."""
    how = "pinned" if pinned else "sized to this machine"
    speed = f"{tokens_per_s:.0f} prompt tokens/s measured" if tokens_per_s > 0 else "speed not measured yet"
    return f"completion window {window} tokens ({how}) · {speed}"


# A remote engine's window: its speed is the server's and is not measured here, and a server
# worth pointing Fimble at evaluates this much in well under a second. Pin a smaller window
# for a slow server.
REMOTE_WINDOW_TOKENS = 2048


def remote_window(n_ctx: int) -> int:
    """The window for a model on a remote server: ``REMOTE_WINDOW_TOKENS``, or half its context if smaller.

    Args:
        n_ctx: The context length the server reported; 0 when it did not say.
    """
    if n_ctx <= 0:
        return REMOTE_WINDOW_TOKENS
    return max(WINDOW_STEP, min(REMOTE_WINDOW_TOKENS, n_ctx // 2 // WINDOW_STEP * WINDOW_STEP))
