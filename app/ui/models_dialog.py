"""The model manager window: Library, Get Models and Downloads tabs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.machine import disk_free, human_bytes
from app.core.models.roles import ModelRole
from app.ui.hub_panel import HubPanel
from app.ui.jobs_panel import JobsPanel
from app.ui.library_panel import LibraryPanel

if TYPE_CHECKING:
    from app.core.hub.client import HubClient
    from app.core.hub.pull_plan import PullPlan
    from app.core.models.library import Library
    from app.core.settings import Settings
    from app.services.model_jobs import Job, ModelJobs

# A pull is refused unless this much disk stays free after it, on top of the files it writes.
MIN_FREE_AFTER_PULL_BYTES = 200 * 1000 * 1000


class ModelsDialog(QDialog):
    """A non-modal window over the library, the Hub and the job queue.

    Downloads belong to the main window's ``ModelJobs``, so they go on when
    this window is closed.
    """

    assign_requested = Signal(str, str)  # role, path
    model_settings_changed = Signal(str, object)  # path, LoadParams
    completion_window_changed = Signal(object)  # the pinned window in tokens, or None for "auto"

    def __init__(
        self,
        library: Library,
        settings: Settings,
        jobs: ModelJobs,
        client_factory: Callable[[], HubClient],
        *,
        vram_bytes: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(1040, 640)
        self.library, self.settings, self.jobs = library, settings, jobs
        self._client_factory = client_factory
        # The completion window and speed now, for Runtime Settings (the main window supplies it).
        self.window_text: Callable[[], str] = str

        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setObjectName("offlineBanner")
        self.banner.setStyleSheet(
            "#offlineBanner { background: #fff3cd; color: #5c4400; padding: 6px; border-radius: 4px; }"
        )
        self.banner.hide()
        self.token_button = QPushButton("Hugging Face Token…")
        self.token_button.clicked.connect(self.edit_token)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        self.library_panel = LibraryPanel(library, settings)
        self.library_panel.vram_bytes = vram_bytes
        self.hub_panel = HubPanel(client_factory)
        self.jobs_panel = JobsPanel(jobs)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.library_panel, "Library")
        self.tabs.addTab(self.hub_panel, "Get Models")
        self.tabs.addTab(self.jobs_panel, "Downloads")

        top = QHBoxLayout()
        top.addWidget(self.banner, 1)
        top.addStretch(0)
        top.addWidget(self.token_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)

        for panel in (self.library_panel, self.hub_panel):
            panel.status.connect(self.status.setText)
        self.library_panel.assign_requested.connect(self.assign_requested)
        self.library_panel.settings_requested.connect(self.edit_model_settings)
        self.library_panel.import_requested.connect(self.import_model)
        self.library_panel.quantize_requested.connect(self.quantize_model)
        self.hub_panel.pull_requested.connect(self.pull)
        self.hub_panel.hub_unreachable.connect(self.show_offline)
        jobs.changed.connect(self._job_changed)
        jobs.finished.connect(self._job_finished)

        client = client_factory()
        if client.offline:
            self.show_offline("the Hugging Face Hub can't be reached (offline mode is on)")
        self.library_panel.refresh()

    # ---- offline -------------------------------------------------------------------------

    @Slot(str)
    def show_offline(self, reason: str) -> None:
        """Say the Hub can't be reached; the local library still works."""
        self.banner.setText(
            f"Offline: {reason}. Your local models are listed in the Library tab; "
            "searching and downloading need the Hub."
        )
        self.banner.show()

    # ---- actions ---------------------------------------------------------------------------

    def edit_token(self) -> None:
        """Ask for a Hugging Face token and store it where huggingface_hub keeps it."""
        from app.core.hub.token import delete_token, load_token, save_token

        current = load_token()
        text, ok = QInputDialog.getText(
            self,
            "Hugging Face token",
            "Gated models (Google's CodeGemma) need a token from huggingface.co/settings/tokens\n"
            "after you accept the model's license. Leave empty to remove the stored token."
            + ("\nA token is stored now." if current else ""),
            QLineEdit.EchoMode.Password,
        )
        if not ok:
            return
        if not text.strip():
            delete_token()
            self.status.setText("Removed the stored Hugging Face token.")
            return
        try:
            save_token(text.strip())
        except (ValueError, OSError) as exc:
            self.status.setText(f"The token was not stored: {exc}")
            return
        self.status.setText("Stored the Hugging Face token; gated downloads will use it.")

    @Slot(object)
    def pull(self, plan: PullPlan) -> None:
        """Queue a pull after checking the disk has room and the user knows about gating."""
        from app.core.hub.token import load_token
        from app.core.models.quant_types import bits_per_weight

        needed = plan.file.size
        if plan.quantize_to:
            # The quantized copy is written next to the full-precision download.
            source_bits = 32 if (plan.file.quant or "F32") == "F32" else 16
            needed += int(plan.file.size * bits_per_weight(plan.quantize_to) / source_bits)
        folder = plan.folder(self.library.models_dir)
        free = disk_free(folder)
        if free < needed + MIN_FREE_AFTER_PULL_BYTES:
            self.status.setText(
                f"Not enough disk space for {plan.output_name()}: needs {human_bytes(needed)}, "
                f"{human_bytes(free)} free in {folder.parent}."
            )
            return
        if plan.details.gated and not load_token():
            if not self.confirm(
                "Gated model",
                f"{plan.repo_id} is gated: accept its license at {plan.details.license_url} "
                "and add your Hugging Face token first, or the download will be refused.\n\n"
                "Queue the download anyway?",
            ):
                return
        job = self.jobs.pull(plan)
        self.status.setText(f"Queued: {job.title}")
        self.tabs.setCurrentWidget(self.jobs_panel)

    @Slot(str, bool)
    def import_model(self, path: str, copy: bool) -> None:
        """Queue an import of a GGUF file from disk."""
        job = self.jobs.import_file(self.library, Path(path), copy=copy)
        self.status.setText(f"Queued: {job.title}")

    @Slot(str, str, str, bool)
    def quantize_model(self, source: str, output: str, qtype: str, force: bool) -> None:
        """Queue a local quantization; its progress shows in Downloads."""
        if Path(output).exists():
            self.status.setText(f"{Path(output).name} is already in the library.")
            return
        job = self.jobs.quantize(Path(source), Path(output), qtype, force=force)
        self.status.setText(f"Queued: {job.title}")
        self.tabs.setCurrentWidget(self.jobs_panel)

    @Slot(str)
    def edit_model_settings(self, path: str) -> None:
        """Open the runtime settings of one model."""
        from app.ui.model_settings import ModelSettingsDialog, WindowChoice

        row = next((r for r in self.library_panel.rows if str(r.model.path) == path), None)
        info = row.model.info if row else None
        role = next((r for r in ModelRole if self.settings.model_for(r) == path), None)
        note = row.fit.note if row and row.fit else ""
        pinned = self.settings.completion_window
        window = WindowChoice(pinned, self.window_text()) if role is ModelRole.COMPLETION else None
        dialog = ModelSettingsDialog(
            Path(path).name,
            self.settings.params_for_model(path, role),
            n_layers=info.n_layers if info else None,
            note=note,
            window=window,
            parent=self,
        )
        if dialog.exec() == QDialog.DialogCode.Accepted:
            if window is not None and dialog.completion_window() != pinned:
                self.completion_window_changed.emit(dialog.completion_window())
            self.model_settings_changed.emit(path, dialog.params())
            self.library_panel.refresh()

    @Slot(object)
    def _job_changed(self, job: Job) -> None:
        if job.state == "running" and job.stage == "download" and job.done == 0:
            self.status.setText(f"Downloading {job.title}…")

    @Slot(object)
    def _job_finished(self, job) -> None:
        if job.state == "done":
            self.status.setText(f"Finished: {job.title}")
            if job.source and Path(job.source).exists():
                self._offer_delete_source(Path(job.source))
            self.library_panel.refresh()
        elif job.state == "failed":
            self.status.setText(f"Failed: {job.title}: {job.error}")
            from app.core.errors import ErrorKind

            if job.error_kind == ErrorKind.OFFLINE:
                self.show_offline(job.error)

    def _offer_delete_source(self, source: Path) -> None:
        size = human_bytes(source.stat().st_size)
        if self.confirm(
            "Delete the full-precision file?",
            f"The quantized model is ready. Delete the full-precision source {source.name} ({size}) to free the space?",
        ):
            source.unlink(missing_ok=True)

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (tests replace this)."""
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes
