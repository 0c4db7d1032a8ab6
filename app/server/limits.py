"""The limit on open requests, as pure ASGI middleware: over it, a JSON 503 in OpenAI's error shape.

A request is open from the moment it arrives until its response has ended:
the whole body of a stream, or the client going away, or an error, or its
task being cancelled (the slot is given back in a ``finally``). Idle
keep-alive connections hold no slot. ``/health`` is neither counted nor
refused, so a monitor still sees that a busy server is up.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.server.errors import ApiError, error_response

UNLIMITED_PATHS = frozenset({"/health"})
RETRY_AFTER_S = 1


class ServerBusy(ApiError):
    """Every slot is taken."""

    def __init__(self, open_now: int, limit: int) -> None:
        requests = "request is" if open_now == 1 else "requests are"
        message = f"the server is busy: {open_now} {requests} open (the limit is {limit}); try again shortly"
        super().__init__(503, message, "server_busy")


class OpenRequestLimit:
    """Let at most ``limit`` HTTP requests be open at once; answer the others 503 with ``Retry-After``."""

    def __init__(self, app: ASGIApp, limit: int, on_refused: Callable[[ApiError], object] | None = None) -> None:
        if limit < 1:
            raise ValueError("the limit on open requests must be at least 1")
        self.app = app
        self.limit = limit
        self.on_refused = on_refused
        self.open = 0  # read and written on the server's event loop only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.open >= self.limit:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
            busy = ServerBusy(self.open, self.limit)
            if self.on_refused is not None:
                self.on_refused(busy)
            await error_response(busy, headers)(scope, receive, send)
            return
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
