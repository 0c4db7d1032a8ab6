"""The server's safety checks, as ASGI middleware: Host allowlist, bearer token, body size; and its token file.

- ``Host`` must name this server (``localhost``, ``127.0.0.1``, ``[::1]`` or a
  configured name, each with the port): a web page that rebinds its own DNS
  name to 127.0.0.1 still sends its own name, and gets 403.
- Every endpoint but ``/health`` needs ``Authorization: Bearer <token>``.
- Bodies above the limit get 413, by their ``Content-Length`` or as they arrive.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.files import write_text_atomic
from app.core.paths import app_dirs
from app.server.errors import ApiError, error_response

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
OPEN_PATHS = frozenset({"/health"})
DEFAULT_BODY_LIMIT = 8 * 2**20


class BodyTooLarge(ApiError):
    """The body grew past the limit while it was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit // 2**20} MB", "request_too_large")


@dataclass
class GuardSettings:
    """What the guard checks; ``hosts`` is filled in once the port is known."""

    token: str | None
    body_limit: int = DEFAULT_BODY_LIMIT
    names: tuple[str, ...] = LOOPBACK_NAMES
    hosts: frozenset[str] = field(default_factory=frozenset)
    last_error: str = ""  # the last error a client was answered with, in one line, for the window

    def refused(self, error: ApiError) -> ApiError:
        """Remember ``error`` as the last error and return it."""
        self.last_error = f"{error.message} ({error.status})"
        return error

    def allow_port(self, port: int) -> None:
        """Allow each name with ``port`` (and bare, where the port is HTTP's default)."""
        allowed = {f"{name}:{port}".lower() for name in self.names}
        if port == 80:
            allowed |= {name.lower() for name in self.names}
        self.hosts = frozenset(allowed)


class HostGuard:
    """403 for a ``Host`` header that does not name this server."""

    def __init__(self, app: ASGIApp, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = _header(scope, b"host")
            if host is None or host.lower() not in self.settings.hosts:
                error = ApiError(403, "this server answers only to its own host name (Host header refused)", "bad_host")
                self.settings.refused(error)
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class AuthGuard:
    """401 without the bearer token; 413 for a body over the limit."""

    def __init__(self, app: ASGIApp, settings: GuardSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = self.settings.token
        if token is not None and scope["path"] not in OPEN_PATHS and not _authorized(scope, token):
            error = ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <token>'", "invalid_api_key")
            self.settings.refused(error)
            await error_response(error, {"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        limit = self.settings.body_limit
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await error_response(self.settings.refused(BodyTooLarge(limit)))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _authorized(scope: Scope, token: str) -> bool:
    given = _header(scope, b"authorization") or ""
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


# ---- the token file ----------------------------------------------------------------


def token_path() -> Path:
    """Where the server's token is kept (owner-only)."""
    return app_dirs().config / "server-token"


def server_token(regenerate: bool = False) -> str:
    """The server's bearer token: made at first use, kept in a 0600 file, new when ``regenerate``."""
    path = token_path()
    if not regenerate:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError:
            token = ""
        if len(token) >= 16:
            return token
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, token + "\n", private=True)
    return token
