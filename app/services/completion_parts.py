"""The plain pieces of CompletionService: the editor's snapshot, the tuning, a request in flight, the speed probe."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.fim.post import postprocess
from app.core.generation.contracts import TYPING_FIM_ORDER, FimOrder, FimRequest, GenerationStats, Sampling

# The speed probe sent when a model loads: code-like text, cut to PROBE_TOKENS (at least
# the 64 tokens a speed measurement needs, whatever the vocabulary).
PROBE_TOKENS = 96
PROBE_TEXT = "".join(
    f"def scale_{i}(values, factor):\n    return [value * factor + {i} for value in values]\n\n\n" for i in range(12)
)
# How long the cursor must rest after a move (no typing) before its window is warmed.
SETTLE_MS = 150


@dataclass(frozen=True)
class EditorSnapshot:
    """The editor's state when a completion is wanted."""

    path: str
    prefix: str
    suffix: str
    language: str = "plaintext"


@dataclass
class CompletionTuning:
    """The service's internal knobs for editor completions.

    They are fixed in code: never shown to the user nor saved with the
    settings. Benchmarks and tests change them to compare variants.
    """

    order: FimOrder = TYPING_FIM_ORDER
    reuse_kv: bool = True  # evaluate only what changed since the previous prompt
    use_cache: bool = True  # answer repeated contexts from the suggestion cache
    max_tokens_line: int = 32
    max_tokens_block: int = 128
    time_limit_s: float = 2.0
    # The full window; ``adaptive_window`` sizes a smaller one to the machine (see window_policy).
    prefix_tokens: int = 1536
    suffix_tokens: int = 512
    adaptive_window: bool = True
    window_target_s: float = 1.0  # a cold evaluation of the window should take about this long
    window_grow_after_s: float = 2.0  # idle time before the window grows in the background
    window_grow_every_s: float = 2.0  # and between further steps


@dataclass
class InFlight:
    """The one request whose answer is still wanted."""

    job: int
    snapshot: EditorSnapshot
    started: float
    multiline: bool
    parts: list[str] = field(default_factory=list)
    shown: str = ""

    def text(self) -> str:
        """The answer so far, post-processed for display."""
        return postprocess("".join(self.parts), self.snapshot.prefix, self.snapshot.suffix, self.multiline)


def probe_request(tuning: CompletionTuning) -> FimRequest:
    """A short prompt-only request that measures the prompt speed when a model loads.

    The first jump of a session then gets a window sized to this machine, not
    a guess (on a slow model the guess took 10 s). A warm-up waits for it; a
    real request cancels it, and what it evaluated still counts.
    """
    sampling = Sampling(max_tokens=1, temperature=0.0, reuse_kv=tuning.reuse_kv)
    return FimRequest(
        PROBE_TEXT, sampling=sampling, allow_prefix_only=True, prefix_tokens=PROBE_TOKENS, prompt_only=True
    )


def cut_short(stats: GenerationStats) -> bool:
    """Whether a cancel stopped a request before its whole prompt was in the KV cache."""
    return stats.finish_reason == "cancelled" and (
        stats.prompt_tokens == 0 or stats.evaluated_tokens < stats.prompt_tokens
    )


def blank(text: str) -> bool:
    return not text or text.isspace()
