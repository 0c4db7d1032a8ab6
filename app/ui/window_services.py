"""What one main window runs on, made from the settings: the chat store, the engines and the services.

Nothing here is a widget. ``WindowServices`` opens the chat database, starts
one engine thread per model role, makes the chat and completion services, and
later the model manager's job queue. It also stops all of them, in order, when
the window closes or fails to start. The window makes all this just after its
first frame: none of these modules is imported before then.

The chat database is opened on a pool thread: its integrity check reads every
page, about 30 ms for a thousand chats, and the GUI thread goes on meanwhile. The
chat service is told when it is open (``ChatService.store_arrived``); whoever
asks for the store sooner waits for it.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import TYPE_CHECKING

from PySide6.QtCore import QElapsedTimer, QObject

from app.core.chat.store_rescue import OpenedStore, open_chat_store
from app.core.models.roles import ModelRole
from app.core.paths import app_dirs
from app.core.settings import Settings
from app.services.chat_service import ChatService
from app.services.completion_service import CompletionService
from app.services.engine_worker import EngineController
from app.ui.background import run_in_background

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.core.chat.store import ChatStore
    from app.engine.client import Engine
    from app.services.model_jobs import ModelJobs
    from app.ui.local_server import LocalServerControl

    EngineFactory = Callable[[str], Engine]

log = logging.getLogger(__name__)

# How long closing may wait for both engine hosts, all told.
SHUTDOWN_BUDGET_MS = 1800


class WindowServices:
    """The stores, engines and services behind one window; they stop with it."""

    def __init__(
        self,
        settings: Settings,
        engine_factory: EngineFactory | None,
        parent: QObject,
        on_local_server: Callable[[LocalServerControl], None] | None = None,
    ) -> None:
        """Open the chat store, start the engines and make the services.

        A bad chat database is set aside, never fatal (``chat_store_notice``
        says what happened). If anything else fails, what was started is
        stopped again before the error propagates. The local server's control
        is made when first used (``local_server``), and handed to
        ``on_local_server`` then.
        """
        self._parent = parent
        self._on_local_server = on_local_server
        self._local_server: LocalServerControl | None = None
        self._opened: Future[OpenedStore] = Future()
        self._closed = False  # shut down: a store that opens now is not announced
        self._store_path = app_dirs().ensure().data / "chats.sqlite3"
        self.model_jobs: ModelJobs | None = None  # made when the model manager first opens
        self._engines: dict[ModelRole, EngineController] = {}
        try:
            # First, so that whatever fails below, the store a failed start closes is being opened.
            run_in_background(parent, self._open_store, self._store_opened, self._store_not_opened)
            for role in ModelRole:
                self._engines[role] = EngineController(role.value, engine_factory, parent)
            self.chat_service = ChatService(self.chat_engine, self._store, parent)
            if settings.system_prompt is not None:
                self.chat_service.default_system_prompt = settings.system_prompt
            self.completion_service = CompletionService(self.completion_engine, parent)
            self.completion_service.pinned_window = settings.completion_window
        except BaseException:
            self.stop_after_failed_start()
            raise

    # ---- the chat store ------------------------------------------------------------------

    def _open_store(self) -> OpenedStore:
        """On a pool thread: open the database (setting a bad one aside; never raises for a bad file)."""
        try:
            opened = open_chat_store(self._store_path)
        except BaseException as exc:
            self._opened.set_exception(exc)
            raise
        self._opened.set_result(opened)
        return opened

    def _store_opened(self, _opened: OpenedStore) -> None:
        if not self._closed:  # a failed start sets it before any result arrives
            self.chat_service.store_arrived()

    def _store_not_opened(self, exc: BaseException) -> None:
        log.error("the chat store could not be opened: %s", exc)

    def _store(self) -> ChatStore:
        return self._opened.result().store

    @property
    def chat_store(self) -> ChatStore:
        """The chat store (waits while it is still being opened)."""
        return self._store()

    @property
    def chat_store_notice(self) -> str | None:
        """What happened to a bad chat database, once it is open (None before, or when all was well)."""
        if not self._opened.done() or self._opened.exception() is not None:
            return None
        return self._opened.result().notice

    def _close_store(self) -> None:
        """Close the store once it is open (waits for it); nothing to close if opening failed."""
        self._closed = True
        if self._opened.exception() is None:
            self._opened.result().store.close()

    @property
    def local_server(self) -> LocalServerControl:
        """The window's API server control, over the window's engines (made on first use, not before the paint)."""
        if self._local_server is None:
            from app.services.api_lanes import ApiScheduler
            from app.ui.local_server import LocalServerControl

            engines = {role.value: controller for role, controller in self._engines.items()}
            self._local_server = LocalServerControl(ApiScheduler(engines, self._parent), self._parent)
            if self._on_local_server is not None:
                self._on_local_server(self._local_server)
        return self._local_server

    @property
    def chat_engine(self) -> EngineController:
        """The engine that answers chats."""
        return self._engines[ModelRole.CHAT]

    @property
    def completion_engine(self) -> EngineController:
        """The engine that completes code in the editor."""
        return self._engines[ModelRole.COMPLETION]

    @property
    def engines(self) -> dict[ModelRole, EngineController]:
        """Every role's engine."""
        return dict(self._engines)

    def jobs(self) -> ModelJobs:
        """The model manager's job queue, made (and earlier partial downloads listed) on first use."""
        if self.model_jobs is None:
            from app.core.hub.client import HubClient
            from app.services.model_jobs import ModelJobs

            self.model_jobs = ModelJobs(app_dirs().ensure().models, HubClient)
            self.model_jobs.adopt_partials()
        return self.model_jobs

    def stop_after_failed_start(self) -> None:
        """Stop what a failed start had started (a local server, the threads and hosts), and close the store."""
        if self._local_server is not None:
            self._local_server.shutdown()
        controllers = list(self._engines.values())
        for controller in controllers:
            controller.worker.begin_close()
        for controller in controllers:
            controller.shutdown(SHUTDOWN_BUDGET_MS)
        self._close_store()

    def shutdown_engines(self) -> bool:
        """Stop every engine and its thread; return True if all ended in time."""
        timer = QElapsedTimer()
        timer.start()
        ok = True
        controllers = list(self._engines.values())
        for controller in controllers:
            controller.worker.begin_close()  # the hosts wind down at once
        for controller in controllers:
            ok &= controller.shutdown(max(100, SHUTDOWN_BUDGET_MS - timer.elapsed()))
        return ok

    def shutdown(self) -> None:
        """Close everything in order: local server, chat, jobs, engines, then the store."""
        if self._local_server is not None:
            self._local_server.shutdown()  # API jobs end before their engines go
        self.chat_service.shutdown()
        if self.model_jobs is not None:
            self.model_jobs.shutdown()  # a running download pauses and resumes next time
        self.shutdown_engines()
        self._close_store()
