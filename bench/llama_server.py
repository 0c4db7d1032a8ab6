"""llama-cpp-python's OpenAI-compatible server as a real subprocess on 127.0.0.1, for tests and ``bench remote``.

``LlamaServer(model).start()`` runs ``python -m llama_cpp.server`` on a free
port with one thread (by default) and ``--interrupt_requests false`` (so one request never
cuts off another), waits until ``GET /v1/models`` answers 200, and ``stop``
ends it: terminate, then kill. If the process dies or never answers, the
error carries the tail of its stderr.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServerError(RuntimeError):
    """The server did not start, with the end of its stderr in the message."""


class ServerProcess:
    """A server process on a free port of 127.0.0.1 with its output in a temporary log.

    Subclasses give the command line (``command``), the path that answers
    200 once the model is loaded (``READY_PATH``), and the environment names
    the server would read its settings from (``drop_env``).
    """

    NAME = "server"
    READY_PATH = "/v1/models"

    def __init__(self, *, api_key: str | None, cpus: set[int] | None, start_timeout_s: float) -> None:
        self.api_key = api_key
        self.cpus = cpus
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The command line that starts the server on ``self.port``."""
        raise NotImplementedError

    def drop_env(self, name: str) -> bool:
        """Whether an environment variable would change the server's settings (it is not passed on)."""
        return False

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the server wrote (stdout and stderr)."""
        if self._log is None:
            return ""
        try:
            text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> Self:
        """Start the process and wait until ``READY_PATH`` answers 200."""
        self.port = free_port()
        self._log = tempfile.NamedTemporaryFile(prefix=f"{self.NAME}-", suffix=".log", delete=False)
        env = {name: value for name, value in os.environ.items() if not self.drop_env(name)}
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        try:
            if self.cpus is not None:
                # Set before the server starts its threads (they take the main thread's cores).
                os.sched_setaffinity(self.process.pid, self.cpus)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout_s
        request = urllib.request.Request(f"{self.base_url}{self.READY_PATH}")
        if self.api_key is not None:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        while True:
            code = self.process.poll()
            if code is not None:
                raise LlamaServerError(f"{self.NAME} exited with code {code}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(request, timeout=2.0) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 while the model loads
            if time.monotonic() > deadline:
                raise LlamaServerError(
                    f"{self.NAME} did not answer {self.READY_PATH} within {self.start_timeout_s:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    def kill(self) -> None:
        """End the process at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Terminate the process, kill it if it lingers, and remove its log."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LlamaServer(ServerProcess):
    """One ``llama_cpp.server`` process serving one GGUF.

    Args:
        model: The GGUF file.
        alias: The model id the server lists and answers to.
        api_key: When given, every request needs ``Authorization: Bearer <key>``.
        n_ctx: The context size.
        n_threads: llama.cpp's threads for generation and for the prompt.
        cpus: When given (Linux), the cores the process may run on: a benchmark
            gives the server cores of its own, as if it were another machine.
        start_timeout_s: How long ``start`` waits for ``/v1/models``.
    """

    NAME = "llama_cpp.server"

    def __init__(
        self,
        model: Path,
        *,
        alias: str = "test-model",
        api_key: str | None = None,
        n_ctx: int = 1024,
        n_threads: int = 1,
        cpus: set[int] | None = None,
        start_timeout_s: float = 90.0,
    ) -> None:
        super().__init__(api_key=api_key, cpus=cpus, start_timeout_s=start_timeout_s)
        self.model = Path(model)
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads

    def drop_env(self, name: str) -> bool:  # noqa: D102
        return name in ("HOST", "PORT", "API_KEY", "MODEL")  # the server's settings read these

    def command(self) -> list[str]:
        """The command line that starts the server."""
        args = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--model_alias",
            self.alias,
            "--interrupt_requests",
            "false",
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--verbose",
            "false",
        ]
        if self.api_key is not None:
            args += ["--api_key", self.api_key]
        return args
