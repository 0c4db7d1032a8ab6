"""When the window's process is killed, its engine host and its quantizer end by themselves."""

from __future__ import annotations

from app.selftest.tiny_gguf import write_tiny_gguf
from tests.crash_models.jobs_app import all_gone, running, wait_for


def test_engine_host_and_quantizer_exit_when_their_parent_is_killed(crash_app, tmp_path):
    # IQ3_S on this model takes seconds, so the quantizer is busy inside llama.cpp when the parent dies.
    source = write_tiny_gguf(tmp_path / "slow.gguf", "codegemma", n_layers=8, n_embd=256, n_ff=1024, file_type="F16")
    output = tmp_path / "slow-IQ3_S.gguf"
    app = crash_app("children", source, output, "IQ3_S")
    app.wait_until(
        lambda s: s.get("host_pid") and s.get("quantize_pid") and s.get("quantized", 0) >= 1,
        timeout=120,
        what="an engine host to start and the quantizer to report a tensor",
    )
    status = app.status()
    assert "quantize_result" not in status  # still quantizing
    host_pid, quantize_pid = status["host_pid"], status["quantize_pid"]
    children = app.children()
    assert {host_pid, quantize_pid} <= set(children)
    assert (tmp_path / "slow-IQ3_S.gguf.part").exists()

    app.kill()

    wait_for(lambda: all_gone(children), timeout=60, what=f"the children {children} to exit")
    assert not running(host_pid) and not running(quantize_pid)
    # The quantizer removed its half-written output on the way out; nothing was renamed into place.
    assert not (tmp_path / "slow-IQ3_S.gguf.part").exists() and not output.exists()
