"""Which model serves which role: the status-bar labels, loading, and assigning models to roles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QLabel, QStatusBar, QToolButton, QWidget

from app.core.models.roles import ModelRole
from app.core.paths import app_dirs
from app.core.remote.choice import RemoteTarget, where
from app.ui.window_settings import WindowSettings

if TYPE_CHECKING:
    from app.core.models.load_params import LoadParams
    from app.core.models.loaded import LoadedModel
    from app.services.completion_service import CompletionService
    from app.services.engine_worker import EngineController
    from app.services.model_jobs import ModelJobs
    from app.ui.engines_dialog import EnginesDialog
    from app.ui.models_dialog import ModelsDialog


class RoleStatus(QObject):
    """Shows one role's model state in a status-bar label, with a button that stops a load."""

    def __init__(self, role: ModelRole, parent: QObject) -> None:
        super().__init__(parent)
        self.role = role
        self._controller: EngineController | None = None  # given by ``attach``
        self.label = QLabel(f"{role.label}: starting…")
        self.stop_button = QToolButton()
        self.stop_button.setText("✕")
        self.stop_button.setAutoRaise(True)
        self.stop_button.setToolTip(f"Stop loading the {role.value} model")
        self.stop_button.hide()
        self.stop_button.clicked.connect(self.stop_loading)

    def attach(self, controller: EngineController) -> None:
        """Follow ``controller``'s loads from now on."""
        self._controller = controller
        # Worker signals go to slots of QObjects living on the GUI thread, so
        # Qt queues them here; a lambda would run on the worker thread instead.
        worker = controller.worker
        worker.load_started.connect(self.on_started)
        worker.load_progress.connect(self.on_progress)
        worker.loaded.connect(self.on_loaded)
        worker.load_failed.connect(self.on_failed)

    @Slot()
    def stop_loading(self) -> None:
        """Cancel the load under way.

        Called directly on the GUI thread, not queued to the worker: the
        worker thread may be busy loading.
        """
        if self._controller is not None:
            self._controller.worker.cancel_load()

    def _loading(self, on: bool) -> None:
        self.stop_button.setVisible(on)

    @Slot(str)
    def on_started(self, path: str) -> None:
        """A load began (``path`` is a server's URL for a remote engine)."""
        if "://" in path:
            self.label.setText(f"{self.role.label}: connecting to {where(path)}…")
        else:
            self.label.setText(f"{self.role.label}: loading {Path(path).name}…")
        self._loading(True)

    @Slot(float)
    def on_progress(self, fraction: float) -> None:
        """Loading advanced."""
        self.label.setText(f"{self.role.label}: loading {fraction:.0%}")

    @Slot(object)
    def on_loaded(self, loaded: LoadedModel) -> None:
        """The model is ready."""
        self._loading(False)
        info = loaded.info
        if info.architecture == "remote":  # path: <base url>/v1/models/<id>
            self.label.setText(f"{self.role.label}: {info.name} on {where(info.path)}")
            context = f"context {loaded.n_ctx:,}" if loaded.n_ctx else "context not reported"
            self.label.setToolTip(f"{info.path}\n{info.family} · {context} · remote engine")
            return
        self.label.setText(f"{self.role.label}: {info.name} ({info.file_type})")
        self.label.setToolTip(f"{info.path}\n{info.family} · context {loaded.n_ctx}")

    @Slot(str)
    def on_failed(self, message: str) -> None:
        """Loading failed."""
        self._loading(False)
        self.label.setText(f"{self.role.label}: {message}")


class ModelRoles(QObject):
    """The window's model roles: which file each role's engine serves, and changing that.

    A choice is saved in the settings, then the role's engine loads the file
    in the background; the worker checks it. The status labels exist from the
    start and follow the engines once ``attach`` gives them; the methods ask
    ``engines`` for them each time (it makes them if they do not exist yet).
    """

    def __init__(
        self, engines: Callable[[], dict[ModelRole, EngineController]], settings: WindowSettings, window: QWidget
    ) -> None:
        super().__init__(window)
        self._engines_source = engines
        self._settings = settings
        self._window = window
        self.loaded_models: dict[ModelRole, str] = {}  # role -> path of the model its engine serves
        self.models_dialog: ModelsDialog | None = None
        self.completion_service: CompletionService | None = None  # whose window Runtime Settings shows and pins
        self.status = {role: RoleStatus(role, self) for role in ModelRole}

    def attach(self, engines: dict[ModelRole, EngineController]) -> None:
        """Show these engines' loads in the status bar (one per role)."""
        for role, controller in engines.items():
            self.status[role].attach(controller)

    @property
    def _engines(self) -> dict[ModelRole, EngineController]:
        return self._engines_source()  # made (and attached) on first use

    def add_to(self, bar: QStatusBar) -> None:
        """Put each role's label and stop button in the status bar."""
        for status in self.status.values():
            bar.addWidget(status.label)
            bar.addWidget(status.stop_button)

    def load_all(self) -> None:
        """Load every role's model as the settings say."""
        settings = self._settings.settings
        for role, controller in self._engines.items():
            controller.load(settings.source_for(role), settings.load_params(role))

    def choose_model(self, role: ModelRole) -> None:
        """Pick a GGUF file for ``role``, remember it, and load it in the background."""
        path, _ = QFileDialog.getOpenFileName(
            self._window, f"Load {role.value} model", str(app_dirs().models), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.set_model(role, path)

    def set_model(self, role: ModelRole | str, path: str) -> None:
        """Use ``path`` for ``role`` from now on; the worker validates and loads it."""
        role = ModelRole(role)
        with self._settings.change() as settings:
            if role is ModelRole.CHAT:
                settings.chat_model = path
            else:
                settings.completion_model = path
            remote = settings.remote_for(role)
            if remote is not None and remote.active:  # a local model chosen: the server is kept for later
                settings.remote_engines[role.value] = replace(remote, active=False).to_dict()
        self._engines[role].load(path, self._settings.settings.load_params(role))

    @Slot(str, object)
    def set_source(self, role: ModelRole | str, target: RemoteTarget | None) -> None:
        """Remember ``role``'s remote engine and load what it now uses, in the background.

        An active target connects to the server (storing the key it carries);
        an inactive one, or None (forget the server), goes back to the local
        model if the server was in use, and otherwise only saves.
        """
        role = ModelRole(role)
        with self._settings.change() as settings:
            before = settings.remote_for(role)
            if target is not None:
                settings.remote_engines[role.value] = target.choice.to_dict()
            else:
                settings.remote_engines.pop(role.value, None)
        params = self._settings.settings.load_params(role)
        if target is not None and target.choice.active:
            self._engines[role].load(target, params)
        elif before is not None and before.active:
            self._engines[role].load(self._settings.settings.model_for(role), params)

    def set_model_params(self, path: str, params: LoadParams) -> None:
        """Remember a model's runtime settings; reload it if a role uses it."""
        with self._settings.change() as settings:
            settings.set_model_params(path, params)
        for role, controller in self._engines.items():
            if settings.source_for(role) == path:  # a role on a remote server does not reload
                controller.load(path, settings.load_params(role))

    @Slot(object)
    def set_completion_window(self, tokens: int | None) -> None:
        """Pin the completion window to ``tokens`` (None: size it to the machine); applies at once."""
        with self._settings.change() as settings:
            settings.completion_window = tokens
        if self.completion_service is not None:
            self.completion_service.pinned_window = tokens

    def open_engines(self) -> EnginesDialog:
        """Show the Engines dialog (local or remote per role); what it applies comes back to ``set_source``."""
        from app.ui.engines_dialog import EnginesDialog

        dialog = EnginesDialog(self._settings.settings, self._window)
        dialog.source_chosen.connect(self.set_source)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_manager(self, jobs: ModelJobs, vram_bytes: int | None) -> ModelsDialog:
        """Show the model manager (made on first use); its assignments come back here."""
        from app.core.hub.client import HubClient
        from app.core.models.library import Library
        from app.ui.models_dialog import ModelsDialog

        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(
                Library.default(), self._settings.settings, jobs, HubClient, vram_bytes=vram_bytes, parent=self._window
            )
            self.models_dialog.library_panel.in_use = dict(self.loaded_models)
            self.models_dialog.library_panel.refresh()
            self.models_dialog.assign_requested.connect(self.set_model)
            self.models_dialog.model_settings_changed.connect(self.set_model_params)
            self.models_dialog.completion_window_changed.connect(self.set_completion_window)
            if self.completion_service is not None:
                self.models_dialog.window_text = self.completion_service.window_text
        self.models_dialog.show()
        self.models_dialog.raise_()
        self.models_dialog.activateWindow()
        return self.models_dialog
