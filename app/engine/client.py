"""The parent side's view of an engine: a small interface, no llama_cpp.

``HostEngine`` (a local host process) implements it today; a remote engine
(a llama.cpp server, TGI or vLLM over HTTP) can implement the same methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from app.core.errors import ErrorKind, UserFacingError
from app.core.generation.backend_info import BackendInfo
from app.core.generation.contracts import ChatRequest, FimRequest, GenerationStats
from app.core.models.load_params import LoadParams
from app.core.models.loaded import LoadedModel


class EngineError(UserFacingError):
    """An engine command failed; ``kind`` says why, ``message`` is one plain-language line."""


class EngineCrashed(EngineError):
    """The engine process died; it must be restarted and the model reloaded."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.CRASHED, message)


class Engine(ABC):
    """One model-serving backend. Methods block; ``cancel``/``hold``/``close`` are thread-safe."""

    backend: BackendInfo

    @abstractmethod
    def start(self) -> BackendInfo:
        """Start the engine and return its backend description."""

    @abstractmethod
    def is_alive(self) -> bool:
        """Say whether the engine is running."""

    @abstractmethod
    def load(
        self,
        path: str,
        params: LoadParams,
        *,
        vocab_only: bool = False,
        on_progress: Callable[[float], None] | None = None,
    ) -> LoadedModel:
        """Load a model and return what was loaded.

        Raises:
            EngineError: The model could not be loaded.
        """

    @abstractmethod
    def tokenize(self, text: str, special: bool = False) -> tuple[list[int], list[str]]:
        """Return token ids and pieces for ``text`` (no BOS)."""

    @abstractmethod
    def build_prompt(self, request: FimRequest | ChatRequest) -> tuple[list[int], list[str]]:
        """Return the exact prompt ``request`` would evaluate."""

    @abstractmethod
    def generate(self, job_id: int, request: FimRequest | ChatRequest) -> Iterator[str | GenerationStats]:
        """Yield text pieces, then the final ``GenerationStats``.

        Raises:
            EngineError: The request could not be served.
            EngineCrashed: The engine died mid-request.
        """

    @abstractmethod
    def cancel(self, job_id: int | None = None) -> None:
        """Stop a running or queued job within one token."""

    def hold(self, job_id: int, on: bool) -> None:
        """Pause (``on``) or release job ``job_id``; thread-safe.

        While on, the job stops between tokens (its prompt may still be
        evaluated) until it is released or cancelled; a hold sent before the
        job starts applies when it starts, and ends with the job. The held
        time does not count toward ``Sampling.time_limit_s``. Engines that
        cannot pause (remote servers) keep this default, which does nothing.
        """
        del job_id, on

    @abstractmethod
    def unload(self) -> None:
        """Free the loaded model."""

    def request_close(self) -> None:
        """Ask the engine to stop without waiting (lets several stop at once)."""
        self.cancel()

    @abstractmethod
    def close(self, timeout: float = 1.0) -> None:
        """Stop the engine for good, forcibly after ``timeout`` seconds."""
