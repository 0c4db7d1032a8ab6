"""The Downloads tab: every pull, quantization and import, with progress and controls."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.machine import human_bytes


def describe_progress(job) -> str:
    """One line under a job's title: bytes, speed and time left, or the tensor being quantized."""
    if job.state == "queued":
        return "waiting for the jobs before it"
    if job.state in ("failed", "cancelled"):
        return job.error or job.state
    if job.state == "done":
        return f"done: {job.result}"
    if job.state == "paused":
        done = f"{human_bytes(job.done)} of {human_bytes(job.total)}" if job.total else ""
        text = f"paused {done}".strip()
        return f"{text}: {job.detail}" if job.detail else text
    if job.stage == "elsewhere":
        text = "being downloaded by another Fimble window"
        if job.total:
            text += f": {human_bytes(job.done)} of {human_bytes(job.total)}"
            if job.speed_bps:
                text += f" · {human_bytes(job.speed_bps)}/s"
        return text + "; this one continues from its part if that window stops"
    if job.stage == "retrying":
        done = f"{human_bytes(job.done)} of {human_bytes(job.total)}: " if job.total else ""
        return done + job.detail
    if job.stage == "verifying":
        return "checking the sha256 against the Hub's…"
    if job.stage == "quantize":
        return f"quantizing tensor {job.done} of {job.total}: {job.detail}" if job.total else "starting llama.cpp…"
    if job.stage in ("download", "copy") and job.total:
        text = f"{human_bytes(job.done)} of {human_bytes(job.total)}"
        if job.speed_bps:
            text += f" · {human_bytes(job.speed_bps)}/s"
        if job.eta_s is not None:
            minutes, seconds = divmod(int(job.eta_s), 60)
            text += f" · {minutes}:{seconds:02d} left"
        return text
    return job.stage or "starting…"


class JobRow(QWidget):
    """One job: title, progress bar, details, and Pause/Resume/Cancel."""

    def __init__(self, job, jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job.id
        self._jobs = jobs
        self.title = QLabel(job.title)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.text = QLabel("")
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self._pause_or_resume)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self._jobs.cancel(self.job_id))
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.pause_button)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.text)
        self.state = job.state
        self.update_job(job)

    def update_job(self, job) -> None:
        """Show a new snapshot of the job."""
        self.state = job.state
        self.text.setText(describe_progress(job))
        if job.state == "done":
            self.bar.setValue(1000)
        elif job.total:
            self.bar.setValue(int(job.fraction * 1000))
        self.bar.setFormat(f"{job.fraction:.0%}" if job.total else "")
        downloading = job.kind == "pull" and job.stage in ("download", "elsewhere", "")
        self.pause_button.setVisible(job.kind == "pull")
        self.pause_button.setText("Resume" if job.state in ("paused", "failed") else "Pause")
        self.pause_button.setEnabled(job.state in ("paused", "failed") or (job.state == "running" and downloading))
        self.cancel_button.setEnabled(job.active)

    def _pause_or_resume(self) -> None:
        if self.state in ("paused", "failed"):
            self._jobs.resume(self.job_id)
        else:
            self._jobs.pause(self.job_id)


class JobsPanel(QWidget):
    """Lists the jobs of a ``ModelJobs`` queue, newest first."""

    def __init__(self, jobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.rows: dict[int, tuple[QListWidgetItem, JobRow]] = {}
        self.list = QListWidget()
        self.empty = QLabel("Nothing is downloading. Pick a model in the Get Models tab.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        jobs.changed.connect(self.show_job)
        for job in jobs.jobs():
            self.show_job(job)
        self._sync_empty()

    @Slot(object)
    def show_job(self, job) -> None:
        """Add or update a job's row."""
        entry = self.rows.get(job.id)
        if entry is None:
            item = QListWidgetItem()
            row = JobRow(job, self.jobs)
            item.setSizeHint(row.sizeHint())
            self.list.insertItem(0, item)
            self.list.setItemWidget(item, row)
            self.rows[job.id] = (item, row)
            self._sync_empty()
            return
        entry[1].update_job(job)

    def _sync_empty(self) -> None:
        self.empty.setVisible(not self.rows)
        self.list.setVisible(bool(self.rows))
