"""Which model suits which role, and how a model fits in RAM and VRAM.

Pure functions over inspected metadata; the library, the model manager and
the CLI call them. Nothing here reads files or asks the machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.core.machine import human_bytes

if TYPE_CHECKING:  # pragma: no cover
    from app.core.models.info import ModelInfo  # with gguf and numpy: not needed at the first paint
    from app.core.models.library import LibraryModel

ROLES = ("chat", "completion")
CODE_FAMILIES = frozenset({"codegemma", "codellama"})
# Families whose instruction-tuned models were also trained to fill in the
# middle (Code Llama Instruct 7B/13B); CodeGemma's -it models were not.
INFILLING_INSTRUCT_FAMILIES = frozenset({"codellama"})
# Compute buffers llama.cpp allocates next to weights and KV cache: a fixed
# part plus a part growing with the context (attention scores, logits). A
# rough figure that errs on the safe side for 2B-13B models.
COMPUTE_BASE_BYTES = 300 * 1024 * 1024
COMPUTE_BYTES_PER_TOKEN = 32 * 1024
_INSTRUCT_WORDS = frozenset({"it", "instruct", "chat"})


def compute_buffer_bytes(n_ctx: int) -> int:
    """Estimate llama.cpp's compute buffers at ``n_ctx`` tokens (see the constants)."""
    return COMPUTE_BASE_BYTES + COMPUTE_BYTES_PER_TOKEN * max(n_ctx, 0)


def instruct_named(info: ModelInfo) -> bool:
    """Whether the model's name or file name marks it instruction-tuned (-it, Instruct, chat)."""
    text = f"{info.name} {Path(info.path).stem}".lower()
    return not _INSTRUCT_WORDS.isdisjoint(re.split(r"[^a-z0-9]+", text))


def chat_tuned(info: ModelInfo) -> bool:
    """Whether the model is made for chat rather than for filling in code.

    The name is the strong signal. A chat template counts only when the model
    has no FIM tokens, because some base-model files carry a template too.
    """
    return instruct_named(info) or (info.has_chat_template and not info.can_complete)


def _fits(info: ModelInfo, ram_bytes: int | None) -> bool:
    return ram_bytes is None or info.weights_bytes <= ram_bytes


def _chat_key(model: LibraryModel, info: ModelInfo, ram_bytes: int | None) -> tuple[bool, bool, bool, int, str]:
    return (_fits(info, ram_bytes), instruct_named(info), info.has_chat_template, info.parameters, model.name)


def _completion_key(
    model: LibraryModel, info: ModelInfo, ram_bytes: int | None, gpu: bool
) -> tuple[bool, bool, int, int, str]:
    base = 0 if instruct_named(info) else 1 if info.has_chat_template else 2
    size = info.parameters if gpu else -info.parameters
    return (_fits(info, ram_bytes), info.family in CODE_FAMILIES, base, size, model.name)


def suggest_assignments(
    models: Iterable[LibraryModel], *, ram_bytes: int | None = None, gpu: bool = False
) -> dict[str, LibraryModel | None]:
    """Pick a model for chat and one for completion.

    Chat, among models that can chat (a chat template, an instruct name or
    turn tokens in the vocabulary), ranks by: weights fit in ``ram_bytes``;
    named -it/Instruct/chat; has a chat template; more parameters.

    Completion, among models with FIM tokens, ranks by: weights fit in
    ``ram_bytes``; CodeGemma or Code Llama family; base model over one with
    only a template over an instruct-named one; then, without a GPU, fewer
    parameters (completions must be quick on a CPU), with one, more.

    Fitting in RAM ranks first but does not filter: when nothing fits, the
    best of the rest is still suggested (``memory_fit`` tells the user).
    Ties go to the name that sorts last, so the choice is stable.

    Args:
        models: Library models; unreadable ones are skipped.
        ram_bytes: Memory the model may use; None to ignore memory.
        gpu: Whether layers can be offloaded to a GPU.

    Returns:
        ``{"chat": model or None, "completion": model or None}``.
    """
    usable = [(m, m.info) for m in models if m.info is not None]
    chat = [(m, info) for m, info in usable if info.can_chat]
    completion = [(m, info) for m, info in usable if info.can_complete]
    best_chat = max(chat, key=lambda pair: _chat_key(pair[0], pair[1], ram_bytes), default=None)
    best_completion = max(completion, key=lambda pair: _completion_key(pair[0], pair[1], ram_bytes, gpu), default=None)
    return {
        "chat": best_chat[0] if best_chat else None,
        "completion": best_completion[0] if best_completion else None,
    }


def assignment_warnings(info: ModelInfo, role: str) -> list[str]:
    """Say what will go wrong when ``info``'s model serves ``role``.

    Args:
        info: The model.
        role: ``chat`` or ``completion``.

    Returns:
        One-line warnings; empty when the model suits the role.

    Raises:
        ValueError: An unknown role.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected chat or completion")
    name = info.name
    warnings: list[str] = []
    if role == "chat":
        if not info.can_chat:
            warnings.append(
                f"{name} has no chat template, so chat answers will be continuations of your text or"
                " garbage; base models such as CodeGemma 2B/7B are for completion, the -it and"
                " Instruct models for chat"
            )
        elif info.can_complete and not info.has_chat_template and not instruct_named(info):
            warnings.append(
                f"{name} looks like a base completion model (fill-in-the-middle tokens, no chat"
                " template), so it may ramble instead of answering; pick an -it or Instruct model for chat"
            )
        return warnings
    if not info.can_complete:
        warnings.append(
            f"{name} has no fill-in-the-middle tokens, so completions will ignore the code after the"
            " cursor or be garbage; pick a completion model such as CodeGemma 2B/7B or Code Llama 7B/13B"
        )
    if chat_tuned(info) and info.family not in INFILLING_INSTRUCT_FAMILIES:
        warnings.append(
            f"{name} is tuned for chat, not for filling in code, so completions may be chatty or"
            " poor; a base model such as CodeGemma 2B/7B completes code better"
        )
    return warnings


class Sized(Protocol):
    """What ``memory_fit`` reads of a model: an ``InspectedModel``, or a known shape before download."""

    @property
    def info(self) -> ModelInfo: ...  # noqa: D102

    def kv_cache_bytes(self, n_ctx: int, cache_type: str = ...) -> int: ...  # noqa: D102


@dataclass(frozen=True)
class MemoryFit:
    """How a model at a context length fits the machine.

    Attributes:
        estimate_bytes: Weights, KV cache and compute buffers together.
        kv_bytes: The KV cache alone.
        fits_ram: Whether what stays on the CPU fits in the free RAM.
        fits_vram: Whether the whole model fits in VRAM; None without a GPU.
        suggested_gpu_layers: Layers to offload: -1 all, 0 none, else a count.
        note: One line for the UI, e.g. "needs about 5.6 GB at 8192 tokens;
            24.0 GB RAM free; all 28 layers fit in 7.8 GB VRAM".
    """

    estimate_bytes: int
    kv_bytes: int
    fits_ram: bool
    fits_vram: bool | None
    suggested_gpu_layers: int
    note: str


def memory_fit(
    model: Sized,
    n_ctx: int,
    *,
    ram_bytes: int,
    vram_bytes: int | None,
    cache_type: str = "f16",
) -> MemoryFit:
    """Estimate memory use and suggest how many layers to offload.

    Each of the ``n_layers`` blocks is taken to weigh ``weights / (n_layers
    + 1)``: embeddings and output count as one more block. Offloaded layers
    take their share of the KV cache to the GPU, and the compute buffers
    (``compute_buffer_bytes``) are reserved out of VRAM first. Everything is
    approximate; llama.cpp's own figures vary with backend and batch size.

    Args:
        model: The inspected model.
        n_ctx: Context length in tokens.
        ram_bytes: Free RAM.
        vram_bytes: Free VRAM; None or 0 when there is no GPU.
        cache_type: K/V cache element type (``f16``, ``q8_0``, …).

    Returns:
        The estimate and the suggestion.
    """
    info = model.info
    weights = info.weights_bytes
    kv = model.kv_cache_bytes(n_ctx, cache_type)
    compute = compute_buffer_bytes(n_ctx)
    estimate = weights + kv + compute
    layers = info.n_layers or 0
    head = f"needs about {human_bytes(estimate)} at {n_ctx} tokens; {human_bytes(ram_bytes)} RAM free"

    if not vram_bytes or vram_bytes <= 0:
        fits_ram = estimate <= ram_bytes
        tail = "no GPU, runs on the CPU" if fits_ram else "does not fit in RAM: use a smaller file or context"
        return MemoryFit(estimate, kv, fits_ram, None, 0, f"{head}; {tail}")

    if estimate <= vram_bytes:
        fits_ram = compute <= ram_bytes
        where = f"all {layers} layers" if layers else "the whole model"
        return MemoryFit(estimate, kv, fits_ram, True, -1, f"{head}; {where} fit in {human_bytes(vram_bytes)} VRAM")

    per_layer = weights / (layers + 1) + (kv / layers if layers else 0)
    room = vram_bytes - compute
    offloaded = min(layers, int(room // per_layer)) if layers and room > 0 else 0
    fits_ram = estimate - offloaded * per_layer <= ram_bytes
    vram = human_bytes(vram_bytes)
    if offloaded:
        tail = f"{offloaded} of {layers} layers fit in {vram} VRAM, the rest run on the CPU"
    else:
        tail = f"no layer fits in {vram} VRAM, runs on the CPU"
    if not fits_ram:
        tail += "; does not fit in RAM: use a smaller file or context"
    return MemoryFit(estimate, kv, fits_ram, False, offloaded, f"{head}; {tail}")
