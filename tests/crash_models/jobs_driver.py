"""A stand-in for the Fimble window that crash tests can ``kill -9``: it runs the real job code.

Usage::

    python jobs_driver.py STATUS_FILE pull REPO FILENAME
    python jobs_driver.py STATUS_FILE quantize SOURCE OUTPUT QTYPE
    python jobs_driver.py STATUS_FILE children SOURCE OUTPUT QTYPE

``pull`` and ``quantize`` queue one job on a real ``ModelJobs`` (models in
``FIMBLE_HOME``, the Hub at ``HF_ENDPOINT``) under a Qt event loop, as the
window does, and exit once it has finished. ``children`` starts an engine
host and a quantization and then waits to be killed.

The driver writes its state as JSON to STATUS_FILE (replaced atomically)
whenever it changes: ``{"pid", "jobs": [...], "host_pid", "quantize_pid",
"quantized"}``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path


class Status:
    """The JSON file the test reads; written whole each time."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.data: dict = {"pid": os.getpid(), "jobs": {}}
        self._lock = threading.Lock()
        self.write()

    def set(self, **values) -> None:
        """Change some fields and write the file."""
        with self._lock:
            self.data.update(values)
            self.write()

    def set_job(self, job) -> None:
        """Record a job snapshot."""
        with self._lock:
            self.data["jobs"][str(job.id)] = {
                "state": job.state,
                "stage": job.stage,
                "done": job.done,
                "total": job.total,
                "error": job.error,
                "result": job.result,
            }
            self.write()

    def write(self) -> None:
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps(self.data), encoding="utf-8")
        os.replace(temp, self.path)


def run_jobs(status: Status, mode: str, args: list[str]) -> int:
    """Queue one job on a real ModelJobs and run the event loop until it ends."""
    from PySide6.QtCore import QCoreApplication, QObject, Slot

    from app.core.hub.client import HubClient
    from app.core.hub.pull_plan import plan_pull
    from app.core.paths import app_dirs
    from app.services.model_jobs import ModelJobs

    app = QCoreApplication([])
    jobs = ModelJobs(app_dirs().ensure().models, HubClient)

    class Reporter(QObject):
        """Lives on the main thread; the queue's signals reach it queued."""

        @Slot(object)
        def changed(self, job) -> None:
            status.set_job(job)

        @Slot(object)
        def finished(self, job) -> None:
            status.set_job(job)
            if not any(j.active for j in jobs.jobs()):
                app.quit()

    reporter = Reporter()
    jobs.changed.connect(reporter.changed)
    jobs.finished.connect(reporter.finished)
    if mode == "pull":
        repo, filename = args
        jobs.pull(plan_pull(HubClient().repo(repo), filename=filename))
    else:
        source, output, qtype = args
        jobs.quantize(Path(source), Path(output), qtype)
    app.exec()
    jobs.shutdown()
    return 0


def run_children(status: Status, source: str, output: str, qtype: str) -> int:
    """Start an engine host and a quantization, report their pids, and wait to be killed."""
    from app.core.models.quantize_plan import plan_quantize
    from app.engine.host_client import HostEngine
    from app.engine.quantizer import Quantizer

    host = HostEngine("crash-test")
    host.start()
    status.set(host_pid=host.pid)
    quantizer = Quantizer()
    plan = plan_quantize(source, output, qtype)

    def on_progress(progress) -> None:
        status.set(quantize_pid=quantizer.pid, quantized=progress.done)

    def quantize() -> None:
        try:
            quantizer.run(plan, on_progress=on_progress, threads=1)
            status.set(quantize_result="done")
        except Exception as exc:  # noqa: BLE001 - reported to the test
            status.set(quantize_result=str(exc))

    threading.Thread(target=quantize, daemon=True).start()
    while True:
        time.sleep(1)


def main(argv: list[str]) -> int:
    status = Status(argv[1])
    mode, args = argv[2], argv[3:]
    if mode in ("pull", "quantize"):
        return run_jobs(status, mode, args)
    if mode == "children":
        return run_children(status, *args)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main(sys.argv))
