"""Two Fimble windows pull the same file: it is downloaded once, and the second window says so."""

from __future__ import annotations

import os

from app.core.hub.client import HubClient
from app.core.hub.pull_plan import plan_pull
from app.core.models.library import Library
from app.core.settings import Settings
from app.services.model_jobs import ModelJobs
from app.ui.models_dialog import ModelsDialog
from tests.support.sample_bytes import file_sha256

REPO = "someone/shared-GGUF"
NAME = "shared-Q8_0.gguf"


def _job(jobs, job_id):
    return next(j for j in jobs.jobs() if j.id == job_id)


def _second_window(qtbot, library):
    jobs = ModelJobs(library.models_dir, HubClient)
    window = ModelsDialog(library, Settings(), jobs, HubClient)
    qtbot.addWidget(window)
    window.show()
    return window, jobs


def _gets(hub) -> list[str | None]:
    return [r for method, path, r in hub.requests if method == "GET" and path.endswith("/" + NAME)]


def test_the_second_window_shows_the_first_ones_progress_and_never_downloads_twice(
    crash_app, hub, qtbot, tmp_path, fimble_home
):
    size = 12 * 1024 * 1024 + 99
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(size))
    hub.add_repo(REPO, {NAME: blob})
    hub.throttle(2 * 1024 * 1024)  # about six seconds for the whole file
    library = Library.default()
    part = library.models_dir / "someone__shared-GGUF" / (NAME + ".part")
    first = crash_app("pull", REPO, NAME)
    first.wait_until(
        lambda s: part.exists() and part.stat().st_size > 0,
        timeout=120,
        what="the first window to start writing the part",
    )

    window, jobs = _second_window(qtbot, library)
    try:
        window.pull(plan_pull(HubClient().repo(REPO), filename=NAME))
        [job] = jobs.jobs()
        _, row = window.jobs_panel.rows[job.id]
        qtbot.waitUntil(lambda: "being downloaded by another Fimble window" in row.text.text(), timeout=60_000)
        assert "\n" not in row.text.text() and row.pause_button.isEnabled()
        # The second window follows the first one's part as it grows.
        seen = _job(jobs, job.id).done
        qtbot.waitUntil(
            lambda: _job(jobs, job.id).stage != "elsewhere" or _job(jobs, job.id).done > seen, timeout=60_000
        )
        qtbot.waitUntil(lambda: _job(jobs, job.id).state in ("done", "failed"), timeout=150_000)
        done = _job(jobs, job.id)
    finally:
        jobs.shutdown()
    assert done.state == "done", done.error
    first.wait_until(lambda s: first.job().get("state") == "done", timeout=60, what="the first window to finish")
    assert first.job()["result"] == done.result
    assert file_sha256(done.result) == file_sha256(blob)
    assert _gets(hub) == [None] and size <= hub.total_sent(REPO, NAME) <= size * 1.01
    assert sorted(p.name for p in part.parent.iterdir()) == [NAME]


def test_a_killed_first_window_frees_the_file_and_the_second_resumes_its_part(
    crash_app, hub, qtbot, tmp_path, fimble_home
):
    size = 10 * 1024 * 1024 + 5
    held_at = 3 * 1024 * 1024 + 11
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(size))
    hub.add_repo(REPO, {NAME: blob})
    hub.hold_next(REPO, NAME, held_at)
    library = Library.default()
    part = library.models_dir / "someone__shared-GGUF" / (NAME + ".part")
    first = crash_app("pull", REPO, NAME)
    first.wait_until(
        lambda s: part.exists() and part.stat().st_size == held_at,
        timeout=120,
        what="the first window to have written the held bytes",
    )

    window, jobs = _second_window(qtbot, library)
    try:
        assert jobs.adopt_partials() == []  # the part belongs to a running window, not to an earlier run
        window.pull(plan_pull(HubClient().repo(REPO), filename=NAME))
        [job] = jobs.jobs()
        qtbot.waitUntil(
            lambda: _job(jobs, job.id).stage == "elsewhere" and _job(jobs, job.id).done == held_at, timeout=60_000
        )
        assert part.stat().st_size == held_at  # waiting did not touch the part

        first.kill()  # the OS drops its lock with it
        qtbot.waitUntil(lambda: _job(jobs, job.id).state in ("done", "failed"), timeout=150_000)
        done = _job(jobs, job.id)
    finally:
        jobs.shutdown()
    assert done.state == "done", done.error
    assert file_sha256(done.result) == file_sha256(blob)
    assert _gets(hub) == [None, f"bytes={held_at}-"]
    assert size <= hub.total_sent(REPO, NAME) <= size * 1.01
