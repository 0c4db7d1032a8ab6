"""The job queue and parts that another Fimble window is downloading."""

from __future__ import annotations

import os

import pytest

from app.core.hub.client import HubClient
from app.core.hub.download_lock import PartLock
from app.core.hub.downloader import DownloadError, download_file
from app.core.hub.pull_plan import plan_pull
from app.core.hub.retry import NO_RETRY
from app.services.model_jobs import ModelJobs

REPO = "someone/blob-GGUF"
NAME = "blob-Q8_0.gguf"


def test_a_part_another_window_holds_is_neither_adopted_nor_deleted(hub, qtbot, fimble_home):
    data = os.urandom(1024 * 1024)
    hub.add_repo(REPO, {NAME: data})
    details = HubClient().repo(REPO)
    folder = plan_pull(details, filename=NAME).folder(fimble_home / "models")
    hub.cut_next(REPO, NAME, 300_000)
    with pytest.raises(DownloadError):
        download_file(details.files[0], folder, client=HubClient(), retry=NO_RETRY)
    part = folder / (NAME + ".part")
    other = PartLock(folder, NAME)  # another window has started resuming it
    assert other.try_acquire()
    jobs = ModelJobs(fimble_home / "models")
    try:
        assert jobs.adopt_partials() == []
        other.release()
        [adopted] = jobs.adopt_partials()
        assert other.try_acquire()  # the other window takes it back before this one resumes
        jobs.cancel(adopted.id)
        assert next(j for j in jobs.jobs() if j.id == adopted.id).state == "cancelled"
        assert part.stat().st_size == 300_000  # cancelling here left the other window's part alone
        other.release()
    finally:
        jobs.shutdown()
