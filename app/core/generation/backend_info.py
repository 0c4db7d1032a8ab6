"""One-line descriptions of the compute backend an engine reported."""

from __future__ import annotations


def describe_backend(info: dict) -> str:
    """Return one line such as "CUDA · NVIDIA H100 (71.2 GiB free)" or "CPU only"."""
    if not info.get("gpu_offload"):
        return f"{info.get('backend', 'CPU')} only" if info.get("backend", "CPU") == "CPU" else info["backend"]
    name = info.get("gpu_name") or "GPU"
    free = info.get("gpu_free_bytes")
    suffix = f" ({free / 2**30:.1f} GiB free)" if free else ""
    return f"{info['backend']} · {name}{suffix}"
