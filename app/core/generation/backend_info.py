"""What an engine reports about its compute backend, and its one-line description."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ComputeDevice:
    """One device llama.cpp can run on (a GPU, or the CPU)."""

    name: str
    description: str
    gpu: bool
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class BackendInfo:
    """The llama.cpp build an engine runs on and the GPU it found.

    ``backend`` is "CPU", "CUDA", "Metal", "Vulkan", …; the ``gpu_*`` fields
    describe the first GPU and are None without one.
    """

    backend: str = "CPU"
    gpu_offload: bool = False
    gpu_name: str | None = None
    gpu_free_bytes: int | None = None
    gpu_total_bytes: int | None = None
    devices: tuple[ComputeDevice, ...] = ()
    llama_cpp_python: str = "unknown"
    system_info: str = ""

    @property
    def offload_free_bytes(self) -> int | None:
        """GPU memory free for offloading layers; None when nothing can be offloaded."""
        return self.gpu_free_bytes if self.gpu_offload else None

    def describe(self) -> str:
        """Return one line such as "CUDA · NVIDIA H100 (71.2 GiB free)" or "CPU only"."""
        if not self.gpu_offload:
            return "CPU only" if self.backend == "CPU" else self.backend
        name = self.gpu_name or "GPU"
        free = self.gpu_free_bytes
        suffix = f" ({free / 2**30:.1f} GiB free)" if free else ""
        return f"{self.backend} · {name}{suffix}"
