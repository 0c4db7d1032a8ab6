"""kill -9 of the app while a download runs: the next start offers it, and resuming costs almost nothing."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from app.core.hub.client import HubClient
from app.core.models.library import Library
from app.core.settings import Settings
from app.services.model_jobs import ModelJobs
from app.ui.models_dialog import ModelsDialog
from tests.support.sample_bytes import file_sha256

REPO = "someone/crash-GGUF"
NAME = "crash-Q8_0.gguf"
SIZE = 24 * 1024 * 1024 + 4321
HELD_AT = 9 * 1024 * 1024 + 777  # the server sends this much, then nothing until the app is gone


def test_a_download_killed_with_the_app_is_offered_again_and_resumes_verified(
    crash_app, hub, qtbot, tmp_path, fimble_home
):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(SIZE))
    hub.add_repo(REPO, {NAME: blob})
    hub.throttle(8 * 1024 * 1024)
    hub.hold_next(REPO, NAME, HELD_AT)
    app = crash_app("pull", REPO, NAME)
    library = Library.default()
    part = library.models_dir / "someone__crash-GGUF" / (NAME + ".part")

    # Every byte that arrived is on disk while the transfer is still open.
    app.wait_until(
        lambda s: part.exists() and part.stat().st_size == HELD_AT,
        timeout=120,
        what=f"{HELD_AT} bytes in the part file",
    )
    assert app.job()["state"] == "running" and app.popen.poll() is None
    app.kill()
    hub.throttle(None)

    # The next start: the window's queue adopts the part, and the Downloads tab offers Resume.
    jobs = ModelJobs(library.models_dir, HubClient)
    try:
        [adopted] = jobs.adopt_partials()
        window = ModelsDialog(library, Settings(), jobs, HubClient)
        qtbot.addWidget(window)
        window.show()
        _, row = window.jobs_panel.rows[adopted.id]
        assert adopted.state == "paused" and adopted.done == HELD_AT and adopted.total == SIZE
        assert row.pause_button.text() == "Resume" and row.pause_button.isEnabled()
        assert "left unfinished by an earlier run" in row.text.text()
        assert NAME not in [m.path.name for m in library.models()]

        qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: _job(jobs, adopted.id).state in ("done", "failed"), timeout=120_000)
        done = _job(jobs, adopted.id)
        assert done.state == "done", done.error
        assert file_sha256(done.result) == file_sha256(blob)
        qtbot.waitUntil(lambda: row.text.text().startswith("done"), timeout=10_000)
    finally:
        jobs.shutdown()

    # Over both runs the server sent the file once, give or take 1%.
    assert SIZE <= hub.total_sent(REPO, NAME) <= SIZE * 1.01
    ranges = [r for method, path, r in hub.requests if method == "GET" and path.endswith("/" + NAME)]
    assert ranges == [None, f"bytes={HELD_AT}-"]
    assert sorted(p.name for p in part.parent.iterdir()) == [NAME]


def _job(jobs, job_id):
    return next(j for j in jobs.jobs() if j.id == job_id)
