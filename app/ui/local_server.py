"""The window's local API server: started and stopped from Models → Local Server…, off the GUI thread.

``LocalServerControl`` owns at most one ``LocalServer`` over the window's
lanes (``ApiScheduler.lanes``), so API clients use the models the window has
loaded, in the same engine hosts. Binding and starting uvicorn, and stopping
it, run on a pool thread; ``changed`` tells the dialog to look again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.server import DEFAULT_PORT
from app.services.api_lanes import ApiScheduler
from app.ui.background import run_in_background

if TYPE_CHECKING:  # the server's modules are imported when it is first used, not with the window
    from app.server.runner import LocalServer


class LocalServerControl(QObject):
    """Start, stop and describe the window's server (GUI thread)."""

    changed = Signal()
    # The user started or stopped the server: {"on", "host", "port", "expose"} to remember for next time.
    choice_changed = Signal(object)

    def __init__(self, scheduler: ApiScheduler, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scheduler = scheduler
        self.server: LocalServer | None = None
        self.state = "off"  # off, starting, on, stopping
        self.error = ""  # why the last start failed
        self._starting: LocalServer | None = None
        self._token: str | None = None
        self.host, self.port, self.expose = "127.0.0.1", DEFAULT_PORT, False  # the last address asked for

    # ---- what the dialog shows ------------------------------------------------------

    @property
    def url(self) -> str:
        """The address clients use, or "" while off."""
        return self.server.url if self.server is not None else ""

    @property
    def token(self) -> str:
        """The bearer token clients send (made at first use, kept owner-only)."""
        if self._token is None:
            from app.server.guard import server_token

            self._token = server_token()
        return self._token

    @property
    def requests(self) -> int:
        """Requests the running server has taken."""
        return self.server.api.stats.requests if self.server is not None else 0

    @property
    def last_error(self) -> str:
        """The last start failure, else the last error the running server answered with."""
        if self.error:
            return self.error
        return self.server.settings.last_error if self.server is not None else ""

    # ---- actions ------------------------------------------------------------------------

    def start(self, host: str, port: int, *, expose: bool = False, remember: bool = True) -> None:
        """Start serving on ``host:port`` (port 0: a free one); a non-loopback host needs ``expose``.

        ``remember``: say so through ``choice_changed`` (False when the window starts it from the settings).

        Raises:
            ServerError: The address is not allowed without ``expose``.
        """
        if self.state != "off":
            return
        from app.server.runner import LocalServer, ServerError, is_loopback

        host = host.strip() or "127.0.0.1"
        if not is_loopback(host) and not expose:
            raise ServerError(f"{host} lets other machines connect; confirm it first (the token is still required)")
        self.error = ""
        self.host, self.port, self.expose = host, port, expose and not is_loopback(host)
        if remember:
            self.choice_changed.emit(self.choice(True))
        server = LocalServer(self.scheduler.lanes(), host=host, port=port, token=self.token)
        self._starting, self.state = server, "starting"
        self.changed.emit()
        run_in_background(self, server.start, self._started, self._start_failed)

    def _started(self, _result: object) -> None:
        self.server, self._starting, self.state = self._starting, None, "on"
        self.changed.emit()

    def _start_failed(self, exc: BaseException) -> None:
        from app.server.runner import ServerError

        self._starting, self.state = None, "off"
        self.error = str(exc) if isinstance(exc, ServerError) else f"the server did not start: {exc}"
        self.changed.emit()

    def stop(self) -> None:
        """Stop serving: API jobs end at once, and the server winds down on a pool thread."""
        server = self.server
        if server is None or self.state != "on":
            return
        self.scheduler.stop()
        self.server, self.state = None, "stopping"
        self.choice_changed.emit(self.choice(False))
        self.changed.emit()
        run_in_background(self, server.stop, self._stopped, self._stopped)

    def _stopped(self, _result: object) -> None:
        self.state = "off"
        self.changed.emit()

    def choice(self, on: bool) -> dict[str, object]:
        """What the settings keep: whether it serves, and the address last asked for."""
        return {"on": on, "host": self.host, "port": self.port, "expose": self.expose}

    def new_token(self) -> str:
        """Make a new token; a running server takes it at once (the old one stops working)."""
        from app.server.guard import server_token

        token = self._token = server_token(regenerate=True)
        if self.server is not None:
            self.server.settings.token = token
        self.changed.emit()
        return token

    def shutdown(self) -> None:
        """The window is closing: end API jobs and stop the server before the engines go."""
        self.scheduler.stop()
        for server in (self.server, self._starting):
            if server is not None:
                server.stop(timeout=2.0)
        self.server = self._starting = None
        self.state = "off"
