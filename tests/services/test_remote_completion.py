"""CompletionService and ChatService on a remote engine: the same signals as with a local one."""

from __future__ import annotations

import functools

from app.core.models.load_params import LoadParams
from app.engine.remote.engine import RemoteEngine
from app.services.completion_service import CompletionService, EditorSnapshot
from app.services.engine_worker import EngineController
from tests.engine.remote.conftest import codellama_llama_server, codellama_server, llama_server_bin  # noqa: F401 - fixtures
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


def test_a_remote_engine_gets_a_wide_window_and_halves_it_when_the_server_says_it_is_too_long(qtbot):
    import json

    from app.core.fim.window_policy import REMOTE_WINDOW_TOKENS
    from tests.support.scripted_http import ScriptedServer, json_reply

    models = json.dumps({"object": "list", "data": [{"id": "codellama-7b", "owned_by": "someone"}]})
    too_long = json.dumps({"error": {"message": "This model's maximum context length is 1024 tokens."}})
    with ScriptedServer() as server:
        server.routes["GET /v1/models"] = json_reply(200, models)
        server.reply = json_reply(400, too_long)
        controller = EngineController("completion", functools.partial(_remote, server.base_url))
        service = CompletionService(controller)
        service.tuning.use_cache = False
        try:
            with qtbot.waitSignal(controller.worker.loaded, timeout=30_000):
                controller.load("", LoadParams())
            qtbot.waitUntil(lambda: service.model_id != "", timeout=10_000)
            # No speed is measured for a server: the window is the remote default, not the local floor.
            assert service.window_tokens() == REMOTE_WINDOW_TOKENS
            failed = SignalLog(service.failed)
            service.request(EditorSnapshot("a.py", "x = 1\n" * 2000, "\n", "python"))
            qtbot.waitUntil(lambda: bool(failed.calls), timeout=30_000)
            assert failed.calls[0][0].startswith("the prompt is too long for the server")
            assert service.window_tokens() == REMOTE_WINDOW_TOKENS // 2
            service.pinned_window = 256  # the user's pin wins
            assert service.window_tokens() == 256
        finally:
            service.growth.stop()
            assert controller.shutdown(10_000)


def test_a_server_reporting_speed_and_context_gets_a_measured_window_within_half_of_it(qtbot, codellama_llama_server):  # noqa: F811
    controller = EngineController("completion", functools.partial(_remote, codellama_llama_server.base_url))
    service = CompletionService(controller)
    try:
        with qtbot.waitSignal(controller.worker.loaded, timeout=30_000) as loaded:
            controller.load("", LoadParams())
        qtbot.waitUntil(lambda: service.model_id != "", timeout=10_000)
        assert loaded.args[0].n_ctx == codellama_llama_server.n_ctx == 1024
        assert service.window_tokens() <= 512
        # llama-server reports its prompt timings: the load-time probe measures the server's speed,
        # and from then on the window is sized to it as for a local model, within half the context.
        qtbot.waitUntil(lambda: service.speed.samples >= 1, timeout=30_000)
        assert service.speed.tokens_per_s > 0 and service.pinned_window is None
        assert service.window_tokens() <= 512
    finally:
        service.growth.stop()
        assert controller.shutdown(10_000)
