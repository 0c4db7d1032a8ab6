"""llama.cpp's own ``llama-server`` binary as a real subprocess on 127.0.0.1, for tests.

The binary is built by ``make llama-server`` from the llama.cpp sources inside
llama-cpp-python's source distribution (``tests/support/build_llama_server.sh``).
``llama_server_binary`` finds it: ``$FIMBLE_LLAMA_SERVER``, else the default
build path. When it is missing the tests that need it are skipped with the
reason, unless ``FIMBLE_REQUIRE_LLAMA_SERVER=1``: then they fail, so a
machine that should have it cannot pass quietly without it.

``LlamaCppServer(binary, model).start()`` runs it on a free port with one
slot and one thread, waits until ``GET /health`` answers 200 (it answers 503
while the model loads), and ``stop`` ends it: terminate, then kill.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.llama_server import LlamaServerError, free_port

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = ROOT / "build" / "llama-server" / "bin" / "llama-server"
BINARY_ENV = "FIMBLE_LLAMA_SERVER"
REQUIRE_ENV = "FIMBLE_REQUIRE_LLAMA_SERVER"


def find_binary() -> Path | None:
    """The llama-server binary: ``$FIMBLE_LLAMA_SERVER`` or the default build path, if it exists."""
    named = os.environ.get(BINARY_ENV)
    path = Path(named) if named else DEFAULT_BINARY
    return path if path.is_file() and os.access(path, os.X_OK) else None


def llama_server_binary() -> Path:
    """The binary, or skip the test (fail it when ``FIMBLE_REQUIRE_LLAMA_SERVER=1``)."""
    binary = find_binary()
    if binary is not None:
        return binary
    where = os.environ.get(BINARY_ENV) or str(DEFAULT_BINARY)
    reason = f"llama.cpp's llama-server is not built ({where} is missing; run `make llama-server`)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason)


class LlamaCppServer:
    """One ``llama-server`` process serving one GGUF.

    Args:
        binary: The llama-server executable.
        model: The GGUF file.
        alias: The model id the server lists and answers to.
        api_key: When given, every request needs ``Authorization: Bearer <key>``.
        n_ctx: The context size.
        start_timeout_s: How long ``start`` waits for ``/health``.
    """

    def __init__(
        self,
        binary: Path,
        model: Path,
        *,
        alias: str = "test-model",
        api_key: str | None = None,
        n_ctx: int = 1024,
        start_timeout_s: float = 90.0,
    ) -> None:
        self.binary = Path(binary)
        self.model = Path(model)
        self.alias = alias
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        args = [
            str(self.binary),
            "--model",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ctx-size",
            str(self.n_ctx),
            "--alias",
            self.alias,
            "--parallel",
            "1",
            "--threads",
            "1",
            "--threads-batch",
            "1",
            "--no-webui",
            "--no-warmup",
        ]
        if self.api_key is not None:
            args += ["--api-key", self.api_key]
        return args

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the server wrote (stdout and stderr)."""
        if self._log is None:
            return ""
        try:
            text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> LlamaCppServer:
        """Start the process and wait until ``/health`` says the model is loaded."""
        self.port = free_port()
        self._log = tempfile.NamedTemporaryFile(prefix="llama-cpp-server-", suffix=".log", delete=False)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLAMA_ARG_")}  # its settings read these
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            code = self.process.poll()
            if code is not None:
                raise LlamaServerError(f"llama-server exited with code {code}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2.0) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 while the model loads
            if time.monotonic() > deadline:
                raise LlamaServerError(
                    f"llama-server did not answer /health within {self.start_timeout_s:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

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

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
