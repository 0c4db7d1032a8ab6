"""Runtime settings for loading a model, as desktop LLM apps expose them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

_T = TypeVar("_T")

# K/V cache element types llama.cpp accepts, by the names users see.
CACHE_TYPES = ("f16", "f32", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl")
GPU_LAYERS_ALL = -1
# As many layers as fit in the GPU's free memory, worked out when the model loads.
GPU_LAYERS_AUTO = -2
# Memory for warm completion places sized from the model's KV size (see core/fim/warm_places).
WARM_PLACES_AUTO = -1


def _describe(text: str, default: _T) -> _T:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class LoadParams:
    """How the engine host loads a model. Changes apply on the next load."""

    n_ctx: int = _describe("Context length in tokens (0 = the model's own).", 4096)
    n_gpu_layers: int = _describe(
        "Layers offloaded to the GPU (-2 = as many as fit, -1 = all, 0 = CPU only).", GPU_LAYERS_AUTO
    )
    n_threads: int | None = _describe("CPU threads for generation (None = llama.cpp's choice).", None)
    n_batch: int = _describe("Prompt evaluation batch size in tokens.", 512)
    rope_freq_base: float = _describe("RoPE frequency base (0 = from the model).", 0.0)
    rope_freq_scale: float = _describe("RoPE frequency scale (0 = from the model).", 0.0)
    offload_kqv: bool = _describe("Keep the KV cache in GPU memory.", True)
    use_mlock: bool = _describe("Lock the model in RAM so the OS cannot swap it out.", False)
    use_mmap: bool = _describe("Memory-map the model file instead of reading it.", True)
    seed: int = _describe("Random seed (-1 = a new one each load).", -1)
    flash_attn: bool = _describe("Use flash attention where the backend has it.", False)
    type_k: str = _describe("K cache type: " + ", ".join(CACHE_TYPES) + ".", "f16")
    type_v: str = _describe("V cache type: " + ", ".join(CACHE_TYPES) + ".", "f16")
    warm_places_mib: int = _describe(
        "Memory for completion prompts kept warm at earlier places, in MiB"
        " (-1 = four full windows at this model's KV size, at most a quarter of free memory; 0 = keep none).",
        WARM_PLACES_AUTO,
    )

    def __post_init__(self) -> None:
        if self.n_ctx < 0:
            raise ValueError("context length must be 0 or more")
        if self.n_gpu_layers < GPU_LAYERS_AUTO:
            raise ValueError("GPU layers must be auto (-2), all (-1), 0 or a positive number")
        if self.n_batch < 1:
            raise ValueError("batch size must be at least 1")
        if self.warm_places_mib < WARM_PLACES_AUTO:
            raise ValueError("warm places memory must be auto (-1), 0 or more MiB")
        if self.n_threads is not None and self.n_threads < 1:
            raise ValueError("threads must be at least 1")
        for name in ("type_k", "type_v"):
            if getattr(self, name) not in CACHE_TYPES:
                raise ValueError(f"{name} must be one of {', '.join(CACHE_TYPES)}")

    def to_dict(self) -> dict[str, int | float | bool | str | None]:
        """Return the settings as a plain dict of JSON scalars."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadParams:
        """Build settings from a dict (say, read from JSON), ignoring unknown keys.

        Raises:
            TypeError, ValueError: A value is of the wrong kind or out of range.
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @staticmethod
    def help() -> dict[str, str]:
        """Return each setting's one-line description."""
        return {f.name: f.metadata["help"] for f in fields(LoadParams)}
