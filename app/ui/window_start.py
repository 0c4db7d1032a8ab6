"""The main window's services: made just after its first frame, bound to the panes, announced if they fail.

``MainWindow`` paints before it has engines, a chat store or services (see
``window_services``); this mixin makes them (``_start``, from the first-paint
hook, or ``services`` when something asks sooner), connects the panes, the
status bar and the engines' reports to them, and starts a local server the user
left on. A failure is kept in ``start_error`` and announced by the window's
``start_failed`` signal, once, whoever met it first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Slot

from app.core.models.roles import ModelRole

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtCore import QObject, SignalInstance

    from app.core.chat.store import ChatStore
    from app.core.generation.backend_info import BackendInfo
    from app.core.models.loaded import LoadedModel
    from app.core.settings import Settings
    from app.services.chat_service import ChatService
    from app.services.completion_service import CompletionService
    from app.services.engine_worker import EngineController
    from app.services.model_jobs import ModelJobs
    from app.ui.chat_pane import ChatPane
    from app.ui.editor_pane import EditorPane
    from app.ui.local_server import LocalServerControl
    from app.ui.model_roles import ModelRoles
    from app.ui.window_services import EngineFactory, WindowServices
    from app.ui.window_settings import WindowSettings

log = logging.getLogger(__name__)


class WindowStart:
    """The services half of ``MainWindow`` (a mixin: it uses the window's panes and slots)."""

    # Given by MainWindow.
    settings: Settings
    prefs: WindowSettings
    chat_pane: ChatPane
    editor_pane: EditorPane
    model_roles: ModelRoles
    start_failed: SignalInstance
    start_error: BaseException | None
    _closed_down: bool
    _engine_factory: EngineFactory | None
    _services: WindowServices | None
    _show_notices: Callable[[], None]
    _show_message: Callable[[str], None]
    _attach_welcome: Callable[[], None]
    _on_backend: Callable[[BackendInfo], None]
    _on_loaded_chat: Callable[[LoadedModel], None]
    _on_loaded_completion: Callable[[LoadedModel], None]
    _on_host_crashed: Callable[[str], None]

    @property
    def services(self) -> WindowServices:
        """The window's engines, chat store and services (made after the first paint, or now if asked for sooner).

        Raises:
            RuntimeError: The window closed before they were made.
            Exception: Whatever stopped them from starting; what had started is stopped again.
        """
        if self._services is None:
            self._start_services()
        assert self._services is not None
        return self._services

    def _start_services(self) -> None:
        if self.start_error is not None:
            raise self.start_error
        if self._closed_down:
            raise RuntimeError("the window closed before its services were made")
        from app.ui.window_services import WindowServices

        services: WindowServices | None = None
        try:
            parent = cast("QObject", self)  # the window
            services = WindowServices(self.settings, self._engine_factory, parent, on_local_server=self._server_made)
            self._bind(services)
        except BaseException as exc:
            if services is not None:
                services.stop_after_failed_start()
            self.start_error = exc
            log.error("the window's services did not start: %s", exc, exc_info=exc)
            self.start_failed.emit()  # whoever asked first, the app ends with it
            raise
        self._services = services

    def _bind(self, services: WindowServices) -> None:
        """Connect the panes, status bar and menus to freshly made services."""
        self.chat_pane.bind(services.chat_service)
        self.editor_pane.bind(services.completion_service)
        services.chat_service.store_ready.connect(self._show_notices)  # the store opens off the GUI thread
        self.model_roles.attach(services.engines)
        self.model_roles.completion_service = services.completion_service
        for role, controller in services.engines.items():
            worker = controller.worker
            worker.backend_ready.connect(self._on_backend)
            worker.loaded.connect(self._on_loaded_chat if role is ModelRole.CHAT else self._on_loaded_completion)
            worker.host_crashed.connect(self._on_host_crashed)
        self._start_remembered_server(services, self.settings.local_server)

    @Slot()
    def _start(self) -> None:
        """After the first frame: make the services, load the models, add the welcome card.

        A failure is kept in ``start_error`` and announced by ``start_failed``
        (``run_gui`` then ends the event loop and raises it), whoever met it first.
        """
        if self._closed_down or self.start_error is not None:
            return
        try:
            self.services  # noqa: B018 - made now
        except Exception:  # noqa: BLE001, S110 - logged and announced where it happened
            return
        self.model_roles.load_all()
        self._attach_welcome()  # the first frame does not wait for the card either

    @property
    def chat_engine(self) -> EngineController:
        """The engine that answers chats."""
        return self.services.chat_engine

    @property
    def completion_engine(self) -> EngineController:
        """The engine that completes code in the editor."""
        return self.services.completion_engine

    @property
    def chat_service(self) -> ChatService:
        """The chat service behind the chat pane."""
        return self.services.chat_service

    @property
    def completion_service(self) -> CompletionService:
        """The completion service behind the editor's ghost text."""
        return self.services.completion_service

    @property
    def chat_store(self) -> ChatStore:
        """The chat store (waits while it is still being opened)."""
        return self.services.chat_store

    @property
    def chat_store_notice(self) -> str | None:
        """What happened to a bad chat database (None until it is open, or when all was well)."""
        return self.services.chat_store_notice

    @property
    def model_jobs(self) -> ModelJobs | None:
        """The model manager's job queue, once the manager has been opened."""
        return self._services.model_jobs if self._services is not None else None

    def shutdown_engines(self) -> bool:
        """Stop both engines and their threads; return True if all ended in time."""
        return self._services.shutdown_engines() if self._services is not None else True

    def _start_remembered_server(self, services: WindowServices, saved: dict[str, object]) -> None:
        """Serve again if the user left the local server on; a failure shows in its dialog and here."""
        if saved.get("on") is not True:
            return
        from app.server import DEFAULT_PORT
        from app.server.runner import ServerError  # not imported before the first paint

        host, port = saved.get("host", "127.0.0.1"), saved.get("port", DEFAULT_PORT)

        try:
            services.local_server.start(
                str(host),
                port if isinstance(port, int) else DEFAULT_PORT,
                expose=saved.get("expose") is True,
                remember=False,
            )
        except ServerError as exc:
            self._show_message(f"Local server not started: {exc}")

    def _server_made(self, control: LocalServerControl) -> None:
        control.choice_changed.connect(self._remember_server)

    @Slot(object)
    def _remember_server(self, choice: dict[str, object]) -> None:
        with self.prefs.change() as settings:
            settings.local_server = dict(choice)
