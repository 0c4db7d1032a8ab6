"""The main window: chat and editor side by side, a status bar, menus, and closing down.

What the window runs on is made in ``window_services``, just after the first
frame, by the ``window_start`` half of the window; the File menu's work is in
``file_actions``; which model serves which role is in ``model_roles``;
settings are changed and saved through ``window_settings``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
)

from app.core.editor.recovery import RecoveryStore
from app.core.models.roles import ModelRole
from app.core.paths import app_dirs
from app.core.settings import Settings
from app.ui.chat_pane import ChatPane
from app.ui.editor_pane import EditorPane
from app.ui.file_actions import FileActions
from app.ui.first_paint import attach_after_first_paint
from app.ui.model_roles import ModelRoles
from app.ui.prewarm import prewarm_in_background
from app.ui.theme import current_theme
from app.ui.window_settings import WindowSettings
from app.ui.window_start import WindowStart
from app.ui.window_state import WindowState
from app.ui.zoom import PaneZoom

if TYPE_CHECKING:
    from app.core.editor.recovery import RecoveredBuffer
    from app.core.generation.backend_info import BackendInfo
    from app.core.models.load_params import LoadParams
    from app.core.models.loaded import LoadedModel
    from app.ui.models_dialog import ModelsDialog
    from app.ui.server_dialog import ServerDialog
    from app.ui.welcome_card import WelcomeCard
    from app.ui.window_services import EngineFactory, WindowServices

PREWARM_DELAY_MS = 1000
LOAD_FALLBACK_MS = 200  # a window not shown (a test's) starts its services this long after the loop starts
STATUS_LABEL_MAX = 360  # px for each status-bar label


class MainWindow(QMainWindow, WindowStart):
    """Lays out the panes and menus; shuts the engines and services down on close."""

    start_failed = Signal()  # the services could not be made after the first frame (see ``start_error``)

    def __init__(
        self, settings: Settings, engine_factory: EngineFactory | None = None, settings_notice: str | None = None
    ) -> None:
        super().__init__()
        self.setWindowTitle("Fimble")
        self.settings = settings
        self.quitting_quietly: str | None = None  # why, once a signal or the session's end closes the window
        self._closed_down = False
        self.prefs = WindowSettings(settings, self._report_settings_error)
        self.backend: BackendInfo | None = None
        self._welcome: WelcomeCard | None = None
        self._server_dialog: ServerDialog | None = None
        self.settings_notice = settings_notice
        self.start_error: BaseException | None = None  # why the services did not start, if they did not
        self._engine_factory = engine_factory
        self._services: WindowServices | None = None
        self.recovery = RecoveryStore(app_dirs().cache / "recovery")  # the tabs autosave into it from the start
        self._build()
        # The window paints first; then its engines, chat store and services are made and
        # the models load: their imports, threads and the host's spawn would otherwise hold
        # the GIL the first paint needs. A window never shown starts them soon after its
        # event loop does, and whatever asks for ``services`` sooner makes them then. A
        # moment later the manager's modules and the lexers are made ready off the GUI thread.
        attach_after_first_paint(self, self._start, fallback_ms=LOAD_FALLBACK_MS)
        QTimer.singleShot(PREWARM_DELAY_MS, prewarm_in_background)

    def _build(self) -> None:
        """Make the panes, status bar and menus, and connect them; runs once, from ``__init__``."""
        self.chat_pane = ChatPane()
        self._show_notices()
        left = self.recovery.buffers_left()  # asked before this window's own session marker
        self.editor_pane = EditorPane(None, self.recovery)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.chat_pane)
        splitter.addWidget(self.editor_pane)
        splitter.setSizes([640, 640])
        self.setCentralWidget(splitter)
        splitters = {"main": splitter, "chat": self.chat_pane.splitter, "editor": self.editor_pane.splitter}
        self.state = WindowState(self, splitters, self.editor_pane)
        self.state.restore_geometry(self.settings)
        self.state.restore_layout(self.settings)
        self.zoom = PaneZoom(self.editor_pane, self.chat_pane, self.prefs)
        self.file_actions = FileActions(self.editor_pane, self.prefs, self)
        self.model_roles = ModelRoles(lambda: self.services.engines, self.prefs, self)
        self.chat_model_label = self.model_roles.status[ModelRole.CHAT].label
        self.completion_model_label = self.model_roles.status[ModelRole.COMPLETION].label
        self._build_status_bar()
        self._build_menus()
        self.editor_pane.tabs.message.connect(self._show_message)
        self.chat_pane.insert_code.connect(self.editor_pane.insert_at_cursor)
        self.chat_pane.open_code.connect(self.editor_pane.open_in_new_tab)
        self.editor_pane.ask.connect(self._ask_about_code)
        self._offer_recovery(left)
        self.recovery.begin_session()  # from now on, buffers left behind are this session's
        gone = self.state.restore_tabs(self.settings)
        if gone:
            self._show_message(gone)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._follow_os_theme)

    @Slot()
    def _show_notices(self) -> None:
        """A damaged chat store or settings file was set aside: say where, until dismissed."""
        store_notice = self._services.chat_store_notice if self._services is not None else None
        notices = [n for n in (store_notice, self.settings_notice) if n]
        if notices:
            self.chat_pane.show_banner("\n".join(notices))

    # ---- construction ---------------------------------------------------------

    def _build_status_bar(self) -> None:
        self.backend_label = QLabel("Backend: …")
        bar = self.statusBar()
        self.model_roles.add_to(bar)
        bar.addPermanentWidget(self.backend_label)
        # A long model name or error is cut (its tooltip has the rest); it never widens the window.
        for label in (self.chat_model_label, self.completion_model_label, self.backend_label):
            label.setMaximumWidth(STATUS_LABEL_MAX)

    def _build_menus(self) -> None:
        files, roles = self.file_actions, self.model_roles
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&New", QKeySequence.StandardKey.New, files.new_file)
        self._action(file_menu, "&Open…", QKeySequence.StandardKey.Open, files.open_file)
        self._action(file_menu, "Open &Folder…", None, files.open_folder)
        files.fill_recent_on_show(file_menu.addMenu("Open &Recent"))
        self._action(file_menu, "&Save", QKeySequence.StandardKey.Save, files.save_file)
        self._action(file_menu, "Save &As…", QKeySequence.StandardKey.SaveAs, files.save_file_as)
        file_menu.addSeparator()
        self._action(file_menu, "Load &Chat Model…", None, lambda: roles.choose_model(ModelRole.CHAT))
        self._action(file_menu, "Load C&ompletion Model…", None, lambda: roles.choose_model(ModelRole.COMPLETION))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        self._build_view_menu(self.menuBar().addMenu("&View"))
        models_menu = self.menuBar().addMenu("&Models")
        self._action(models_menu, "&Model Manager…", QKeySequence("Ctrl+Shift+M"), self.open_models)
        self._action(models_menu, "&Engines: Local or Remote…", None, self.model_roles.open_engines)
        self._action(models_menu, "&Local Server…", None, self.open_local_server)
        chat_menu = self.menuBar().addMenu("&Chat")
        self._action(chat_menu, "&New Chat", None, lambda: self.chat_service.new_conversation())
        self._action(chat_menu, "Default &System Prompt…", None, self.edit_default_system_prompt)
        self._action(chat_menu, "Editor Prompt &Templates…", None, self.edit_prompt_templates)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Fimble", None, self._show_about)
        self._action(help_menu, "&Welcome", None, lambda: self.welcome.bring_back())

    def _build_view_menu(self, menu: QMenu) -> None:
        self.tree_action = self._action(menu, "Project &Tree", QKeySequence("Ctrl+B"), self._toggle_tree)
        self.tree_action.setCheckable(True)
        self.tree_action.setChecked(self.editor_pane.tree_wanted)
        menu.addSeparator()
        self._action(menu, "Zoom &In", None, self.zoom.zoom_in).setShortcuts(
            [QKeySequence("Ctrl+="), QKeySequence("Ctrl++")]
        )
        self._action(menu, "Zoom &Out", QKeySequence("Ctrl+-"), self.zoom.zoom_out)
        self._action(menu, "&Reset Zoom", QKeySequence("Ctrl+0"), self.zoom.reset)

    def _action(
        self,
        menu: QMenu,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | None,
        slot: Callable[[], object],
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ---- what the engines report -------------------------------------------------

    @Slot(object)
    def _on_backend(self, backend: BackendInfo) -> None:
        if backend.backend == "Remote":
            return  # the status bar names the server; "Backend" is this machine's llama.cpp
        self.backend = backend
        self.backend_label.setText(f"Backend: {backend.describe()}")

    @Slot(object)
    def _on_loaded_chat(self, loaded: LoadedModel) -> None:
        from app.core.generation.families.transcript import uses_transcript  # the families: after the first paint

        self._note_loaded(ModelRole.CHAT, loaded)
        info = loaded.info
        if not info.has_chat_template and not uses_transcript(info.family, info.has_chat_template):
            self.chat_pane.show_notice(
                f"{loaded.info.name} has no chat template; Fimble lays out its turns from the"
                " vocabulary. If it is a base model rather than an instruction-tuned one, its"
                " answers will be poor: assign a chat model such as CodeGemma 7B-it."
            )

    @Slot(object)
    def _on_loaded_completion(self, loaded: LoadedModel) -> None:
        self._note_loaded(ModelRole.COMPLETION, loaded)
        if not loaded.info.can_complete:
            self.editor_pane.status.setText(
                f"{loaded.info.name} has no FIM tokens: completions use the text before the cursor"
            )
            self.editor_pane.status.setToolTip(
                "Assign CodeGemma or Code Llama (Models → Model Manager…) for fill-in-the-middle"
            )

    def _note_loaded(self, role: ModelRole, loaded: LoadedModel) -> None:
        self.loaded_models[role] = loaded.info.path
        if self.models_dialog is not None:
            self.models_dialog.library_panel.in_use = dict(self.loaded_models)
            self.models_dialog.library_panel.refresh()

    @Slot(str)
    def _on_host_crashed(self, message: str) -> None:
        self.statusBar().showMessage(f"{message}; restarting it", 8000)

    # ---- models ---------------------------------------------------------------------

    @property
    def loaded_models(self) -> dict[ModelRole, str]:
        """Role -> path of the model its engine serves now."""
        return self.model_roles.loaded_models

    @property
    def models_dialog(self) -> ModelsDialog | None:
        """The model manager, once it has been opened."""
        return self.model_roles.models_dialog

    def open_models(self) -> None:
        """Show the model manager; its downloads outlive the window."""
        vram = self.backend.offload_free_bytes if self.backend else None
        self.model_roles.open_manager(self.services.jobs(), vram)

    @property
    def welcome(self) -> WelcomeCard:
        """The chat pane's welcome card (made after the first paint, or now if asked for sooner)."""
        if self._welcome is None:
            from app.ui.welcome_card import attach_welcome

            self._welcome = attach_welcome(self)
        return self._welcome

    def _attach_welcome(self) -> None:
        self.welcome  # noqa: B018 - made on first use

    @Slot()
    def _show_about(self) -> None:
        from app.ui.about import show_about

        show_about(self, self.backend)

    def open_local_server(self) -> ServerDialog:
        """Show Models → Local Server… (one dialog; the server outlives it)."""
        from app.ui.server_dialog import ServerDialog

        if self._server_dialog is None:
            self._server_dialog = ServerDialog(self.services.local_server, self)
        self._server_dialog.show()
        self._server_dialog.raise_()
        self._server_dialog.activateWindow()
        return self._server_dialog

    def set_model(self, role: ModelRole | str, path: str) -> None:
        """Use ``path`` for ``role`` from now on; the worker validates and loads it."""
        self.model_roles.set_model(role, path)

    def set_model_params(self, path: str, params: LoadParams) -> None:
        """Remember a model's runtime settings; reload it if a role uses it."""
        self.model_roles.set_model_params(path, params)

    # ---- chat and editor -------------------------------------------------------------

    def edit_default_system_prompt(self) -> None:
        """Edit the system prompt new chats start with."""
        text, ok = QInputDialog.getMultiLineText(
            self, "Default system prompt", "New chats use:", self.chat_service.default_system_prompt
        )
        if ok:
            with self.prefs.change() as settings:
                settings.system_prompt = text
            self.chat_service.default_system_prompt = text

    def edit_prompt_templates(self) -> None:
        """Edit the Explain / Write Tests / Fix / … templates."""
        from app.ui.chat_settings import edit_templates

        changed = edit_templates(self, self.settings.chat_templates)
        if changed is not None:
            with self.prefs.change() as settings:
                settings.chat_templates = changed

    @Slot(str, dict)
    def _ask_about_code(self, key: str, selection: dict) -> None:
        template = self.settings.chat_templates.get(key, key)
        from app.core.chat.defaults import render_template

        self.chat_pane.ask(render_template(template, **selection))

    @Slot()
    def _follow_os_theme(self, *_args: object) -> None:
        theme = current_theme()
        for tab in self.editor_pane.tabs.tabs():
            tab.editor.apply_theme(theme)

    def open_path(self, path: str) -> None:
        """Open one file and remember it in the recent list."""
        self.file_actions.open_path(path)

    def _offer_recovery(self, left: bool) -> None:
        buffers = self.recovery.pending() if left else []
        if buffers and self.ask_restore(buffers):
            self.editor_pane.tabs.restore(buffers)
        elif buffers:
            self.recovery.clear()

    def ask_restore(self, buffers: Sequence[RecoveredBuffer]) -> bool:
        """Ask whether to reopen unsaved buffers from the last session."""
        names = ", ".join(b.title or "untitled" for b in buffers[:5])
        answer = QMessageBox.question(
            self,
            "Restore unsaved work?",
            f"Fimble closed without saving them. Restore {len(buffers)} unsaved buffer(s): {names}?",
        )
        return answer == QMessageBox.StandardButton.Yes

    # ---- status and closing ----------------------------------------------------------

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _report_settings_error(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    @Slot()
    def _toggle_tree(self) -> None:
        shown = self.tree_action.isChecked()
        self.editor_pane.show_tree(shown)
        if shown and self.editor_pane.project_root is None:
            self._show_message("No folder is open: File → Open Folder… shows one in the project tree")
        with self.prefs.change() as settings:
            settings.project_tree = shown

    def quit_quietly(self, reason: str) -> None:
        """Close without questions (a signal, the session's end): unsaved buffers go to recovery."""
        if self.quitting_quietly is not None:
            return
        self.quitting_quietly = reason
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QDialog) and widget.isVisible():
                widget.reject()  # a question left open must not hold the quit
        if not self.isHidden():
            self.close()
        else:
            self._close_down()
        QApplication.quit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        tabs = self.editor_pane.tabs
        self.state.note_tabs()
        if self.quitting_quietly is None:
            for tab in tabs.tabs():
                if tab.modified and tabs.close_tab(tabs.indexOf(tab)) is False:
                    event.ignore()  # the user kept unsaved work open
                    return
        self._close_down()
        super().closeEvent(event)

    def _close_down(self) -> None:
        """Remember the window's state; autosave what is unsaved; stop the engines and services."""
        if self._closed_down:
            return
        self._closed_down = True
        with self.prefs.change() as settings:
            self.state.store(settings)
        self.editor_pane.tabs.shutdown()  # modified buffers are written to the recovery folder
        self.recovery.end_session()
        if self._services is not None:  # a window closed before they were made has none to stop
            self._services.shutdown()
