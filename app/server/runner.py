"""The server on its own thread: uvicorn with its own event loop, over a socket bound here.

Binding the socket before uvicorn starts gives the real port at once (``port=0``
picks a free one), so the Host allowlist and the printed URL are right from
the first request. The limit on open requests is ours (``limits.py``, a JSON
503); uvicorn's own, which also counts idle keep-alive connections, is only a
far-off backstop against running out of sockets. ``stop`` cancels running
generations, lets uvicorn close its connections and joins the thread; the
listening socket is closed with it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import TYPE_CHECKING

from app.server.guard import DEFAULT_BODY_LIMIT, LOOPBACK_NAMES, GuardSettings
from app.server.roles import Lane

if TYPE_CHECKING:  # uvicorn and the app are imported when a server is made, not with the window
    import uvicorn

DEFAULT_MAX_CONNECTIONS = 32
SOCKET_BACKSTOP = 256  # uvicorn's limit (idle keep-alive connections count there) is 4× ours plus this
START_TIMEOUT_S = 15.0


class ServerError(RuntimeError):
    """The server could not start (the port is taken, the address is wrong…); one line."""


def is_loopback(host: str) -> bool:
    """Say whether ``host`` is a loopback name or address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LocalServer:
    """Fimble's API server over ``lanes`` (role → lane).

    ``max_connections`` caps the requests open at once (``/health`` aside);
    the next one gets a JSON 503 with ``Retry-After``.
    """

    def __init__(
        self,
        lanes: dict[str, Lane],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None,
        cors_origins: tuple[str, ...] = (),
        host_names: tuple[str, ...] = (),
        body_limit: int = DEFAULT_BODY_LIMIT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.lanes = lanes
        from app.server.api import Api
        from app.server.limits import OpenRequestLimit

        names = tuple(dict.fromkeys((*LOOPBACK_NAMES, *host_names, *_own_names(host))))
        self.settings = GuardSettings(token=token, body_limit=body_limit, names=names)
        self.api = Api(lanes, self.settings, cors_origins)
        self.max_connections = max_connections
        self.limit = OpenRequestLimit(self.api.app, max_connections, self.settings.refused)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL clients use (OpenAI clients add ``/v1``)."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def open_requests(self) -> int:
        """How many requests are open now (``/health`` aside); at most ``max_connections``."""
        return self.limit.open

    def start(self) -> None:
        """Bind, start serving on a new thread, and return once requests are answered.

        Raises:
            ServerError: The address could not be bound or the server did not start.
        """
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host.strip("[]"), self.port, type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
        except OSError as exc:
            raise ServerError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self.settings.allow_port(self.port)
        import uvicorn

        config = uvicorn.Config(
            self.limit,
            log_level="warning",
            access_log=False,
            lifespan="off",
            limit_concurrency=4 * self.max_connections + SOCKET_BACKSTOP,
            timeout_graceful_shutdown=3,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="fimble-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the server did not start: {self._failure or 'timed out'}")
            time.sleep(0.01)

    def _serve(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            import asyncio

            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._failure = exc

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel generations, stop serving, close the socket; safe to call twice."""
        for lane in {id(lane): lane for lane in self.lanes.values()}.values():
            lane.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server, self._thread, self._socket = None, None, None


def _own_names(host: str) -> tuple[str, ...]:
    """The bound name itself, unless it is a wildcard address."""
    if host in ("", "0.0.0.0", "::"):
        return ()
    return (f"[{host}]" if ":" in host and not host.startswith("[") else host,)
