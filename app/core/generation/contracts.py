"""Plain, picklable requests and results that cross threads and processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# How a FIM prompt is laid out: "psm" (prefix, suffix, middle) or "spm"
# (suffix, prefix, middle). Families without an SPM layout use PSM.
FimOrder = Literal["psm", "spm"]
# One-off requests (the CLI, tests) use the layout every FIM model knows.
DEFAULT_FIM_ORDER: FimOrder = "psm"
# Completions while typing use SPM: it puts the text that changes with each
# keystroke last, so more of the KV cache survives from one request to the next.
TYPING_FIM_ORDER: FimOrder = "spm"


@dataclass(frozen=True)
class Sampling:
    """Sampling settings for one generation."""

    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int | None = None
    time_limit_s: float | None = None
    # Generate through end-of-generation tokens (benchmarks need fixed lengths).
    ignore_eos: bool = False
    # Reuse the KV cache of the previous prompt's common prefix (off: evaluate all).
    reuse_kv: bool = True

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must not be negative")


@dataclass(frozen=True)
class ContextChunk:
    """Another file given to a FIM prompt as context."""

    path: str
    text: str


@dataclass(frozen=True)
class FimRequest:
    """Fill in the middle between ``prefix`` and ``suffix``."""

    prefix: str
    suffix: str = ""
    path: str = ""
    chunks: tuple[ContextChunk, ...] = ()
    sampling: Sampling = field(default_factory=lambda: Sampling(max_tokens=64, temperature=0.0))
    # For a model without FIM tokens, continue the prefix instead of failing.
    allow_prefix_only: bool = False
    # The prompt layout; see FimOrder, DEFAULT_FIM_ORDER and TYPING_FIM_ORDER.
    order: FimOrder = DEFAULT_FIM_ORDER
    # Token budgets for the windows around the cursor, applied by the engine.
    prefix_tokens: int = 1536
    suffix_tokens: int = 512
    # A wider prefix budget for a prompt that starts where a cached one starts,
    # as long as what it adds fits the window above (see core/fim/anchored); 0: none.
    wide_prefix_tokens: int = 0
    # Stop at the first newline (completions inside a line).
    single_line: bool = False
    # Evaluate the prompt into the KV cache and sample nothing (a warm-up
    # before the user types; finish_reason "prompt").
    prompt_only: bool = False

    def __post_init__(self) -> None:
        if self.order not in ("psm", "spm"):
            raise ValueError("order must be 'psm' or 'spm'")
        if self.prefix_tokens < 1 or self.suffix_tokens < 0:
            raise ValueError("token budgets must be positive")


@dataclass(frozen=True)
class ChatMessage:
    """One turn; ``role`` is "system", "user" or "assistant"."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ("system", "user", "assistant"):
            raise ValueError(f"unknown chat role {self.role!r}")


@dataclass(frozen=True)
class ChatRequest:
    """Answer the last user message of ``messages``.

    ``overflow`` is what happens when the conversation outgrows the context:
    "drop_oldest" leaves out the oldest turns (never the system prompt),
    "stop" refuses with a plain message.
    """

    messages: tuple[ChatMessage, ...]
    sampling: Sampling = field(default_factory=Sampling)
    overflow: str = "drop_oldest"


@dataclass(frozen=True)
class GenerationStats:
    """What a finished generation measured, not estimated."""

    prompt_tokens: int
    reused_tokens: int
    generated_tokens: int
    prompt_ms: float
    ttft_ms: float
    total_ms: float
    tokens_per_s: float
    finish_reason: str  # "stop", "length", "time", "cancelled", "repetition", "prompt" (prompt_only)
    n_ctx: int = 0  # the context length the prompt had to fit
    dropped_turns: int = 0  # turns left out to fit the context
    notice: str | None = None  # one line for the user about the above
    restored_tokens: int = 0  # prompt tokens that came back with a saved place (see core/fim/warm_places)
    evaluated_tokens: int = 0  # prompt tokens in the KV cache afterwards (fewer when a cancel cut evaluation short)
    prompt_eval_ms: float = 0.0  # evaluating the new prompt tokens only (``prompt_ms`` also counts building the prompt)
    threads: int = 0  # CPU threads the prompt was evaluated with (fewer while other programs keep cores busy)
