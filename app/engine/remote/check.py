"""Test connection: what a server is, which model it serves, how far away it is, and a short sample.

Shared by the window's Engines dialog (on a worker thread) and by
``fimble remote test``. ``ConnectionCheck.run`` connects, times one light
request, lists the server's models and generates a 5-token sample (FIM for a
family with FIM tokens, else chat); ``cancel`` from another thread ends the
sample at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

from app.core.errors import ErrorKind
from app.core.generation.contracts import ChatMessage, ChatRequest, FimRequest, GenerationStats, Sampling
from app.core.models.load_params import LoadParams
from app.engine.client import EngineError
from app.engine.remote.engine import RemoteEngine

SAMPLE_TOKENS = 5
_SAMPLE_PREFIX = "def add(a, b):\n    return "


@dataclass(frozen=True)
class ConnectionReport:
    """What Test connection shows."""

    server: str
    model: str
    family: str
    context_length: int | None
    round_trip_ms: float
    sample: str
    sample_ms: float
    fim: bool
    models: tuple[str, ...]

    def rows(self) -> list[tuple[str, str]]:
        """Label and value per line, as the dialog and the CLI print them."""
        context = f"{self.context_length:,} tokens" if self.context_length else "not reported"
        kind = "FIM" if self.fim else "chat"
        return [
            ("server", self.server),
            ("model", f"{self.model} ({self.family})"),
            ("context", context),
            ("round trip", f"{self.round_trip_ms:.0f} ms"),
            ("sample", f"{self.sample!r} in {self.sample_ms:.0f} ms ({kind}, {SAMPLE_TOKENS} tokens)"),
        ]

    def to_json(self) -> dict[str, object]:
        """The ``--json`` form."""
        data = asdict(self)
        data["round_trip_ms"] = round(self.round_trip_ms, 1)
        data["sample_ms"] = round(self.sample_ms, 1)
        data["models"] = list(self.models)
        return data


class ConnectionCheck:
    """One Test connection run; ``cancel`` may be called from any thread."""

    def __init__(self, url: str, api_key: str | None, model: str = "", family: str | None = None) -> None:
        self.url = url
        self._api_key = api_key
        self._model = model
        self._family = family
        self._cancelled = threading.Event()
        self._engine: RemoteEngine | None = None

    def set_api_key(self, api_key: str | None) -> None:
        """Use ``api_key`` (looked up after the check was made, e.g. from the keyring)."""
        self._api_key = api_key

    def cancel(self) -> None:
        """Stop the check; ``run`` raises ``EngineError`` (cancelled) soon after."""
        self._cancelled.set()
        engine = self._engine
        if engine is not None:
            engine.cancel(None)

    def _stop_if_cancelled(self) -> None:
        if self._cancelled.is_set():
            raise EngineError(ErrorKind.CANCELLED, "the connection test was stopped")

    def run(self) -> ConnectionReport:
        """Connect, time a request, list models and take a sample.

        Raises:
            EngineError: One line: the server cannot be reached, refuses the key, has no such model, …
        """
        engine = RemoteEngine("test", self.url, self._api_key, family=self._family)
        self._engine = engine
        try:
            engine.start()
            self._stop_if_cancelled()
            engine.load(self._model, LoadParams())
            facts = engine.facts
            assert facts is not None
            round_trip = engine.round_trip_ms()
            self._stop_if_cancelled()
            family = engine.family or "generic"
            fim = engine.offers_fim
            sampling = Sampling(max_tokens=SAMPLE_TOKENS, temperature=0.0)
            request: FimRequest | ChatRequest = (
                FimRequest(_SAMPLE_PREFIX, "\n", sampling=sampling)
                if fim
                else ChatRequest((ChatMessage("user", "Say hello."),), sampling)
            )
            started = time.perf_counter()
            sample = "".join(item for item in engine.generate(1, request) if not isinstance(item, GenerationStats))
            sample_ms = (time.perf_counter() - started) * 1000
            self._stop_if_cancelled()
        finally:
            self._engine = None
            engine.close()
        return ConnectionReport(
            server=facts.kind.label,
            model=engine.model_id,
            family=family,
            context_length=facts.context_length,
            round_trip_ms=round_trip,
            sample=sample,
            sample_ms=sample_ms,
            fim=fim,
            models=facts.model_ids,
        )
