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
from pathlib import Path

import pytest

from bench.llama_server import ServerProcess

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


class LlamaCppServer(ServerProcess):
    """One ``llama-server`` process serving one GGUF.

    Args:
        binary: The llama-server executable.
        model: The GGUF file.
        alias: The model id the server lists and answers to.
        api_key: When given, every request needs ``Authorization: Bearer <key>``.
        n_ctx: The context size.
        start_timeout_s: How long ``start`` waits for ``/health``.
    """

    NAME = "llama-server"
    READY_PATH = "/health"  # 503 while the model loads

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
        super().__init__(api_key=api_key, cpus=None, start_timeout_s=start_timeout_s)
        self.binary = Path(binary)
        self.model = Path(model)
        self.alias = alias
        self.n_ctx = n_ctx

    def drop_env(self, name: str) -> bool:  # noqa: D102
        return name.startswith("LLAMA_ARG_")  # its settings read these

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
