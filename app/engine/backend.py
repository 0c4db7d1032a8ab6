"""Which compute backend llama.cpp was built with, and what the GPU has free.

Runs inside the engine host. ggml's device registry is reached through its
C API, which llama-cpp-python loads but does not wrap.
"""

from __future__ import annotations

import ctypes
from typing import Any

from app.core.generation.backend_info import BackendInfo, ComputeDevice

GPU_BACKENDS = ("CUDA", "Metal", "Vulkan", "ROCm", "HIP", "SYCL", "MUSA", "CANN", "OpenCL")
_DEV_TYPE_GPU = (1, 3)  # GGML_BACKEND_DEVICE_TYPE_GPU, GGML_BACKEND_DEVICE_TYPE_IGPU


def _bind(lib: Any) -> None:
    lib.ggml_backend_reg_count.restype = ctypes.c_size_t
    lib.ggml_backend_reg_get.restype = ctypes.c_void_p
    lib.ggml_backend_reg_get.argtypes = [ctypes.c_size_t]
    lib.ggml_backend_reg_name.restype = ctypes.c_char_p
    lib.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(lib, name).restype = ctypes.c_char_p
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_memory.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_size_t),
    ]


def _text(value: Any) -> str:
    """A C string llama.cpp returned, as text."""
    return bytes(value or b"").decode(errors="replace")


def _devices(lib: Any) -> tuple[list[str], list[ComputeDevice]]:
    _bind(lib)
    registries = [
        _text(lib.ggml_backend_reg_name(lib.ggml_backend_reg_get(i))) for i in range(lib.ggml_backend_reg_count())
    ]
    devices = []
    for index in range(int(lib.ggml_backend_dev_count())):
        device = lib.ggml_backend_dev_get(index)
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        lib.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        devices.append(
            ComputeDevice(
                name=_text(lib.ggml_backend_dev_name(device)),
                description=_text(lib.ggml_backend_dev_description(device)),
                gpu=int(lib.ggml_backend_dev_type(device)) in _DEV_TYPE_GPU,
                free_bytes=free.value,
                total_bytes=total.value,
            )
        )
    return registries, devices


def backend_info() -> BackendInfo:
    """Describe the llama.cpp build this process loaded, and its first GPU."""
    import llama_cpp

    llama_cpp.llama_backend_init()
    registries: list[str] = []
    devices: list[ComputeDevice] = []
    try:
        from llama_cpp import _ggml

        registries, devices = _devices(_ggml.libggml)
    except (ImportError, AttributeError, OSError):
        pass  # an older build without the device registry: fall back to system info
    system_info = _text(llama_cpp.llama_print_system_info()).strip()
    gpu_backends = [r for r in registries if r in GPU_BACKENDS]
    if not gpu_backends:
        gpu_backends = [b for b in GPU_BACKENDS if f"{b.upper()} :" in system_info.upper()]
    gpus = [d for d in devices if d.gpu]
    first = gpus[0] if gpus else None
    return BackendInfo(
        backend=gpu_backends[0] if gpu_backends else "CPU",
        gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()) and bool(gpus or gpu_backends),
        gpu_name=first.description if first else None,
        gpu_free_bytes=first.free_bytes if first else None,
        gpu_total_bytes=first.total_bytes if first else None,
        devices=tuple(devices),
        llama_cpp_python=str(getattr(llama_cpp, "__version__", "unknown")),
        system_info=system_info,
    )
