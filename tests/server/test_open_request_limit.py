"""The limit on open requests, with real clients against the real server: a JSON 503 the ``openai``
package understands, ``/health`` still answered, and every slot given back (streams closed early,
bodies never finished, errors)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx2 as httpx
import openai
import pytest

from tests.server.conftest import TOKEN, Served, start_served, stop_served

# The tiny Code Llama at temperature 0 never stops by itself in fill-in-the-middle.
STREAM = {"prompt": "def f(", "suffix": "\n", "max_tokens": 4000, "temperature": 0, "stream": True}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def busy_server(tiny_models, tmp_path_factory):
    """Completions on the tiny Code Llama, at most two requests open at once."""
    models = {"chat": str(tiny_models["generic"]), "completion": str(tiny_models["codellama"])}
    served, engines = start_served(models, tmp_path_factory.mktemp("logs"), n_ctx=4096, max_connections=2)
    yield served
    stop_served(served, engines)


def _until(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` (the server notices a closed connection on its own loop, a moment later)."""
    for _ in range(1200):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"never came true: {what}")


def _slow_upload(served: Served, sent: threading.Event, release: threading.Event, answers: list[str]) -> None:
    """Stream a completion's body with httpx: its first chunk, then the rest once ``release`` is set.

    An unfinished body holds its slot for as long as the client likes. (A streamed answer that the
    client stops reading does not: the tiny model's whole answer fits in the sockets' buffers, so the
    server finishes it at once.)
    """

    def body() -> Iterator[bytes]:
        yield b'{"prompt": "def f(", "suffix": "\\n", '
        sent.set()
        release.wait(300)
        yield b'"max_tokens": 2, "temperature": 0}'

    with httpx.Client(base_url=served.url, headers=AUTH, timeout=300) as client:
        reply = client.post("/v1/completions", content=body(), headers={"Content-Type": "application/json"})
        answers.append(f"{reply.status_code} {reply.text}")


@contextlib.contextmanager
def _two_uploads_open(served: Served) -> Iterator[list[str]]:
    """Two requests open, each mid-body; both finish (and are answered) on leaving the block."""
    server = served.server
    _until(lambda: server.open_requests == 0, "no request open")
    answers: list[str] = []
    release = threading.Event()
    sent = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=_slow_upload, args=(served, one, release, answers)) for one in sent]
    try:
        for thread, one in zip(threads, sent, strict=True):
            thread.start()
            assert one.wait(60)
        _until(lambda: server.open_requests == 2, "both uploads hold a slot")
        yield answers
    finally:
        release.set()
        for thread in threads:
            thread.join(300)
    assert len(answers) == 2 and all(answer.startswith("200 ") for answer in answers), answers
    _until(lambda: server.open_requests == 0, "both slots given back")


def test_over_the_limit_is_a_json_503_with_retry_after(busy_server):
    client = busy_server.client
    with _two_uploads_open(busy_server):
        reply = client.get("/v1/models")
        assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
        assert reply.headers["content-type"] == "application/json"
        error = reply.json()["error"]
        assert error["type"] == "server_error" and error["code"] == "server_busy"
        assert error["message"] == "the server is busy: 2 requests are open (the limit is 2); try again shortly"
        refused = client.post("/v1/completions", json={"prompt": "a", "max_tokens": 2})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "server_busy"
        assert httpx.get(f"{busy_server.url}/health").json() == {"status": "ok"}  # a monitor still sees it up
        assert busy_server.server.open_requests == 2  # refused requests and /health hold no slot
    assert client.get("/v1/models").status_code == 200
    done = client.post("/v1/completions", json={"prompt": "a", "max_tokens": 2, "temperature": 0})
    assert done.status_code == 200 and done.json()["usage"]["completion_tokens"] == 2


def test_the_openai_client_reads_the_503(busy_server):
    with openai.OpenAI(base_url=f"{busy_server.url}/v1", api_key=TOKEN, max_retries=0) as api:
        with _two_uploads_open(busy_server):
            with pytest.raises(openai.InternalServerError) as caught:
                api.completions.create(model="any", prompt="a", max_tokens=2)
            assert caught.value.status_code == 503 and caught.value.code == "server_busy"
            assert caught.value.type == "server_error" and "the server is busy" in caught.value.message
            assert caught.value.response.headers["retry-after"] == "1"
        assert [model.id for model in api.models.list()]  # free again


def _unfinished_body(served: Served) -> socket.socket:
    """A POST whose body never finishes: it holds a slot until the socket closes."""
    sock = socket.create_connection(("127.0.0.1", served.server.port), timeout=30)
    head = (
        f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{served.server.port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"prompt": "de')
    return sock


def test_disconnects_and_errors_give_their_slots_back(busy_server):
    server, client = busy_server.server, busy_server.client
    for _ in range(5):
        _until(lambda: server.open_requests == 0, "every slot free")
        sock = _unfinished_body(busy_server)
        _until(lambda: server.open_requests == 1, "the unfinished body holds a slot")
        # errors, one at a time in the free slot: each gives it back
        assert client.post("/v1/completions", content=b"{not json").status_code == 400
        assert httpx.get(f"{busy_server.url}/v1/models").status_code == 401
        assert client.get("/v1/nowhere").status_code == 404
        assert client.post("/v1/completions", json={"prompt": "a", "max_tokens": "many"}).status_code == 400
        with client.stream("POST", "/v1/completions", json=STREAM) as reply:
            assert reply.status_code == 200 and next(reply.iter_lines()).startswith("data: {")
            sock.close()  # both go at once: the body mid-upload, the stream after its first piece
    with _two_uploads_open(busy_server):  # the whole limit is usable again
        assert client.get("/v1/models").status_code == 503
    assert client.get("/v1/models").status_code == 200
