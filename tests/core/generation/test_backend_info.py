"""The one-line description of what an engine runs on."""

from __future__ import annotations

from app.core.generation.backend_info import BackendInfo, ComputeDevice


def test_cpu_only_build():
    info = BackendInfo()
    assert info.describe() == "CPU only"
    assert info.offload_free_bytes is None


def test_gpu_build_names_the_gpu_and_its_free_memory():
    gpu = ComputeDevice("CUDA0", "NVIDIA H100", True, 71 * 2**30 + 2**29, 80 * 2**30)
    info = BackendInfo("CUDA", True, gpu.description, gpu.free_bytes, gpu.total_bytes, (gpu,))
    assert info.describe() == "CUDA · NVIDIA H100 (71.5 GiB free)"
    assert info.offload_free_bytes == gpu.free_bytes


def test_gpu_backend_that_cannot_offload_reports_no_free_memory():
    info = BackendInfo("Vulkan", gpu_offload=False, gpu_name="iGPU", gpu_free_bytes=2**30)
    assert info.describe() == "Vulkan"
    assert info.offload_free_bytes is None


def test_unknown_gpu_and_memory():
    assert BackendInfo("Metal", gpu_offload=True).describe() == "Metal · GPU"
