"""The main window: chat and editor side by side, a status bar, menus."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox, QSplitter,
                               QToolButton)

from app.core.paths import app_dirs
from app.core.chat.defaults import render_template
from app.core.chat.store_rescue import open_chat_store
from app.core.editor.recovery import RecoveryStore
from app.core.settings import RECENT_FILES_MAX, Settings, save_settings
from app.core.generation.backend_info import BackendInfo
from app.core.models.loaded import LoadedModel
from app.services.chat_service import ChatService
from app.services.completion_service import CompletionService
from app.services.engine_worker import EngineController
from app.ui.about import show_about
from app.ui.chat_pane import ChatPane
from app.ui.editor_pane import EditorPane
from app.ui.prewarm import prewarm_in_background
from app.ui.theme import current_theme


PREWARM_DELAY_MS = 1000


class MainWindow(QMainWindow):
    """Owns one engine controller per role and shuts them down on close."""

    def __init__(self, settings: Settings, engine_factory=None) -> None:
        super().__init__()
        self.setWindowTitle("Fimble")
        self.resize(1280, 800)
        self.settings = settings
        self.backend: BackendInfo | None = None
        self.model_jobs = None  # the model manager's queue, made when the manager first opens
        self.models_dialog = None
        self.loaded_models: dict[str, str] = {}  # role -> path of the model its engine serves
        # The store opens before any thread starts; a bad file is set aside, never fatal.
        opened = open_chat_store(app_dirs().ensure().data / "chats.sqlite3")
        self.chat_store = opened.store
        self.chat_store_notice = opened.notice
        self.chat_engine = self.completion_engine = None
        try:
            self._build(engine_factory)
        except BaseException:
            self._stop_after_failed_start()
            raise
        # Load once the event loop runs: the window paints first. A moment later the
        # manager's modules and the lexers are made ready off the GUI thread.
        QTimer.singleShot(0, self._load_models)
        QTimer.singleShot(PREWARM_DELAY_MS, prewarm_in_background)

    def _build(self, engine_factory) -> None:
        """Make the engines, services and panes; runs once, from ``__init__``."""
        settings = self.settings
        self.chat_engine = EngineController("chat", engine_factory, self)
        self.completion_engine = EngineController("completion", engine_factory, self)
        self.chat_service = ChatService(self.chat_engine, self.chat_store, self)
        if settings.system_prompt is not None:
            self.chat_service.default_system_prompt = settings.system_prompt
        self.completion_service = CompletionService(self.completion_engine, self)
        self.chat_pane = ChatPane(self.chat_service)
        if self.chat_store_notice:
            self.chat_pane.show_banner(self.chat_store_notice)
        self.recovery = RecoveryStore(app_dirs().cache / "recovery")
        crashed = self.recovery.crashed_last_time()
        self.editor_pane = EditorPane(self.completion_service, self.recovery)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.chat_pane)
        splitter.addWidget(self.editor_pane)
        splitter.setSizes([640, 640])
        self.setCentralWidget(splitter)
        self._build_status_bar()
        self._build_menus()
        self._wire(self.chat_engine, self.chat_model_label, "Chat")
        self._wire(self.completion_engine, self.completion_model_label, "Completion")
        self.editor_pane.tabs.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.chat_pane.insert_code.connect(self.editor_pane.insert_at_cursor)
        self.chat_pane.open_code.connect(self.editor_pane.open_in_new_tab)
        self.editor_pane.ask.connect(self._ask_about_code)
        self._offer_recovery(crashed)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._follow_os_theme)
        self.recovery.begin_session()

    def _stop_after_failed_start(self) -> None:
        """Stop the threads and hosts a failed ``__init__`` had started, and close the store."""
        controllers = [c for c in (self.chat_engine, self.completion_engine) if c is not None]
        for controller in controllers:
            controller.worker.begin_close()
        for controller in controllers:
            controller.shutdown(1800)
        self.chat_store.close()

    def _load_models(self) -> None:
        settings = self.settings
        self.chat_engine.load(settings.model_for("chat"), settings.load_params("chat"))
        self.completion_engine.load(settings.model_for("completion"), settings.load_params("completion"))

    # ---- construction ---------------------------------------------------------

    def _build_status_bar(self) -> None:
        self.chat_model_label = QLabel("Chat: starting…")
        self.completion_model_label = QLabel("Completion: starting…")
        self.backend_label = QLabel("Backend: …")
        bar = self.statusBar()
        self.stop_load_buttons: dict[str, QToolButton] = {}
        for role, label in (("chat", self.chat_model_label), ("completion", self.completion_model_label)):
            stop = QToolButton()
            stop.setText("✕")
            stop.setAutoRaise(True)
            stop.setToolTip(f"Stop loading the {role} model")
            stop.hide()
            self.stop_load_buttons[role] = stop
            bar.addWidget(label)
            bar.addWidget(stop)
        bar.addPermanentWidget(self.backend_label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&New", QKeySequence.StandardKey.New, lambda: self.editor_pane.tabs.new_tab())
        self._action(file_menu, "&Open…", QKeySequence.StandardKey.Open, self.open_file)
        self._action(file_menu, "Open &Folder…", None, self.open_folder)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file_menu, "&Save", QKeySequence.StandardKey.Save, self.save_file)
        self._action(file_menu, "Save &As…", QKeySequence.StandardKey.SaveAs, self.save_file_as)
        file_menu.addSeparator()
        self._action(file_menu, "Load &Chat Model…", None, lambda: self.choose_model("chat"))
        self._action(file_menu, "Load C&ompletion Model…", None, lambda: self.choose_model("completion"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        models_menu = self.menuBar().addMenu("&Models")
        self._action(models_menu, "&Model Manager…", QKeySequence("Ctrl+Shift+M"), self.open_models)
        chat_menu = self.menuBar().addMenu("&Chat")
        self._action(chat_menu, "&New Chat", None, lambda: self.chat_service.new_conversation())
        self._action(chat_menu, "Default &System Prompt…", None, self.edit_default_system_prompt)
        self._action(chat_menu, "Editor Prompt &Templates…", None, self.edit_prompt_templates)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Fimble", None, lambda: show_about(self, self.backend))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _wire(self, controller: EngineController, label: QLabel, role: str) -> None:
        # Worker signals go to slots of QObjects living on this thread, so Qt
        # queues them here; a lambda would run on the worker thread instead.
        status = _ModelStatus(label, role, self)
        stop = self.stop_load_buttons[role.lower()]
        stop.clicked.connect(lambda: controller.worker.cancel_load())  # direct: the worker thread may be busy loading
        status.stop_button = stop
        worker = controller.worker
        worker.backend_ready.connect(self._on_backend)
        worker.load_started.connect(status.on_started)
        worker.load_progress.connect(status.on_progress)
        worker.loaded.connect(status.on_loaded)
        worker.loaded.connect(self._on_loaded_chat if role == "Chat" else self._on_loaded_completion)
        worker.load_failed.connect(status.on_failed)
        worker.host_crashed.connect(self._on_host_crashed)

    # ---- slots -------------------------------------------------------------------

    @Slot(object)
    def _on_backend(self, backend: BackendInfo) -> None:
        self.backend = backend
        self.backend_label.setText(f"Backend: {backend.describe()}")

    @Slot(object)
    def _on_loaded_chat(self, loaded: LoadedModel) -> None:
        self._note_loaded("chat", loaded)
        if not loaded.info.has_chat_template:
            self.chat_pane.show_notice(
                f"{loaded.info.name} has no chat template; Fimble lays out its turns from the"
                " vocabulary. If it is a base model rather than an instruction-tuned one, its"
                " answers will be poor: assign a chat model such as CodeGemma 7B-it."
            )

    @Slot(object)
    def _on_loaded_completion(self, loaded: LoadedModel) -> None:
        self._note_loaded("completion", loaded)
        if not loaded.info.can_complete:
            self.editor_pane.status.setText(f"{loaded.info.name} has no FIM tokens: completions use the text before the cursor")
            self.editor_pane.status.setToolTip(
                "Assign CodeGemma or Code Llama (Models → Model Manager…) for fill-in-the-middle"
            )

    def _note_loaded(self, role: str, loaded: LoadedModel) -> None:
        self.loaded_models[role] = loaded.info.path
        if self.models_dialog is not None:
            self.models_dialog.library_panel.in_use = dict(self.loaded_models)
            self.models_dialog.library_panel.refresh()

    def edit_default_system_prompt(self) -> None:
        """Edit the system prompt new chats start with."""
        text, ok = QInputDialog.getMultiLineText(self, "Default system prompt", "New chats use:",
                                                 self.chat_service.default_system_prompt)
        if ok:
            self.settings.system_prompt = text
            self.chat_service.default_system_prompt = text
            self._save_settings()

    def edit_prompt_templates(self) -> None:
        """Edit the Explain / Write Tests / Fix / … templates."""
        from app.ui.chat_settings import edit_templates

        changed = edit_templates(self, self.settings.chat_templates)
        if changed is not None:
            self.settings.chat_templates = changed
            self._save_settings()

    @Slot(str, dict)
    def _ask_about_code(self, key: str, selection: dict) -> None:
        template = self.settings.chat_templates.get(key, key)
        self.chat_pane.ask(render_template(template, **selection))

    @Slot()
    def _follow_os_theme(self, *_args) -> None:
        theme = current_theme()
        for tab in self.editor_pane.tabs.tabs():
            tab.editor.apply_theme(theme)

    @Slot(str)
    def _on_host_crashed(self, message: str) -> None:
        self.statusBar().showMessage(f"{message}; restarting it", 8000)

    @Slot()
    def open_file(self) -> None:
        """Open files into editor tabs."""
        paths, _ = QFileDialog.getOpenFileNames(self, "Open files", str(self._start_folder()))
        for path in paths:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        """Open one file and remember it in the recent list."""
        if self.editor_pane.tabs.open_path(path) is not None:
            self._remember_recent(path)

    @Slot()
    def open_folder(self) -> None:
        """Show a folder as the project."""
        folder = QFileDialog.getExistingDirectory(self, "Open folder", str(self._start_folder()))
        if folder:
            self.editor_pane.open_folder(folder)

    def _start_folder(self) -> Path:
        return self.editor_pane.project_root or Path.home()

    def _remember_recent(self, path: str) -> None:
        recent = [p for p in self.settings.recent_files if p != path]
        self.settings.recent_files = [path, *recent][:RECENT_FILES_MAX]
        self._save_settings()

    def _save_settings(self) -> None:
        """Save this window's changes to the settings; a failure is one line in the status bar."""
        try:
            save_settings(app_dirs().ensure().config, self.settings)
        except OSError as exc:
            self.statusBar().showMessage(f"settings not saved: {exc.strerror or exc}", 15000)

    @Slot()
    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files:
            self.recent_menu.addAction(path).triggered.connect(lambda _c=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    @Slot()
    def save_file(self) -> None:
        """Save the current tab (asks for a name the first time)."""
        tab = self.editor_pane.tabs.current_tab()
        if tab is not None and (tab.path is None or not self.editor_pane.tabs.save(tab)):
            if tab.path is None:
                self.save_file_as()

    @Slot()
    def save_file_as(self) -> None:
        """Save the current tab under a new name."""
        tab = self.editor_pane.tabs.current_tab()
        if tab is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save as", tab.path or str(self._start_folder()))
        if path and self.editor_pane.tabs.save(tab, path):
            self._remember_recent(path)

    def _offer_recovery(self, crashed: bool) -> None:
        buffers = self.recovery.pending() if crashed else []
        if buffers and self.ask_restore(buffers):
            self.editor_pane.tabs.restore(buffers)
        elif buffers:
            self.recovery.clear()

    def ask_restore(self, buffers) -> bool:
        """Ask whether to reopen unsaved buffers from the last session."""
        names = ", ".join(b.title or "untitled" for b in buffers[:5])
        answer = QMessageBox.question(
            self, "Restore unsaved work?",
            f"Fimble did not close cleanly. Restore {len(buffers)} unsaved buffer(s): {names}?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose_model(self, role: str) -> None:
        """Pick a GGUF file for ``role``, remember it, and load it in the background."""
        path, _ = QFileDialog.getOpenFileName(
            self, f"Load {role} model", str(app_dirs().models), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.set_model(role, path)

    def set_model(self, role: str, path: str) -> None:
        """Use ``path`` for ``role`` from now on; the worker validates and loads it."""
        if role == "chat":
            self.settings.chat_model = path
        else:
            self.settings.completion_model = path
        self._save_settings()
        controller = self.chat_engine if role == "chat" else self.completion_engine
        controller.load(path, self.settings.load_params(role))

    def open_models(self) -> None:
        """Show the model manager; its downloads outlive the window."""
        from app.core.models.library import Library
        from app.core.hub.client import HubClient
        from app.services.model_jobs import ModelJobs
        from app.ui.models_dialog import ModelsDialog

        if self.model_jobs is None:
            self.model_jobs = ModelJobs(app_dirs().ensure().models, HubClient)
            self.model_jobs.adopt_partials()
        if self.models_dialog is None:
            vram = self.backend.offload_free_bytes if self.backend else None
            self.models_dialog = ModelsDialog(Library.default(), self.settings, self.model_jobs, HubClient,
                                              vram_bytes=vram, parent=self)
            self.models_dialog.library_panel.in_use = dict(self.loaded_models)
            self.models_dialog.library_panel.refresh()
            self.models_dialog.assign_requested.connect(self.set_model)
            self.models_dialog.model_settings_changed.connect(self.set_model_params)
        self.models_dialog.show()
        self.models_dialog.raise_()
        self.models_dialog.activateWindow()

    def set_model_params(self, path: str, params) -> None:
        """Remember a model's runtime settings; reload it if a role uses it."""
        self.settings.set_model_params(path, params)
        self._save_settings()
        for role, controller in (("chat", self.chat_engine), ("completion", self.completion_engine)):
            if self.settings.model_for(role) == path:
                controller.load(path, self.settings.load_params(role))

    def shutdown_engines(self) -> bool:
        """Stop both engines and their threads; return True if all ended in time."""
        timer = QElapsedTimer()
        timer.start()
        ok = True
        for controller in (self.chat_engine, self.completion_engine):
            controller.worker.begin_close()  # both hosts wind down at once
        for controller in (self.chat_engine, self.completion_engine):
            ok &= controller.shutdown(max(100, 1800 - timer.elapsed()))
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        tabs = self.editor_pane.tabs
        for tab in tabs.tabs():
            if tab.modified and tabs.close_tab(tabs.indexOf(tab)) is False:
                event.ignore()  # the user kept unsaved work open
                return
        tabs.shutdown()
        self.recovery.end_session()
        self.chat_service.shutdown()
        if self.model_jobs is not None:
            self.model_jobs.shutdown()  # a running download pauses and resumes next time
        self.shutdown_engines()
        self.chat_store.close()
        super().closeEvent(event)


class _ModelStatus(QObject):
    """Shows one role's model state in a status-bar label."""

    def __init__(self, label: QLabel, role: str, parent: QObject) -> None:
        super().__init__(parent)
        self.label, self.role = label, role
        self.stop_button: QToolButton | None = None

    def _loading(self, on: bool) -> None:
        if self.stop_button is not None:
            self.stop_button.setVisible(on)

    @Slot(str)
    def on_started(self, path: str) -> None:
        """A load began."""
        self.label.setText(f"{self.role}: loading {Path(path).name}…")
        self._loading(True)

    @Slot(float)
    def on_progress(self, fraction: float) -> None:
        """Loading advanced."""
        self.label.setText(f"{self.role}: loading {fraction:.0%}")

    @Slot(object)
    def on_loaded(self, loaded: LoadedModel) -> None:
        """The model is ready."""
        self._loading(False)
        self.label.setText(f"{self.role}: {loaded.info.name} ({loaded.info.file_type})")
        self.label.setToolTip(f"{loaded.info.path}\n{loaded.info.family} · context {loaded.n_ctx}")

    @Slot(str)
    def on_failed(self, message: str) -> None:
        """Loading failed."""
        self._loading(False)
        self.label.setText(f"{self.role}: {message}")
