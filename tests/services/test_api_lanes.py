"""The window's local server: API requests on the window's own engine hosts, behind the editor's completions.

Real engine hosts with the tiny models, the real server on 127.0.0.1, real
clients (httpx, openai) on their own threads: the GUI thread must stay free,
since the scheduler that feeds the engines lives there.
"""

from __future__ import annotations

import threading

import httpx2 as httpx
import pytest

from app.core.generation.contracts import FimRequest, Sampling
from app.core.models.load_params import LoadParams
from app.server.runner import LocalServer
from app.services.api_lanes import ApiScheduler
from app.services.completion_service import CompletionService, EditorSnapshot
from app.services.engine_worker import EngineController
from tests.support.gui_thread_waits import SignalLog

TOKEN = "window-token-0123456789abcdef"
LONG = Sampling(max_tokens=100_000, temperature=0.8, ignore_eos=True)


class Window:
    """The parts of a window the server uses: two engines, the completion service, the scheduler."""

    def __init__(self, qtbot, models: dict) -> None:
        self.chat = EngineController("chat")
        self.completion = EngineController("completion")
        self.service = CompletionService(self.completion)
        self.scheduler = ApiScheduler({"chat": self.chat, "completion": self.completion})
        for controller, role in ((self.chat, "chat"), (self.completion, "completion")):
            with qtbot.waitSignal(controller.worker.loaded, timeout=30_000):
                controller.load(str(models[role]), LoadParams(n_ctx=2048))
        qtbot.waitUntil(lambda: all(self.scheduler.models.values()), timeout=10_000)
        self.server = LocalServer(self.scheduler.lanes(), token=TOKEN)
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.scheduler.stop()
        self.server.stop()
        assert self.chat.shutdown(10_000)
        assert self.completion.shutdown(10_000)


@pytest.fixture
def window(qtbot, tiny_models):
    made = Window(qtbot, {"chat": tiny_models["generic"], "completion": tiny_models["codellama"]})
    yield made
    made.close()


class Clients:
    """HTTP calls on threads of their own; the test waits for them with qtbot."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.results: list[object] = []
        self.errors: list[BaseException] = []

    def run(self, fn, *args, **kwargs) -> None:
        def call() -> None:
            try:
                self.results.append(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                self.errors.append(exc)

        thread = threading.Thread(target=call, daemon=True)
        self.threads.append(thread)
        thread.start()

    def done(self) -> bool:
        return all(not thread.is_alive() for thread in self.threads)


def _post(url: str, path: str, body: dict) -> dict:
    answer = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    answer.raise_for_status()
    return answer.json()


def _stream_chat_until(url: str, stop: threading.Event) -> int:
    """Stream a long chat answer until ``stop`` is set, then close the stream; return the pieces read."""
    body = {"messages": [{"role": "user", "content": "Tell a long story."}], "max_tokens": 1500}
    body.update(stream=True, ignore_eos=True)
    read = 0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120) as answer:
        for line in answer.iter_lines():
            read += line.startswith("data: ")
            if stop.is_set():
                break
    return read


def test_the_window_server_lists_and_serves_the_window_models(qtbot, window):
    clients = Clients()
    clients.run(_post, window.url, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    clients.run(_post, window.url, "/v1/completions", {"prompt": "def add(a, b):\n", "suffix": "\n", "max_tokens": 8})
    clients.run(httpx.get, f"{window.url}/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
    qtbot.waitUntil(clients.done, timeout=60_000)
    assert not clients.errors
    answers = [r for r in clients.results if isinstance(r, dict)]
    listing = next(r for r in clients.results if isinstance(r, httpx.Response)).json()
    assert {m["id"] for m in listing["data"]} == {"generic", "codellama"}
    chat = next(a for a in answers if a["object"] == "chat.completion")
    fim = next(a for a in answers if a["object"] == "text_completion")
    chat_stats = window.server.lanes["chat"].finished[-1].stats
    fim_stats = window.server.lanes["completion"].finished[-1].stats
    assert chat["usage"]["completion_tokens"] == chat_stats.generated_tokens
    assert fim["usage"]["prompt_tokens"] == fim_stats.prompt_tokens > 0
    assert window.server.api.stats.requests == 2


def test_api_requests_wait_while_the_window_has_its_own_job(qtbot, window):
    own = window.completion.generate(FimRequest("def f(x):\n    ", "\n", sampling=LONG))
    qtbot.waitUntil(lambda: window.completion.busy, timeout=5_000)
    clients = Clients()
    for n in range(3):
        clients.run(_post, window.url, "/v1/completions", {"prompt": f"x{n} = ", "suffix": "\n", "max_tokens": 4})
    qtbot.waitUntil(lambda: window.scheduler.waiting("completion") == 3, timeout=30_000)
    qtbot.wait(300)
    assert window.scheduler.waiting("completion") == 3  # nothing was sent to the engine meanwhile
    window.completion.cancel(own)
    qtbot.waitUntil(clients.done, timeout=60_000)
    assert not clients.errors and len(clients.results) == 3
    assert not window.completion.busy


@pytest.mark.starter
def test_a_chat_answer_is_held_while_the_editor_waits_goes_on_after_and_stops_with_its_client(
    qtbot, tiny_models, starter_model
):
    window = Window(qtbot, {"chat": starter_model, "completion": tiny_models["codellama"]})
    try:
        pieces = SignalLog(window.chat.worker.piece)
        stop = threading.Event()
        clients = Clients()
        clients.run(_stream_chat_until, window.url, stop)
        qtbot.waitUntil(lambda: len(pieces.calls) >= 3, timeout=60_000)
        own = window.completion.generate(FimRequest("def f(x):\n    ", "\n", sampling=LONG))
        window.completion.hold(own, True)  # the editor's job stays in flight until the test cancels it
        qtbot.wait(500)  # the chat's hold reaches its host within a token
        held_at = len(pieces.calls)
        qtbot.wait(1000)
        assert len(pieces.calls) == held_at  # no chat token while the editor waits
        assert not clients.done()
        window.completion.cancel(own)
        qtbot.waitUntil(lambda: not window.completion.busy, timeout=30_000)
        qtbot.waitUntil(lambda: len(pieces.calls) > held_at + 2, timeout=60_000)  # released
        stop.set()  # the client goes away mid-answer
        qtbot.waitUntil(clients.done, timeout=60_000)
        assert not clients.errors and clients.results[0] > held_at
        lane = window.server.lanes["chat"]
        qtbot.waitUntil(lambda: bool(lane.finished), timeout=30_000)
        stats = lane.finished[-1].stats
        assert stats is not None and stats.finish_reason == "cancelled" and stats.generated_tokens < 1500
    finally:
        window.close()


def test_twenty_streams_complete_and_editor_completions_wait_for_one_api_job_at_most(qtbot, window):
    ends = SignalLog(window.completion.worker.finished)
    clients = Clients()
    for n in range(20):
        body = {"prompt": f"def f{n}(a):\n    ", "suffix": "\n", "max_tokens": 12, "stream": True}
        clients.run(_stream_completion, window.url, body)
    editor_jobs: list[tuple[int, int]] = []  # (job id, ends seen when it was asked)
    suggestions = SignalLog(window.service.suggestion)
    for n in range(6):
        qtbot.waitUntil(lambda n=n: len(ends.calls) >= 2 * n, timeout=60_000)  # spread over the API load
        asked = len(ends.calls)
        job = window.service.request(EditorSnapshot("main.py", f"import os\n\n\ndef g{n}(path):\n    ", "\n", "python"))
        editor_jobs.append((job, asked))
        qtbot.waitUntil(lambda job=job: any(call[0] == job for call in suggestions.calls), timeout=60_000)
    qtbot.waitUntil(clients.done, timeout=180_000)
    assert not clients.errors
    assert len(clients.results) == 20 and all(result[-1] == "[DONE]" for result in clients.results)
    order = [call[0] for call in ends.calls]
    api_jobs = {job for role, job in window.scheduler.sent if role == "completion"}
    assert len(api_jobs) == 20
    assert any(job in order for job, _ in editor_jobs)  # the editor's requests reached the engine
    for job, asked in editor_jobs:
        if job not in order:
            continue  # answered from the cache: no engine job
        api_before = [ended for ended in order[asked : order.index(job)] if ended in api_jobs]
        assert len(api_before) <= 1, (job, api_before)


def _stream_completion(url: str, body: dict) -> list[str]:
    """A streamed /v1/completions over raw HTTP: the data lines, ``[DONE]`` last."""
    lines = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.stream("POST", f"{url}/v1/completions", json=body, headers=headers, timeout=120) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if line.startswith("data: "):
                lines.append(line[len("data: ") :])
    return lines
