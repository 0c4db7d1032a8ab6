"""The model manager's job queue: pulls, pause/resume, cancel, and downloads left by an earlier run."""

from __future__ import annotations

import hashlib
import os

import pytest

from app.core.hub.client import HubClient
from app.core.hub.downloader import DownloadError, download_file
from app.core.hub.pull_plan import plan_pull
from app.core.hub.retry import NO_RETRY
from app.core.models.info import inspect_model
from app.selftest.tiny_gguf import write_tiny_gguf
from app.services.model_jobs import ModelJobs
from tests.support.gui_thread_waits import SignalLog

REPO = "someone/blob-GGUF"


@pytest.fixture
def jobs(fimble_home):
    queue = ModelJobs(fimble_home / "models")
    yield queue
    queue.shutdown()


def _blob(size: int) -> bytes:
    return os.urandom(size)


def _states(jobs, qtbot, job_id, wanted, timeout=20_000):
    seen = []

    def check():
        job = next(j for j in jobs.jobs() if j.id == job_id)
        seen.append(job.state)
        return job.state in wanted

    qtbot.waitUntil(check, timeout=timeout)
    return next(j for j in jobs.jobs() if j.id == job_id)


def test_a_pull_can_be_paused_and_resumed_and_ends_verified(hub, jobs, qtbot):
    data = _blob(3 * 1024 * 1024)
    hub.add_repo(REPO, {"blob-Q8_0.gguf": data})
    hub.throttle(3 * 1024 * 1024)  # about a second for the whole file
    plan = plan_pull(HubClient().repo(REPO), quant="Q8_0")
    changes = SignalLog(jobs.changed)
    job = jobs.pull(plan)
    qtbot.waitUntil(lambda: any(j.state == "running" and j.done > 0 for (j,) in changes.calls), timeout=10_000)
    jobs.pause(job.id)
    paused = _states(jobs, qtbot, job.id, {"paused"})
    assert 0 < paused.done < len(data)
    hub.throttle(None)
    jobs.resume(job.id)
    done = _states(jobs, qtbot, job.id, {"done", "failed"})
    assert done.state == "done", done.error
    assert hashlib.sha256(open(done.result, "rb").read()).digest() == hashlib.sha256(data).digest()
    # The resumed transfer asked for the rest only, from at least where the pause was shown.
    ranges = [r for method, path, r in hub.requests if method == "GET" and "/resolve/" in path]
    assert ranges[0] is None and ranges[-1].startswith("bytes=")
    assert paused.done <= int(ranges[-1].removeprefix("bytes=").rstrip("-")) < len(data)


def test_cancelling_a_pull_removes_its_partial_file(hub, jobs, qtbot, fimble_home):
    data = _blob(2 * 1024 * 1024)
    hub.add_repo(REPO, {"blob-Q8_0.gguf": data})
    hub.throttle(1024 * 1024)
    job = jobs.pull(plan_pull(HubClient().repo(REPO), quant="Q8_0"))
    qtbot.waitUntil(lambda: next(j for j in jobs.jobs() if j.id == job.id).done > 0, timeout=10_000)
    jobs.cancel(job.id)
    ended = _states(jobs, qtbot, job.id, {"cancelled", "failed", "done"})
    assert ended.state == "cancelled"
    leftovers = [p.name for p in (fimble_home / "models").rglob("*") if p.is_file()]
    assert leftovers == []


def test_jobs_queue_and_run_in_order(hub, jobs, qtbot):
    hub.add_repo(REPO, {"a-Q8_0.gguf": _blob(200_000), "b-Q4_0.gguf": _blob(100_000)})
    details = HubClient().repo(REPO)
    first = jobs.pull(plan_pull(details, filename="a-Q8_0.gguf"))
    second = jobs.pull(plan_pull(details, filename="b-Q4_0.gguf"))
    finished = SignalLog(jobs.finished)
    qtbot.waitUntil(lambda: len(finished.calls) == 2, timeout=10_000)
    assert [job.id for (job,) in finished.calls] == [first.id, second.id]


def test_a_gated_pull_fails_with_a_one_line_reason(hub, jobs, qtbot):
    hub.add_repo("google/gated-GGUF", {"m-Q8_0.gguf": _blob(1000)}, gated=True)
    job = jobs.pull(plan_pull(HubClient().repo("google/gated-GGUF"), quant="Q8_0"))
    ended = _states(jobs, qtbot, job.id, {"failed", "done"})
    assert ended.state == "failed"
    assert "gated" in ended.error and "\n" not in ended.error


def test_a_download_cut_by_an_earlier_run_is_offered_and_resumed(hub, qtbot, fimble_home):
    data = _blob(1024 * 1024)
    hub.add_repo(REPO, {"blob-Q8_0.gguf": data})
    details = HubClient().repo(REPO)
    folder = plan_pull(details, quant="Q8_0").folder(fimble_home / "models")
    hub.cut_next(REPO, "blob-Q8_0.gguf", len(data) // 2)
    with pytest.raises(DownloadError):
        download_file(details.files[0], folder, client=HubClient(), retry=NO_RETRY)
    queue = ModelJobs(fimble_home / "models")  # as if the app started again
    try:
        adopted = queue.adopt_partials()
        assert len(adopted) == 1 and adopted[0].state == "paused"
        assert adopted[0].done == len(data) // 2 and adopted[0].total == len(data)
        queue.resume(adopted[0].id)
        done = _states(queue, qtbot, adopted[0].id, {"done", "failed"})
        assert done.state == "done", done.error
        assert open(done.result, "rb").read() == data
        assert hub.bytes_sent[(REPO, "blob-Q8_0.gguf")] - len(data) < len(data) // 100
    finally:
        queue.shutdown()


def test_cancelling_a_quantization_ends_it_and_leaves_no_output(jobs, qtbot, tmp_path):
    source = write_tiny_gguf(tmp_path / "big.gguf", "codegemma", n_layers=16, n_embd=256, n_ff=1024, file_type="F16")
    output = tmp_path / "big-IQ3_S.gguf"
    changes = SignalLog(jobs.changed)
    job = jobs.quantize(source, output, "IQ3_S")
    qtbot.waitUntil(lambda: any(j.stage == "quantize" and j.detail for (j,) in changes.calls), timeout=20_000)
    jobs.cancel(job.id)
    ended = _states(jobs, qtbot, job.id, {"cancelled", "failed", "done"})
    assert ended.state == "cancelled"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.gguf"]


def test_a_quantization_job_reports_tensors_and_offers_its_source(jobs, qtbot, tmp_path, full_precision_model):
    output = tmp_path / "tiny-Q4_K_M.gguf"
    job = jobs.quantize(full_precision_model, output, "Q4_K_M")
    done = _states(jobs, qtbot, job.id, {"done", "failed", "cancelled"})
    assert done.state == "done", done.error
    assert inspect_model(output).info.file_type == "Q4_K_M"
    assert done.source == str(full_precision_model) and done.total > 0 and done.done == done.total


def test_shutdown_does_not_start_the_jobs_queued_behind_the_running_one(hub, qtbot, fimble_home):
    jobs = ModelJobs(fimble_home / "models")
    hub.add_repo(REPO, {"first-Q8_0.gguf": _blob(2 * 1024 * 1024), "second-Q4_0.gguf": _blob(2 * 1024 * 1024)})
    hub.throttle(256 * 1024)  # each file takes several seconds
    details = HubClient().repo(REPO)
    first = jobs.pull(plan_pull(details, quant="Q8_0"))
    second = jobs.pull(plan_pull(details, quant="Q4_0"))
    qtbot.waitUntil(lambda: next(j for j in jobs.jobs() if j.id == first.id).done > 0, timeout=10_000)
    jobs.shutdown(timeout=5.0)  # the window closes: the running download pauses
    qtbot.wait(1500)  # time enough for the queue to have started the next job, had it wanted to
    states = {j.id: j.state for j in jobs.jobs()}
    assert states[second.id] == "queued"
    assert not [path for method, path, _range in hub.requests if method == "GET" and "second-Q4_0" in path]
    assert (fimble_home / "models" / REPO.replace("/", "__") / "first-Q8_0.gguf.part").exists()  # resumable


def test_a_job_thread_stuck_in_a_read_at_shutdown_is_kept_until_it_ends(hub, qtbot, fimble_home):
    from app.services.model_jobs import wait_for_lingering_jobs

    data = _blob(2 * 1024 * 1024)
    hub.add_repo(REPO, {"blob-Q8_0.gguf": data})
    hub.hold_next(REPO, "blob-Q8_0.gguf", 256 * 1024)  # then nothing: the download sits in a read
    queue = ModelJobs(fimble_home / "models")
    plan = plan_pull(HubClient().repo(REPO), quant="Q8_0")
    part = plan.folder(fimble_home / "models") / "blob-Q8_0.gguf.part"
    queue.pull(plan)
    qtbot.waitUntil(lambda: part.exists() and part.stat().st_size == 256 * 1024, timeout=30_000)
    queue.shutdown(timeout=0.1)  # the pause cannot land inside the read
    del queue  # Qt would abort if the running thread were destroyed with it
    hub.release_holds()
    assert wait_for_lingering_jobs(60_000)


def test_a_dropped_connection_is_retried_and_the_job_says_so(hub, jobs, qtbot):
    from app.ui.jobs_panel import describe_progress

    data = _blob(1024 * 1024)
    hub.add_repo(REPO, {"blob-Q8_0.gguf": data})
    hub.cut_next(REPO, "blob-Q8_0.gguf", len(data) // 3)
    plan = plan_pull(HubClient().repo(REPO), quant="Q8_0")
    changes = SignalLog(jobs.changed)
    job = jobs.pull(plan)
    done = _states(jobs, qtbot, job.id, {"done", "failed"}, timeout=60_000)
    assert done.state == "done", done.error
    assert hashlib.sha256(open(done.result, "rb").read()).digest() == hashlib.sha256(data).digest()
    retrying = [j for (j,) in changes.calls if j.stage == "retrying"]
    assert retrying and "retrying (2/5)" in retrying[0].detail
    assert describe_progress(retrying[0]).endswith(retrying[0].detail)
    ranges = [r for method, path, r in hub.requests if method == "GET" and "/resolve/" in path]
    assert ranges[0] is None and ranges[-1].startswith("bytes=")
