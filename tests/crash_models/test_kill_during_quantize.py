"""kill -9 of the app while a quantization runs: no part is left listed, the source is intact, a rerun works."""

from __future__ import annotations

import hashlib

from app.core.models.info import inspect_model
from app.core.models.library import Library
from app.selftest.tiny_gguf import write_tiny_gguf
from app.services.model_jobs import ModelJobs
from tests.crash_models.jobs_app import all_gone, wait_for


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_quantization_killed_with_the_app_leaves_no_part_and_runs_again(crash_app, qtbot, fimble_home):
    library = Library.default()
    # IQ3_S on this model takes seconds: long enough to be killed in the middle.
    source = write_tiny_gguf(
        library.models_dir / "slow.gguf", "codegemma", n_layers=8, n_embd=256, n_ff=1024, file_type="F16"
    )
    output = library.models_dir / "slow-IQ3_S.gguf"
    before = _sha256(source)
    app = crash_app("quantize", source, output, "IQ3_S")
    app.wait_until(
        lambda s: any(j["stage"] == "quantize" and j["done"] >= 1 for j in s.get("jobs", {}).values()),
        timeout=120,
        what="the quantization to report a tensor",
    )
    children = app.children()
    assert children and app.job()["state"] == "running"
    app.kill()
    wait_for(lambda: all_gone(children), timeout=60, what=f"the quantizer {children} to exit")

    listed = [m.path.name for m in library.models()]
    assert listed == ["slow.gguf"]
    assert not output.exists() and not output.with_name(output.name + ".part").exists()
    assert _sha256(source) == before

    # A stale part from a run killed before it could clean up is removed by the next run.
    output.with_name(output.name + ".part").write_bytes(b"half a model")
    jobs = ModelJobs(library.models_dir)
    try:
        job = jobs.quantize(source, output, "IQ3_S")
        qtbot.waitUntil(lambda: _job(jobs, job.id).state in ("done", "failed", "cancelled"), timeout=150_000)
        done = _job(jobs, job.id)
    finally:
        jobs.shutdown()
    assert done.state == "done", done.error
    assert inspect_model(output).info.file_type == "IQ3_S"
    assert sorted(m.path.name for m in library.models()) == ["slow-IQ3_S.gguf", "slow.gguf"]
    assert sorted(p.name for p in library.models_dir.iterdir()) == ["slow-IQ3_S.gguf", "slow.gguf"]
    assert _sha256(source) == before


def _job(jobs, job_id):
    return next(j for j in jobs.jobs() if j.id == job_id)
