"""A disk that fills up during a download: one clear line on the job, the part kept, Resume finishes it."""

from __future__ import annotations

import errno

import pytest
from PySide6.QtCore import Qt

import app.core.hub.downloader as downloader
from app.core import machine
from app.core.hub import retry
from app.core.hub.client import HubClient
from app.core.hub.pull_plan import plan_pull
from app.core.machine import human_bytes
from app.core.models.library import Library
from app.core.settings import Settings
from app.services.model_jobs import ModelJobs
from app.ui.models_dialog import ModelsDialog
from tests.support.sample_bytes import pattern_bytes

REPO = "someone/full-GGUF"
NAME = "full-Q8_0.gguf"
SIZE = 3 * 1024 * 1024 + 17
FREE_WHEN_FULL = 1_500_000


DATA = pattern_bytes(SIZE, "full")


@pytest.fixture
def window(qtbot, hub, fimble_home):
    hub.add_repo(REPO, {NAME: DATA})
    library = Library.default()
    jobs = ModelJobs(library.models_dir, HubClient)
    dialog = ModelsDialog(library, Settings(), jobs, HubClient)
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    jobs.shutdown()


def _job(jobs, job_id):
    return next(j for j in jobs.jobs() if j.id == job_id)


def test_a_full_disk_shows_one_line_keeps_the_part_and_resume_finishes(window, hub, qtbot, monkeypatch):
    real_write, real_free = downloader._write, machine.disk_free
    disk = {"full": False, "written": 0}

    def filling(fd, data):
        if disk["written"] > 0:  # the second piece no longer fits
            disk["full"] = True
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, data)
        disk["written"] += len(data)

    monkeypatch.setattr(downloader, "_write", filling)
    monkeypatch.setattr(machine, "disk_free", lambda path: FREE_WHEN_FULL if disk["full"] else real_free(path))
    window.pull(plan_pull(HubClient().repo(REPO), filename=NAME))
    [job] = window.jobs.jobs()
    qtbot.waitUntil(lambda: _job(window.jobs, job.id).state in ("failed", "done"), timeout=60_000)
    _, row = window.jobs_panel.rows[job.id]
    qtbot.waitUntil(lambda: row.text.text().startswith("Disk full"), timeout=10_000)

    line = row.text.text()
    needed = SIZE - disk["written"] + downloader.DISK_HEADROOM_BYTES
    assert line == (
        f"Disk full: {NAME} needs {human_bytes(needed)} more, {human_bytes(FREE_WHEN_FULL)} free in "
        f"{window.library.models_dir / 'someone__full-GGUF'}. The {human_bytes(disk['written'])} "
        "downloaded so far is kept; free some space, then press Resume to continue."
    )
    assert row.pause_button.text() == "Resume" and row.pause_button.isEnabled()
    folder = window.library.models_dir / "someone__full-GGUF"
    assert (folder / (NAME + ".part")).stat().st_size == disk["written"]
    assert (folder / (NAME + ".part.json")).exists()

    # Space was freed: Resume continues from the part.
    monkeypatch.setattr(downloader, "_write", real_write)
    disk["full"] = False
    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _job(window.jobs, job.id).state == "done", timeout=60_000)
    assert (folder / NAME).read_bytes() == DATA
    gets = [r for method, path, r in hub.requests if method == "GET" and path.endswith("/" + NAME)]
    assert gets == [None, f"bytes={disk['written']}-"]


def test_resuming_while_the_disk_is_still_full_says_so_and_keeps_the_part(window, hub, qtbot, monkeypatch):
    cut_at = 1_000_000
    hub.cut_next(REPO, NAME, cut_at)
    monkeypatch.setattr(retry, "DEFAULT_RETRY", retry.NO_RETRY)  # the cut ends the job, as a lasting outage would
    window.pull(plan_pull(HubClient().repo(REPO), filename=NAME))
    [job] = window.jobs.jobs()
    qtbot.waitUntil(lambda: _job(window.jobs, job.id).state in ("failed", "done"), timeout=60_000)
    assert "will resume from there" in _job(window.jobs, job.id).error
    folder = window.library.models_dir / "someone__full-GGUF"
    part = folder / (NAME + ".part")
    assert part.stat().st_size == cut_at

    monkeypatch.setattr(machine, "disk_free", lambda path: FREE_WHEN_FULL)
    _, row = window.jobs_panel.rows[job.id]
    qtbot.waitUntil(lambda: row.pause_button.text() == "Resume", timeout=60_000)  # the window saw it fail
    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.text.text().startswith("Disk full"), timeout=60_000)
    needed = SIZE - cut_at + downloader.DISK_HEADROOM_BYTES
    assert row.text.text() == (
        f"Disk full: {NAME} needs {human_bytes(needed)} more, {human_bytes(FREE_WHEN_FULL)} "
        f"free in {folder}. The {human_bytes(cut_at)} downloaded so far is kept; free some "
        "space, then press Resume to continue."
    )
    assert part.stat().st_size == cut_at and row.pause_button.text() == "Resume"
