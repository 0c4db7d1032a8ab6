"""Fixtures of the services tests."""

from __future__ import annotations

import pytest

from app.core.chat.store import ChatStore
from app.core.models.load_params import LoadParams
from app.services.chat_service import ChatService
from app.services.engine_worker import EngineController


@pytest.fixture
def chat_over(qtbot, tmp_path):
    """``chat_over(model, n_ctx)``: a ChatService over a real host loaded with ``model`` and a real
    sqlite store; every one made is shut down afterwards."""
    made = []

    def make(model, n_ctx: int = 4096) -> ChatService:
        controller = EngineController("chat")
        store = ChatStore(tmp_path / f"chats-{len(made)}.sqlite3")
        service = ChatService(controller, store)
        made.append((service, controller, store))
        with qtbot.waitSignal(controller.worker.loaded, timeout=60_000):
            controller.load(str(model), LoadParams(n_ctx=n_ctx))
        qtbot.waitUntil(lambda: service.model_name != "", timeout=20_000)
        return service

    yield make
    for service, controller, store in made:
        service.shutdown()
        assert controller.shutdown(10_000)
        store.close()
