"""Servers over real engine hosts with the tiny models, on 127.0.0.1 and a free port."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2 as httpx
import pytest

from app.core.models.load_params import LoadParams
from app.engine.host_client import HostEngine
from app.server.roles import EngineLane
from app.server.runner import LocalServer

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Served:
    """A running server, its lanes and an authorized client."""

    server: LocalServer
    lanes: dict[str, EngineLane]
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


def start_served(models: dict[str, str], log_dir, n_ctx: int = 2048, **options) -> tuple[Served, list[HostEngine]]:
    """Load each distinct model in its own host and serve role → model."""
    engines, by_path, lanes = [], {}, {}
    for role, path in models.items():
        if path not in by_path:
            engine = HostEngine(f"serve-{role}", log_path=str(log_dir / f"{role}.log"))
            engines.append(engine)
            engine.start()
            loaded = engine.load(path, LoadParams(n_ctx=n_ctx, n_gpu_layers=0))
            by_path[path] = EngineLane(engine, loaded, loaded.info.family)
        lanes[role] = by_path[path]
    server = LocalServer(lanes, token=options.pop("token", TOKEN), **options)
    server.start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    return Served(server, lanes, client), engines


def stop_served(served: Served, engines: list[HostEngine]) -> None:
    served.client.close()
    served.server.stop()
    for engine in engines:
        engine.close()


@pytest.fixture(scope="module")
def codegemma_server(tiny_models, tmp_path_factory):
    """Chat and FIM both on the tiny CodeGemma (one lane)."""
    model = str(tiny_models["codegemma"])
    served, engines = start_served({"chat": model, "completion": model}, tmp_path_factory.mktemp("logs"))
    yield served
    stop_served(served, engines)


@pytest.fixture(scope="module")
def codellama_server(tiny_models, tmp_path_factory):
    """Chat on the tiny generic model, completions on the tiny Code Llama (which never stops at temperature 0)."""
    models = {"chat": str(tiny_models["generic"]), "completion": str(tiny_models["codellama"])}
    served, engines = start_served(models, tmp_path_factory.mktemp("logs"), n_ctx=4096)
    yield served
    stop_served(served, engines)
