"""Loading helpers for the engine host: load progress, "auto" GPU layers and warm-places memory, failures in words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.core.fim.warm_places import auto_budget_bytes
from app.core.models.info import InspectedModel
from app.core.models.load_params import GPU_LAYERS_AUTO, WARM_PLACES_AUTO, LoadParams


@contextmanager
def load_progress(callback: Callable[[float], bool]) -> Iterator[None]:
    """Attach a llama.cpp load-progress callback to the next ``Llama()``."""
    import llama_cpp.llama_cpp as low

    def on_progress(fraction: float, _data: object) -> bool:
        return bool(callback(fraction))

    c_callback = low.llama_progress_callback(on_progress)
    original = low.llama_model_default_params

    def with_progress() -> low.llama_model_params:
        params: low.llama_model_params = original()
        params.progress_callback = c_callback
        return params

    low.llama_model_default_params = with_progress
    try:
        yield
    finally:
        low.llama_model_default_params = original


def load_failure_text(model: InspectedModel, params: LoadParams, exc: Exception) -> str:
    need = model.memory_estimate(params.n_ctx or (model.info.context_length or 4096), params.type_k)
    return (
        f"llama.cpp could not load {model.name} ({exc}); it needs about {need / 2**30:.1f} GiB"
        " at this context length: try a smaller context, fewer GPU layers or another quantization"
    )


def gpu_layers(model: InspectedModel, params: LoadParams, n_ctx: int) -> int:
    """Resolve "auto" GPU layers: as many as fit in the GPU's free memory now."""
    if params.n_gpu_layers != GPU_LAYERS_AUTO:
        return params.n_gpu_layers
    from app.core import machine
    from app.core.models.fit import memory_fit
    from app.engine.backend import backend_info

    vram = backend_info().offload_free_bytes
    if not vram:
        return 0
    context = n_ctx or (model.info.context_length or 4096)
    fit = memory_fit(model, context, ram_bytes=machine.memory().available, vram_bytes=vram, cache_type=params.type_k)
    return fit.suggested_gpu_layers


def warm_places_budget(params: LoadParams, kv_bytes_per_token: float) -> int:
    """Bytes for warm completion places: the user's figure, or sized from the KV cache (auto)."""
    if params.warm_places_mib != WARM_PLACES_AUTO:
        return params.warm_places_mib * 2**20
    from app.core import machine

    return auto_budget_bytes(kv_bytes_per_token, machine.memory().available)
