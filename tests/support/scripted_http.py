"""A tiny HTTP server on 127.0.0.1 that answers every request with one scripted reply.

For the failures a real inference server rarely shows on demand: a stream of
garbage, 429/503 with ``Retry-After``, a 404 for a model, a stream that goes
silent. Set ``reply`` before a request; ``hold`` keeps the connection open and
silent after the scripted chunks until ``stop`` (or ``release``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """What the server sends: a status, headers, body chunks (flushed one by one), then maybe silence."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    hold: bool = False


def sse_reply(*data_lines: str, hold: bool = False) -> Reply:
    """A ``text/event-stream`` reply with one ``data:`` event per line."""
    chunks = [f"data: {line}\n\n".encode() for line in data_lines]
    return Reply(200, {"Content-Type": "text/event-stream"}, chunks, hold)


def json_reply(status: int, body: str, **headers: str) -> Reply:
    """A JSON reply (``headers`` with ``_`` for ``-``: ``Retry_After="7"``)."""
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return Reply(status, {"Content-Type": "application/json", **named}, [body.encode()])


class ScriptedServer:
    """The server; use as a context manager. ``requests`` records (method, path, body), ``seen_headers`` the headers."""

    def __init__(self) -> None:
        self.reply = Reply()
        # Replies by "METHOD /path" (or a function of the request body), before ``reply``.
        self.routes: dict[str, Reply | Callable[[bytes], Reply]] = {}
        self.requests: list[tuple[str, str, bytes]] = []
        self.seen_headers: list[dict[str, str]] = []
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        """End held replies."""
        self._released.set()

    def start(self) -> ScriptedServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner.seen_headers.append(dict(self.headers.items()))
                owner.requests.append((self.command, self.path, self.rfile.read(length) if length else b""))
                route = owner.routes.get(f"{self.command} {self.path}", owner.reply)
                reply = route if isinstance(route, Reply) else route(owner.requests[-1][2])
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                streaming = reply.hold or reply.headers.get("Content-Type") == "text/event-stream"
                if streaming:
                    self.send_header("Connection", "close")
                else:
                    self.send_header("Content-Length", str(sum(len(chunk) for chunk in reply.chunks)))
                self.end_headers()
                for chunk in reply.chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                if reply.hold:
                    owner._released.wait(120)
                if streaming:
                    self.close_connection = True

            do_GET = _answer
            do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
