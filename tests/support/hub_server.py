"""A small Hugging Face Hub look-alike on 127.0.0.1, for tests and the download benchmark.

It answers the routes ``huggingface_hub`` uses to search models, read a
repository's metadata and download its files (``/api/models``,
``/api/models/{repo}[/revision/{rev}]``, ``/api/models/{repo}/tree/{rev}``,
``/api/whoami-v2`` and ``/{repo}/resolve/{rev}/{file}``), with the headers
the real Hub sends for LFS files and without Xet, so clients fall back to
plain HTTP. Files can be bytes or large files on disk, which are streamed
with ``sendfile`` and never read whole.

Faults can be injected per file: a connection cut after some bytes (for the
next request or several), an error status such as 503 (with ``Retry-After``
if wanted), a corrupted body, a body held after some bytes until
``release_holds``, and a global throttle. ``bytes_sent`` and ``requests``
record what went over the wire.
"""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
from collections import defaultdict
from collections.abc import Iterable
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.support.hub_files import _make_file, _Repo
from tests.support.hub_routes import _Handler


class HubServer:
    """A Hub-compatible HTTP server in a daemon thread.

    Use as a context manager, or call ``start`` and ``stop``. ``endpoint`` is
    the value for ``HF_ENDPOINT``.

    Attributes:
        bytes_sent: ``(repo_id, filename)`` -> file body bytes written to sockets.
        requests: ``(method, path with query, Range header or None)`` for every request.
        ranges: Set to False to ignore ``Range`` headers and always answer
            200 with the whole body, as some proxies do.
    """

    def __init__(self) -> None:
        self._repos: dict[str, _Repo] = {}
        self._tokens: set[str] = set()
        self._faults: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
        self._failures: dict[tuple[str, str], list[tuple[int, str | None]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._released = threading.Event()
        self.bytes_per_s: float | None = None
        self.ranges = True
        self.bytes_sent: dict[tuple[str, str], int] = defaultdict(int)
        self.requests: list[tuple[str, str, str | None]] = []

    # -- lifecycle -------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError("the hub server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> HubServer:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        hub = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def process_request(self, request, client_address):
                with hub._lock:
                    hub._connections.add(request)
                super().process_request(request, client_address)

            def shutdown_request(self, request):
                with hub._lock:
                    hub._connections.discard(request)
                super().shutdown_request(request)

            def handle_error(self, request, client_address):
                # A client that hangs up (a cancelled download, a closed test) is not a server error.
                if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    super().handle_error(request, client_address)

        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection, keep-alive ones included."""
        if self._server is None:
            return
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- content -----------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes | Path],
        *,
        gated: bool = False,
        downloads: int = 0,
        likes: int = 0,
        license: str = "apache-2.0",
        last_modified: str = "2024-04-09T00:00:00.000Z",
        tags: Iterable[str] = ("gguf",),
        lfs: bool | None = None,
    ) -> str:
        """Add a repository, or give an existing one a new commit with these files.

        Args:
            repo_id: ``owner/name``.
            files: File name -> content, as bytes or a path that is streamed from disk.
            gated: Downloads need an allowed token (metadata stays public).
            downloads: Shown in search results.
            likes: Shown in search results.
            license: License id, in ``cardData`` and as a ``license:`` tag.
            last_modified: ISO time of the last commit.
            tags: Repository tags; ``license:<id>`` is added.
            lfs: Store every file with LFS (True) or as plain git blobs
                (False); by default text files are plain and the rest LFS.

        Returns:
            The repository's new commit sha (40 hex digits, derived from its content).
        """
        built = {name: _make_file(name, content, lfs) for name, content in files.items()}
        seed = repo_id + "".join(f"\n{f.name}:{f.sha256}" for f in sorted(built.values(), key=lambda f: f.name))
        commit = hashlib.sha1(seed.encode()).hexdigest()
        all_tags = tuple(dict.fromkeys([*tags, f"license:{license}"]))
        with self._lock:
            previous = self._repos.get(repo_id)
            history = previous.history if previous else {}
            history[commit] = built
            self._repos[repo_id] = _Repo(
                repo_id, gated, downloads, likes, license, last_modified, all_tags, commit, built, history
            )
        return commit

    def commit(self, repo_id: str) -> str:
        """Return the current commit sha of a repository."""
        return self._repos[repo_id].commit

    def allow_token(self, token: str) -> None:
        """Let ``token`` read gated repositories."""
        with self._lock:
            self._tokens.add(token)

    # -- faults --------------------------------------------------------------

    def cut_next(self, repo_id: str, filename: str, after_bytes: int, times: int = 1) -> None:
        """Close the connection after ``after_bytes`` of the body, for each of the next ``times`` GETs of a file."""
        with self._lock:
            self._faults[(repo_id, filename)].extend([("cut", int(after_bytes))] * times)

    def fail_next(
        self, repo_id: str, filename: str, status: int = 503, times: int = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next ``times`` GETs of a file with ``status`` (and ``Retry-After``), no body."""
        with self._lock:
            self._failures[(repo_id, filename)].extend([(int(status), retry_after)] * times)

    def corrupt_next(self, repo_id: str, filename: str) -> None:
        """Flip bytes in the body of the next GET of a file (same length)."""
        with self._lock:
            self._faults[(repo_id, filename)].append(("corrupt", 0))

    def hold_next(self, repo_id: str, filename: str, after_bytes: int) -> None:
        """Send ``after_bytes`` of the next GET of a file's body, then send nothing more until ``release_holds``.

        The connection stays open meanwhile, so the client is still in the
        middle of its transfer.
        """
        with self._lock:
            self._faults[(repo_id, filename)].append(("hold", int(after_bytes)))
            self._released.clear()

    def release_holds(self) -> None:
        """Let held bodies go on to their end."""
        self._released.set()

    def total_sent(self, repo_id: str, filename: str) -> int:
        """File body bytes written to sockets for one file, over every request so far."""
        with self._lock:
            return self.bytes_sent.get((repo_id, filename), 0)

    def throttle(self, bytes_per_s: float | None) -> None:
        """Limit every file body to about ``bytes_per_s`` (None: no limit)."""
        self.bytes_per_s = bytes_per_s

    def _take_fault(self, key: tuple[str, str]) -> tuple[str, int] | None:
        with self._lock:
            queued = self._faults.get(key)
            return queued.pop(0) if queued else None

    def _take_failure(self, key: tuple[str, str]) -> tuple[int, str | None] | None:
        with self._lock:
            queued = self._failures.get(key)
            return queued.pop(0) if queued else None

    # -- lookups for the handler ---------------------------------------------

    def _repo(self, repo_id: str) -> _Repo | None:
        with self._lock:
            return self._repos.get(repo_id)

    def _token_allowed(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and token in self._tokens
