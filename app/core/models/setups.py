"""First-run setups: which catalog model to fetch for each role on this machine.

The welcome card offers one model per role before anything is downloaded, so
the GGUF header that ``memory_fit`` usually reads is not there yet. The few
models offered have known shapes (the published Gemma 2B and 7B
configurations) and known file sizes at each quantization, close to what the
community repositories hold; the pull itself takes the real file from the Hub.

Pure functions: the caller passes the free RAM and VRAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.machine import human_bytes
from app.core.models.catalog import CatalogEntry, find_entry
from app.core.models.fit import MemoryFit, memory_fit

if TYPE_CHECKING:  # pragma: no cover
    from app.core.models.info import ModelInfo  # with gguf and numpy: imported when a model is sized

CHAT = "chat"
COMPLETION = "completion"


@dataclass(frozen=True)
class Shape:
    """The parts of a model's configuration that size its KV cache."""

    n_layers: int
    n_head_kv: int
    head_dim: int
    parameters: int


GEMMA_7B = Shape(n_layers=28, n_head_kv=16, head_dim=256, parameters=8_540_000_000)
GEMMA_2B = Shape(n_layers=18, n_head_kv=1, head_dim=256, parameters=2_510_000_000)

# (catalog key, type) -> (shape, file size in bytes), best first per role.
_CHAT_LADDER: tuple[tuple[str, str, Shape, int], ...] = (
    ("codegemma-1.1-7b-it", "Q4_K_M", GEMMA_7B, 5_330_000_000),
    ("codegemma-1.1-7b-it", "Q3_K_M", GEMMA_7B, 4_370_000_000),
    ("codegemma-1.1-7b-it", "Q2_K", GEMMA_7B, 3_480_000_000),
)
_COMPLETION_LADDER: tuple[tuple[str, str, Shape, int], ...] = (
    ("codegemma-2b", "Q4_K_M", GEMMA_2B, 1_630_000_000),
    ("codegemma-2b", "Q3_K_M", GEMMA_2B, 1_380_000_000),
)


class PlannedModel:
    """A model not downloaded yet, sized from its known shape (what ``memory_fit`` reads)."""

    def __init__(self, entry: CatalogEntry, quant: str, shape: Shape, size_bytes: int) -> None:
        from app.core.models.info import ModelInfo

        self.shape = shape
        self._info = ModelInfo(
            path="",
            name=f"{entry.title} {quant}",
            architecture="gemma",
            family=entry.family,
            file_type=quant,
            context_length=8192,
            parameters=shape.parameters,
            has_chat_template=CHAT in entry.roles,
            size_bytes=size_bytes,
            fim={} if COMPLETION in entry.roles else None,
            can_chat=CHAT in entry.roles,
            n_layers=shape.n_layers,
            weights_bytes=size_bytes,
        )

    @property
    def info(self) -> ModelInfo:
        """The summary ``memory_fit`` reads."""
        return self._info

    def kv_cache_bytes(self, n_ctx: int, cache_type: str = "f16") -> int:
        """The KV cache at ``n_ctx`` tokens."""
        from app.core.models.info import kv_bytes

        shape = self.shape
        return kv_bytes(shape.n_layers, shape.n_head_kv, shape.head_dim, shape.head_dim, max(n_ctx, 0), cache_type)


@dataclass(frozen=True)
class Setup:
    """One offered model for one role, and how it fits this machine.

    Attributes:
        role: ``chat`` or ``completion``.
        entry: The catalog model.
        quant: The quantization to fetch (or make).
        size_bytes: About how large the file is.
        fit: ``memory_fit`` at the role's context length.
        step_down: How many types below the best this is (0: the best).
    """

    role: str
    entry: CatalogEntry
    quant: str
    size_bytes: int
    fit: MemoryFit
    step_down: int = 0

    @property
    def title(self) -> str:
        """E.g. ``Chat: CodeGemma 1.1 7B-it Q4_K_M (5.3 GB)``."""
        return f"{self.role.capitalize()}: {self.entry.title} {self.quant} ({human_bytes(self.size_bytes)})"

    @property
    def where(self) -> str:
        """Where it runs: ``fits in VRAM``, ``fits in RAM``, ``20 of 28 layers on the GPU``, ``does not fit``."""
        fit = self.fit
        if not fit.fits_ram:
            return "does not fit in free memory"
        if fit.fits_vram:
            return "fits in VRAM"
        if fit.suggested_gpu_layers > 0:
            return f"{fit.suggested_gpu_layers} layers on the GPU, the rest in RAM"
        return "fits in RAM"

    @property
    def speed(self) -> str:
        """One honest line on what to expect."""
        fit = self.fit
        parts: list[str] = []
        if not fit.fits_ram:
            parts.append(
                f"needs about {human_bytes(fit.estimate_bytes)}: it would swap and crawl; close other programs"
                " first, or keep the starter"
            )
        elif fit.fits_vram:
            parts.append("runs on the GPU: quick")
        elif self.role == COMPLETION:
            parts.append("small enough for quick completions on the CPU")
        elif fit.suggested_gpu_layers > 0:
            parts.append("split between GPU and CPU: answers come at a moderate pace")
        else:
            parts.append("runs on the CPU: expect a few words a second")
        if self.step_down and fit.fits_ram:
            how = "a little" if self.step_down == 1 else "noticeably"
            parts.append(f"a smaller quantization so it fits, {how} less accurate than Q4_K_M")
        return "; ".join(parts)


def _best(
    role: str,
    ladder: tuple[tuple[str, str, Shape, int], ...],
    n_ctx: int,
    ram_bytes: int,
    vram_bytes: int | None,
    cache_type: str,
) -> Setup:
    for step, (key, quant, shape, size) in enumerate(ladder):
        entry = find_entry(key)
        if entry is None:  # pragma: no cover - the ladders name catalog keys
            raise KeyError(key)
        model = PlannedModel(entry, quant, shape, size)
        fit = memory_fit(model, n_ctx, ram_bytes=ram_bytes, vram_bytes=vram_bytes, cache_type=cache_type)
        setup = Setup(role, entry, quant, size, fit, step)
        if fit.fits_ram:
            return setup
    return setup  # nothing fits: the smallest (the ladder's last), and its note says so


def choose_setups(
    ram_bytes: int,
    vram_bytes: int | None,
    *,
    chat_ctx: int = 4096,
    completion_ctx: int = 4096,
    cache_type: str = "f16",
) -> dict[str, Setup]:
    """Pick a model for each role that fits this machine, both running at once.

    The completion model is picked first (small, and the editor needs it
    quick); the chat model gets what it leaves: its estimate comes off the
    VRAM when it fits there whole, else off the RAM.

    Args:
        ram_bytes: Free RAM.
        vram_bytes: Free VRAM; None or 0 without a GPU.
        chat_ctx: The chat role's context length.
        completion_ctx: The completion role's context length.
        cache_type: K/V cache element type.

    Returns:
        ``{"chat": Setup, "completion": Setup}``.
    """
    completion = _best(COMPLETION, _COMPLETION_LADDER, completion_ctx, ram_bytes, vram_bytes, cache_type)
    ram_left, vram_left = ram_bytes, vram_bytes
    if completion.fit.fits_vram and vram_left:
        vram_left = max(vram_left - completion.fit.estimate_bytes, 0)
    else:
        ram_left = max(ram_left - completion.fit.estimate_bytes, 0)
    chat = _best(CHAT, _CHAT_LADDER, chat_ctx, ram_left, vram_left, cache_type)
    return {CHAT: chat, COMPLETION: completion}
