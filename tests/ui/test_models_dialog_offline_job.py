"""The model manager's offline banner follows a failed job's error kind, not its wording."""

from __future__ import annotations

import pytest

from app.core.errors import ErrorKind
from app.core.hub.client import HubClient
from app.core.hub.pull_plan import plan_pull
from app.core.models.library import Library
from app.core.settings import Settings
from app.services.model_jobs import ModelJobs
from app.ui.models_dialog import ModelsDialog

REPO = "someone/tiny-GGUF"


@pytest.fixture
def window(qtbot, fimble_home, hub):
    library = Library.default()
    jobs = ModelJobs(library.models_dir, HubClient)
    dialog = ModelsDialog(library, Settings(), jobs, HubClient)
    dialog.confirm = lambda title, text: True
    qtbot.addWidget(dialog)
    dialog.show()
    yield dialog
    jobs.shutdown()


def _ended(window, qtbot, job):
    # The window has handled the job's end once its status line says so.
    qtbot.waitUntil(lambda: window.status.text().startswith(f"Failed: {job.title}"), timeout=30_000)
    return next(j for j in window.jobs.jobs() if j.id == job.id)


def test_a_pull_that_finds_the_hub_gone_shows_the_offline_banner(window, hub, qtbot):
    hub.add_repo(REPO, {"tiny-Q8_0.gguf": b"GGUF" + bytes(4000)})
    hub.add_repo("google/gated-GGUF", {"g-Q8_0.gguf": b"GGUF" + bytes(4000)}, gated=True)
    gated = plan_pull(HubClient().repo("google/gated-GGUF"), quant="Q8_0")
    plan = plan_pull(HubClient().repo(REPO), quant="Q8_0")

    window.pull(gated)
    [job] = window.jobs.jobs()
    failed = _ended(window, qtbot, job)
    assert failed.state == "failed" and failed.error_kind == ErrorKind.GATED
    assert not window.banner.isVisible()  # a refusal is not being offline

    hub.stop()  # the network goes away between listing and downloading
    window.pull(plan)
    job = window.jobs.jobs()[-1]
    failed = _ended(window, qtbot, job)
    assert failed.state == "failed" and failed.error_kind == ErrorKind.OFFLINE
    assert window.banner.isVisible() and failed.error in window.banner.text()
