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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServerError(RuntimeError):
    """The server did not start, with the end of its stderr in the message."""


class LlamaServer:
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
        self.model = Path(model)
        self.alias = alias
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.cpus = cpus
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr_file: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

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

    def stderr_tail(self, lines: int = 25) -> str:
        """The last lines the server wrote to stderr (and stdout)."""
        if self._stderr_file is None:
            return ""
        try:
            text = Path(self._stderr_file.name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> LlamaServer:
        """Start the process and wait until it lists its model."""
        self.port = free_port()
        self._stderr_file = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        env = dict(os.environ)
        for name in ("HOST", "PORT", "API_KEY", "MODEL"):  # the server's settings read these
            env.pop(name, None)
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._stderr_file,
            stderr=subprocess.STDOUT,
            env=env,
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
        request = urllib.request.Request(f"{self.base_url}/v1/models")
        if self.api_key is not None:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        while True:
            code = self.process.poll()
            if code is not None:
                raise LlamaServerError(f"llama_cpp.server exited with code {code}:\n{self.stderr_tail()}")
            try:
                with urllib.request.urlopen(request, timeout=2.0) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise LlamaServerError(
                    f"llama_cpp.server did not answer /v1/models within {self.start_timeout_s:.0f} s:\n"
                    f"{self.stderr_tail()}"
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
        if self._stderr_file is not None:
            self._stderr_file.close()
            Path(self._stderr_file.name).unlink(missing_ok=True)
            self._stderr_file = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
