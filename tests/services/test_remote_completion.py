"""CompletionService and ChatService on a remote engine: the same signals as with a local one."""

from __future__ import annotations

import functools

from app.core.models.load_params import LoadParams
from app.engine.remote.engine import RemoteEngine
from app.services.completion_service import CompletionService, EditorSnapshot
from app.services.engine_worker import EngineController
from tests.engine.remote.conftest import codellama_server  # noqa: F401 - the fixture
from tests.support.gui_thread_waits import SignalLog


def _remote(base_url: str, role: str) -> RemoteEngine:
    return RemoteEngine(role, base_url)


def test_suggestions_come_from_a_remote_server_and_the_latest_request_wins(qtbot, codellama_server):  # noqa: F811
    controller = EngineController("completion", functools.partial(_remote, codellama_server.base_url))
    service = CompletionService(controller)
    service.tuning.use_cache = False
    try:
        with qtbot.waitSignal(controller.worker.loaded, timeout=30_000) as loaded:
            controller.load("tiny-codellama", LoadParams())
        assert loaded.args[0].info.family == "codellama" and loaded.args[0].info.can_complete
        qtbot.waitUntil(lambda: service.model_id != "", timeout=10_000)
        shown = SignalLog(service.suggestion)
        first = service.request(EditorSnapshot("a.py", "def add(a, b):\n    ", "\n", "python"))
        latest = service.request(EditorSnapshot("a.py", "def sub(a, b):\n    ", "\n", "python"))
        qtbot.waitUntil(lambda: len(shown.calls) >= 1, timeout=30_000)
        qtbot.wait(300)
        assert [call[0] for call in shown.calls] == [latest]  # the first answer was dropped
        assert first != latest and shown.calls[0][2] is not None
    finally:
        service.growth.stop()
        assert controller.shutdown(10_000)
