"""A role's engine chosen as a remote server: keys stored off the settings, switching, and cut-off answers.

Every server here is llama-cpp-python's own OpenAI-compatible server, a real
process on 127.0.0.1; the local side is a real engine host.
"""

from __future__ import annotations

import pytest

from app.core.chat.store import ChatStore
from app.core.models.load_params import LoadParams
from app.core.paths import app_dirs
from app.core.remote.choice import RemoteChoice, RemoteTarget
from app.core.remote.secrets import KeyStore
from app.services.chat_service import ChatService
from app.services.engine_worker import EngineController
from tests.engine.remote.conftest import API_KEY, keyed_server  # noqa: F401 - the fixture
from tests.support.gui_thread_waits import SignalLog
from tests.support.llama_server import LlamaServer


@pytest.fixture
def controllers():
    made: list[EngineController] = []
    yield made
    for controller in made:
        assert controller.shutdown(10_000)


def _controller(made: list[EngineController], role: str = "chat") -> EngineController:
    controller = EngineController(role)
    made.append(controller)
    return controller


def test_a_typed_key_is_stored_off_the_settings_and_used_next_time(qtbot, controllers, keyed_server):  # noqa: F811
    choice = RemoteChoice(keyed_server.base_url, "tiny-generic", "generic")
    first = _controller(controllers)
    with qtbot.waitSignal(first.worker.loaded, timeout=30_000) as loaded:
        first.load(RemoteTarget(choice, new_key=API_KEY), LoadParams())
    info = loaded.args[0].info
    assert info.architecture == "remote" and info.name == "tiny-generic"
    assert info.path.startswith(keyed_server.base_url)
    assert KeyStore(app_dirs().config, backend="file").get(keyed_server.base_url) == API_KEY

    again = _controller(controllers)  # a later window: the key comes from the store
    with qtbot.waitSignal(again.worker.loaded, timeout=30_000):
        again.load(RemoteTarget(choice), LoadParams())


def test_a_wrong_key_says_to_check_it_and_forgetting_the_key_says_one_is_needed(qtbot, controllers, keyed_server):  # noqa: F811
    choice = RemoteChoice(keyed_server.base_url, "tiny-generic")
    controller = _controller(controllers)
    with qtbot.waitSignal(controller.worker.load_failed, timeout=30_000) as failed:
        controller.load(RemoteTarget(choice, new_key="wrong"), LoadParams())
    assert failed.args[0] == "the server refused the API key; check it"
    with qtbot.waitSignal(controller.worker.load_failed, timeout=30_000) as failed:
        controller.load(RemoteTarget(choice, forget_key=True), LoadParams())
    assert failed.args[0] == "the server needs an API key; set one"
    assert KeyStore(app_dirs().config, backend="file").get(keyed_server.base_url) is None


def test_a_role_moves_from_a_local_model_to_a_server_and_back(qtbot, controllers, tiny_models, keyed_server):  # noqa: F811
    controller = _controller(controllers, "completion")
    local = str(tiny_models["codellama"])
    with qtbot.waitSignal(controller.worker.loaded, timeout=30_000) as loaded:
        controller.load(local, LoadParams(n_ctx=512))
    assert loaded.args[0].info.architecture != "remote"
    remote = RemoteTarget(RemoteChoice(keyed_server.base_url, "tiny-generic"), new_key=API_KEY)
    with qtbot.waitSignal(controller.worker.loaded, timeout=30_000) as loaded:
        controller.load(remote, LoadParams(n_ctx=512))
    assert loaded.args[0].info.architecture == "remote"
    done = SignalLog(controller.worker.finished)
    job = controller.generate(_short_chat())
    qtbot.waitUntil(lambda: bool(done.calls), timeout=30_000)
    assert done.calls[0][0] == job
    with qtbot.waitSignal(controller.worker.loaded, timeout=30_000) as loaded:
        controller.load(local, LoadParams(n_ctx=512))
    assert loaded.args[0].info.path == local


def _short_chat():
    from app.core.generation.contracts import ChatMessage, ChatRequest, Sampling

    return ChatRequest((ChatMessage("user", "hi"),), Sampling(max_tokens=3, temperature=0.0))


def test_a_server_killed_mid_answer_leaves_the_text_so_far_marked_partial(qtbot, controllers, tiny_models, tmp_path):
    with LlamaServer(tiny_models["generic"], alias="doomed", n_ctx=4096) as server:
        controller = _controller(controllers)
        store = ChatStore(tmp_path / "chats.sqlite3")
        chat = ChatService(controller, store)
        try:
            with qtbot.waitSignal(controller.worker.loaded, timeout=30_000):
                controller.load(RemoteTarget(RemoteChoice(server.base_url, "doomed")), LoadParams())
            qtbot.waitUntil(lambda: chat.model_name != "", timeout=10_000)
            conversation = chat.new_conversation()
            store.set_sampling(conversation.id, {"max_tokens": 3500, "temperature": 0.8})
            failed = SignalLog(chat.answer_failed)
            pieces = SignalLog(chat.answer_piece)
            chat.send("tell me everything")
            qtbot.waitUntil(lambda: len(pieces.calls) >= 3, timeout=30_000)
            assert server.process is not None
            server.process.kill()
            qtbot.waitUntil(lambda: bool(failed.calls), timeout=30_000)
            assert "\n" not in failed.calls[0][1] and server.base_url in failed.calls[0][1]
            answer = chat.messages()[-1]
            assert answer.role == "assistant" and answer.partial
            assert answer.content and answer.content.startswith("".join(call[1] for call in pieces.calls[:3]))
            assert answer.stop_reason in ("http", "offline")
        finally:
            chat.shutdown()
            store.close()


def test_requests_to_a_server_that_is_down_fail_at_once_with_its_reason(qtbot, controllers):
    from tests.support.llama_server import free_port

    controller = _controller(controllers, "completion")
    url = f"http://127.0.0.1:{free_port()}"
    load_failures = SignalLog(controller.worker.load_failed)
    with qtbot.waitSignal(controller.worker.load_failed, timeout=30_000):
        controller.load(RemoteTarget(RemoteChoice(url)), LoadParams())
    failed = SignalLog(controller.worker.failed)
    jobs = [controller.generate(_short_chat()) for _ in range(3)]
    qtbot.waitUntil(lambda: len(failed.calls) == 3, timeout=30_000)
    assert [call[0] for call in failed.calls] == jobs
    assert {call[1:] for call in failed.calls} == {("offline", f"cannot reach {url}: connection refused")}
    assert len(load_failures.calls) == 1  # no new connection attempt per request
