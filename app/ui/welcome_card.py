"""The welcome card: while a role uses the starter model, offer the right models in one click.

The card sits above the chat transcript. It says what Fimble is, offers one
model per role chosen by ``core/models/setups.choose_setups`` for the free
RAM and VRAM, pulls a choice through the model manager's job queue with its
progress, Pause and Cancel in the card, and assigns the role when the file is
there (the window's usual load-in-background swap). Dismissing it is saved in
the settings; Help → Welcome brings it back.

Nothing slow runs on the GUI thread: the memory figures and the Hub listing
are read on a pool thread (``run_in_background``), and the pull runs on the
job queue's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.core.machine import human_bytes, memory
from app.core.models.roles import ModelRole
from app.core.models.setups import Setup, choose_setups
from app.ui.background import run_in_background
from app.ui.welcome_source import Source, failure_hint, find_source, progress_line, reason_line

if TYPE_CHECKING:
    from app.core.generation.backend_info import BackendInfo
    from app.core.hub.client import HubClient
    from app.services.model_jobs import Job, ModelJobs
    from app.ui.main_window import MainWindow
    from app.ui.window_settings import WindowSettings

INTRO = (
    "<b>Welcome to Fimble.</b> It is a private coding assistant that runs offline on this computer:"
    " chat about code here, and fill-in-the-middle completions appear as you type in the editor."
)
STARTER = (
    "Until you pick models, Fimble uses its starter, Gemma 3 270M: a small base model for trying things"
    " out, not for real answers. These fit this machine; one click downloads one and puts it to work:"
)
NO_MODEL = "No model is set yet. These fit this machine; one click downloads one and puts it to work:"
HELP = (
    "<b>Gated models:</b> Google's own CodeGemma repositories ask you to accept the Gemma license on the"
    " model's Hub page first, then to store a Hugging Face token (Models → Model Manager… → Hugging Face"
    " Token…, or <code>fimble models token</code>).<br><b>Offline?</b> Use a GGUF file you already have:"
    " Models → Model Manager… → Library → Import…; File → Load Chat Model… works too."
)


@dataclass(frozen=True)
class MachineFigures:
    """Free RAM and VRAM in bytes (VRAM None without a GPU)."""

    ram_bytes: int
    vram_bytes: int | None = None


class SetupRow(QWidget):
    """One role's offer: what and where, Get it, then progress with Pause and Cancel."""

    def __init__(self, role: ModelRole, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setup: Setup | None = None
        self.job_id: int | None = None
        self.done_path: str | None = None  # the file this row assigned
        self.title = QLabel(f"{role.label}: working out what fits this machine…")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(placeholder-text);")
        self.get_button = QPushButton("Get it")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumHeight(16)
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setOpenExternalLinks(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.get_button)
        progress = QHBoxLayout()
        progress.setContentsMargins(0, 0, 0, 0)
        progress.addWidget(self.bar, 1)
        progress.addWidget(self.pause_button)
        progress.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addLayout(progress)
        layout.addWidget(self.status)
        self.show_progress(False)
        self.status.hide()

    def offer(self, setup: Setup) -> None:
        """Show ``setup`` as this role's offer."""
        self.setup = setup
        self.title.setText(f"{setup.title} · {setup.where}")
        self.note.setText(setup.speed)
        self.title.setToolTip(setup.fit.note)
        self.note.setToolTip(setup.entry.note)

    def show_progress(self, on: bool) -> None:
        """Swap the Get button for the progress bar, Pause and Cancel (or back)."""
        for widget in (self.bar, self.pause_button, self.cancel_button):
            widget.setVisible(on)
        self.get_button.setVisible(not on and self.done_path is None)

    def say(self, text: str) -> None:
        """One line under the offer (rich text allowed); empty hides it."""
        self.status.setText(text)
        self.status.setVisible(bool(text))


class WelcomeCard(QFrame):
    """The first-run card in the chat pane; see the module's docstring."""

    def __init__(
        self,
        prefs: WindowSettings,
        jobs: Callable[[], ModelJobs],
        assign: Callable[[ModelRole, str], None],
        *,
        machine: MachineFigures | None = None,
        client_factory: Callable[[], HubClient] | None = None,
        starter_installed: bool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """Make the card (hidden until ``refresh``).

        Args:
            prefs: The window's settings (dismissal is saved there; model choices are read).
            jobs: Returns the window's job queue (made on first use).
            assign: Assigns a file to a role, as the model manager does.
            machine: Fixed RAM/VRAM figures; None reads the free RAM and takes
                the VRAM the engine reports (``on_backend``).
            client_factory: Makes the Hub client; HubClient by default.
            starter_installed: Whether the starter model is there; None asks.
        """
        super().__init__(parent)
        self.setObjectName("welcomeCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#welcomeCard { border: 1px solid palette(mid); border-radius: 6px; }")
        self._prefs = prefs
        self._jobs_factory = jobs
        self._jobs: ModelJobs | None = None
        self._assign = assign
        self._machine = machine
        self._vram: int | None = machine.vram_bytes if machine else None
        self._client_factory = client_factory
        if starter_installed is None:
            from app.core.models.starter import starter_available

            starter_installed = starter_available()
        self._forced = False  # shown from Help → Welcome although no role uses the starter
        self._asked = 0  # the latest memory reading asked for; older answers are dropped
        self.setups: dict[str, Setup] = {}
        self.intro = QLabel(INTRO)
        self.intro.setWordWrap(True)
        self.lead = QLabel(STARTER if starter_installed else NO_MODEL)
        self.lead.setWordWrap(True)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip("Hide this card; Help → Welcome shows it again")
        self.dismiss_button.clicked.connect(self.dismiss)
        self.rows = {role: SetupRow(role, self) for role in ModelRole}
        for row in self.rows.values():
            row.get_button.clicked.connect(self._get_clicked)
            row.pause_button.clicked.connect(self._pause_clicked)
            row.cancel_button.clicked.connect(self._cancel_clicked)
        self.all_set = QLabel("Both roles have their own models now. Models → Model Manager… has more.")
        self.all_set.setWordWrap(True)
        self.help = QLabel(HELP)
        self.help.setWordWrap(True)
        small = self.help.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.help.setFont(small)
        self.help.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        head = QHBoxLayout()
        head.addWidget(self.intro, 1)
        head.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.lead)
        for row in self.rows.values():
            layout.addWidget(row)
        layout.addWidget(self.all_set)
        layout.addWidget(self.help)
        self.hide()

    # ---- what to show ------------------------------------------------------------------

    def starter_roles(self) -> list[ModelRole]:
        """Roles whose engine still loads the starter (no model set, no remote engine active)."""
        settings = self._prefs.settings
        return [role for role in ModelRole if settings.source_for(role.value) is None]

    def wanted(self) -> bool:
        """Whether the card should be shown now."""
        if self._forced:
            return True
        if self._prefs.settings.welcome_dismissed:
            return False  # a pull under way goes on; Downloads in the model manager shows it
        return bool(self.starter_roles()) or any(row.job_id is not None for row in self.rows.values())

    @Slot()
    def refresh(self, *_args: object) -> None:
        """Show or hide the card and its rows for the current settings."""
        if not self.wanted():
            self.hide()
            return
        starter = set(self.starter_roles())
        for role, row in self.rows.items():
            row.setVisible(role in starter or row.job_id is not None or row.done_path is not None)
        self.all_set.setVisible(not starter)
        self.lead.setVisible(bool(starter))
        self.show()
        if not self.setups:
            self.measure()

    def measure(self) -> None:
        """Choose the setups for this machine's memory (read off the GUI thread)."""
        settings = self._prefs.settings
        chat_ctx = settings.load_params(ModelRole.CHAT.value).n_ctx or 8192
        completion_ctx = settings.load_params(ModelRole.COMPLETION.value).n_ctx or 8192
        vram = self._vram
        if self._machine is not None:  # given figures: nothing to read, and choosing is cheap
            ram = self._machine.ram_bytes
            self._show_setups(self._asked, choose_setups(ram, vram, chat_ctx=chat_ctx, completion_ctx=completion_ctx))
            return
        self._asked += 1
        asked = self._asked
        run_in_background(
            self,
            lambda: choose_setups(memory().available, vram, chat_ctx=chat_ctx, completion_ctx=completion_ctx),
            lambda setups: self._show_setups(asked, setups),
        )

    def _show_setups(self, asked: int, setups: dict[str, Setup]) -> None:
        if asked != self._asked:
            return  # a later reading (the GPU was reported meanwhile) is on its way
        self.setups = setups
        for role, row in self.rows.items():
            if row.job_id is None and row.done_path is None:
                row.offer(setups[role.value])

    @Slot(object)
    def on_backend(self, backend: BackendInfo) -> None:
        """An engine reported its backend: offer again with its free VRAM."""
        if backend.backend == "Remote" or self._machine is not None:
            return
        vram = backend.offload_free_bytes
        if vram != self._vram or not self.setups:
            self._vram = vram
            self.measure()

    @Slot(str)
    def on_load_started(self, _source: str) -> None:
        """A role began loading a model (maybe one chosen in the model manager): show what is left."""
        if self.isVisible() or self.wanted():
            self.refresh()

    # ---- dismiss and bring back ---------------------------------------------------------

    @Slot()
    def dismiss(self) -> None:
        """Hide the card and remember it; a pull under way goes on (Downloads in the model manager)."""
        self._forced = False
        with self._prefs.change() as settings:
            settings.welcome_dismissed = True
        self.hide()

    @Slot()
    def bring_back(self) -> None:
        """Show the card again (Help → Welcome), even when every role has a model."""
        self._forced = True
        if self._prefs.settings.welcome_dismissed:
            with self._prefs.change() as settings:
                settings.welcome_dismissed = False
        self.refresh()

    # ---- one click: plan, queue, follow, assign -------------------------------------------

    def _row_of(self, widget: object) -> SetupRow | None:
        for row in self.rows.values():
            if widget in (row.get_button, row.pause_button, row.cancel_button):
                return row
        return None

    @Slot()
    def _get_clicked(self) -> None:
        row = self._row_of(self.sender())
        if row is not None:
            self.get(row.role)

    def get(self, role: ModelRole) -> None:
        """Start fetching ``role``'s offer: find its source on the Hub (off the GUI thread), then queue the pull."""
        row = self.rows[role]
        setup = row.setup
        if setup is None or row.job_id is not None:
            return
        row.get_button.setEnabled(False)
        row.say(f"Asking the Hugging Face Hub for {setup.entry.title} {setup.quant}…")
        factory = self._client_factory
        run_in_background(
            self,
            lambda: find_source(setup, factory),
            lambda found: self._queue(role, found),
            lambda exc: self._not_found(role, exc),
        )

    def _not_found(self, role: ModelRole, exc: BaseException) -> None:
        row = self.rows[role]
        row.get_button.setEnabled(True)
        row.say(reason_line(exc))

    def _queue(self, role: ModelRole, found: Source) -> None:
        row = self.rows[role]
        row.get_button.setEnabled(True)
        plan = found.plan
        if row.setup is not None and plan.quantize_to is None and plan.file.size:
            row.offer(replace(row.setup, size_bytes=plan.file.size))  # the Hub's size, not the catalog's estimate
        if plan.details.gated and not found.has_token:
            row.say(
                f"{plan.repo_id} is gated: accept its license at <a href='{plan.details.license_url}'>"
                f"{plan.details.license_url}</a>, then store a Hugging Face token (Models → Model Manager…"
                " → Hugging Face Token…) and press Get it again."
            )
            return
        if found.free_bytes is not None and found.free_bytes < found.needed_bytes:
            row.say(
                f"Not enough disk space: this needs about {human_bytes(found.needed_bytes)},"
                f" {human_bytes(found.free_bytes)} is free in {found.folder}."
            )
            return
        jobs = self._job_queue()
        job = jobs.pull(plan, keep_source=False)
        row.job_id = job.id
        row.bar.setValue(0)
        row.pause_button.setText("Pause")
        row.show_progress(True)
        row.say(f"Will {plan.describe()} ({human_bytes(plan.file.size)}).")

    def _job_queue(self) -> ModelJobs:
        if self._jobs is None:
            self._jobs = self._jobs_factory()
            # Bound slots of this GUI-thread QObject: Qt queues the worker's signals here.
            self._jobs.changed.connect(self.on_job_changed)
            self._jobs.finished.connect(self.on_job_finished)
        return self._jobs

    def _job_row(self, job: Job) -> SetupRow | None:
        return next((row for row in self.rows.values() if row.job_id == job.id), None)

    @Slot(object)
    def on_job_changed(self, job: Job) -> None:
        """Show a pull's progress in its row."""
        row = self._job_row(job)
        if row is None or not job.active:
            return
        row.bar.setValue(int(job.fraction * 1000))
        row.pause_button.setText("Resume" if job.state == "paused" else "Pause")
        row.pause_button.setEnabled(job.state in ("running", "paused") and job.stage != "quantize")
        row.say(progress_line(job))

    @Slot(object)
    def on_job_finished(self, job: Job) -> None:
        """A pull ended: assign the role when it is done, else say why and offer it again."""
        row = self._job_row(job)
        if row is None:
            return
        row.job_id = None
        if job.state == "done" and job.result:
            row.done_path = job.result
            row.show_progress(False)
            row.say(f"Done: {row.role.value} now uses {Path(job.result).name}; it loads in the background.")
            self._assign(row.role, job.result)
            self.refresh()
            return
        row.show_progress(False)
        if job.state == "cancelled":
            row.say("Cancelled; the partial download was removed.")
        else:
            row.say(f"Failed: {job.error or 'unknown error'}" + failure_hint(job.error_kind))

    def _pause_clicked(self) -> None:
        row = self._row_of(self.sender())
        if row is None or row.job_id is None or self._jobs is None:
            return
        if row.pause_button.text() == "Resume":
            self._jobs.resume(row.job_id)
        else:
            self._jobs.pause(row.job_id)

    def _cancel_clicked(self) -> None:
        row = self._row_of(self.sender())
        if row is not None and row.job_id is not None and self._jobs is not None:
            self._jobs.cancel(row.job_id)


def attach_welcome(window: MainWindow) -> WelcomeCard:
    """Make the window's welcome card, put it in the chat pane, and keep it in step with the engines."""
    card = WelcomeCard(window.prefs, window.services.jobs, window.set_model, parent=window.chat_pane)
    for controller in window.services.engines.values():
        controller.worker.backend_ready.connect(card.on_backend)
        controller.worker.load_started.connect(card.on_load_started)
    window.chat_pane.add_card(card)
    card.refresh()
    return card
