"""RemoteClient's one-line errors, from a real llama_cpp.server and a scripted loopback server."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from app.core.errors import ErrorKind
from app.engine.remote.client import RemoteClient, RemoteError
from app.engine.remote.errors import error_detail, retry_after_s
from tests.engine.remote.conftest import API_KEY
from tests.support.llama_server import LlamaServer, free_port
from tests.support.scripted_http import json_reply, sse_reply

BODY = {"prompt": "def f():", "max_tokens": 8, "temperature": 0.0}


def stream_all(client: RemoteClient, body=None, cancel=None, time_limit_s=None) -> list[str]:
    return list(client.stream_completion(body or BODY, cancel or threading.Event(), time_limit_s))


def test_a_wrong_key_gets_the_api_key_message(keyed_server):
    with RemoteClient(keyed_server.base_url, api_key="not-the-key") as client:
        with pytest.raises(RemoteError) as caught:
            stream_all(client)
        with pytest.raises(RemoteError) as caught_get:
            client.get_json("/v1/models")
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.message == "the server refused the API key; check it"
    assert caught_get.value.message == "the server refused the API key; check it"


def test_no_key_gets_the_needs_a_key_message_and_the_right_key_works(keyed_server):
    with RemoteClient(keyed_server.base_url) as client:
        with pytest.raises(RemoteError) as caught:
            stream_all(client)
    assert caught.value.kind is ErrorKind.AUTH
    assert "needs an API key" in caught.value.message
    with RemoteClient(keyed_server.base_url, api_key=API_KEY) as client:
        assert client.get_json("/v1/models") is not None
        stream_all(client)
        assert client.last_finish in ("stop", "length")


def test_a_rejected_body_gets_one_line_with_the_servers_words(keyed_server):
    # this server wraps FastAPI's validation error in its own 500 {"error": {...}} answer
    with RemoteClient(keyed_server.base_url, api_key=API_KEY) as client:
        with pytest.raises(RemoteError) as caught:
            stream_all(client, dict(BODY, max_tokens="many"))
    assert caught.value.kind is ErrorKind.HTTP
    assert caught.value.message.startswith("the server failed (500): ")
    assert "max_tokens" in caught.value.message
    assert "\n" not in caught.value.message


def test_a_fastapi_validation_answer_gets_the_field_and_reason(scripted):
    scripted.reply = json_reply(422, '{"detail":[{"loc":["body","max_tokens"],"msg":"not an integer"}]}')
    with RemoteClient(scripted.base_url) as client, pytest.raises(RemoteError) as caught:
        stream_all(client)
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert caught.value.message == "the server rejected the request (422): max_tokens: not an integer"


def test_a_refused_port_gets_the_refused_message():
    port = free_port()
    with RemoteClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(RemoteError) as caught:
            stream_all(client)
        with pytest.raises(RemoteError) as caught_get:
            client.get_json("/v1/models")
    assert caught.value.kind is ErrorKind.OFFLINE
    assert caught.value.message == f"cannot reach http://127.0.0.1:{port}: connection refused"
    assert caught_get.value.message == caught.value.message


def test_tls_to_a_plain_http_server_gets_the_tls_message(keyed_server):
    url = keyed_server.base_url.replace("http://", "https://")
    with RemoteClient(url, api_key=API_KEY) as client:
        with pytest.raises(RemoteError) as caught:
            client.get_json("/v1/models")
    assert caught.value.kind is ErrorKind.TLS
    assert caught.value.message.startswith(f"TLS error talking to {url}")
    assert "\n" not in caught.value.message


def test_a_server_killed_mid_stream_raises_after_the_partial_text(tiny_models):
    pieces: list[str] = []
    with LlamaServer(tiny_models["codellama"], alias="doomed") as server:
        with RemoteClient(server.base_url) as client:
            body = {"prompt": "<PRE> x = <SUF>\n<MID>", "max_tokens": 900, "min_tokens": 900, "temperature": 0.0}
            with pytest.raises(RemoteError) as caught:
                for piece in client.stream_completion(body, threading.Event(), 120):
                    pieces.append(piece)
                    if len(pieces) == 1:
                        server.kill()
    assert pieces
    assert caught.value.kind is ErrorKind.HTTP
    assert caught.value.message == f"{server.base_url} closed the connection mid-answer (partial answer)"


def test_a_garbage_stream_gets_the_garbled_message(scripted):
    scripted.reply = sse_reply('{"choices":[{"text":"ok"}]}', "<html>oops</html>")
    pieces: list[str] = []
    with RemoteClient(scripted.base_url) as client:
        with pytest.raises(RemoteError) as caught:
            for piece in client.stream_completion(BODY, threading.Event()):
                pieces.append(piece)
    assert pieces == ["ok"]
    assert caught.value.kind is ErrorKind.BAD_REPLY
    assert caught.value.message == f"{scripted.base_url} sent a garbled stream (not JSON): '<html>oops</html>'"


def test_a_json_answer_to_a_stream_request_is_a_bad_reply(scripted):
    scripted.reply = json_reply(200, '{"choices":[{"text":"whole"}]}')
    with RemoteClient(scripted.base_url) as client, pytest.raises(RemoteError) as caught:
        stream_all(client)
    assert caught.value.kind is ErrorKind.BAD_REPLY


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (503, {"Retry_After": "7"}, "the server is busy; retry in 7 s"),
        (429, {"Retry_After": "2"}, "the server is busy; retry in 2 s"),
        (429, {}, "the server is busy; retry later"),
    ],
)
def test_busy_answers_say_when_to_retry(scripted, status, headers, message):
    scripted.reply = json_reply(status, '{"error":{"message":"overloaded"}}', **headers)
    with RemoteClient(scripted.base_url) as client, pytest.raises(RemoteError) as caught:
        stream_all(client)
    assert caught.value.kind is ErrorKind.BUSY
    assert caught.value.message == message


def test_an_unknown_model_gets_the_not_found_message(scripted):
    scripted.reply = json_reply(404, '{"error":{"message":"The model `big` does not exist.","code":404}}')
    with RemoteClient(scripted.base_url) as client, pytest.raises(RemoteError) as caught:
        stream_all(client, dict(BODY, model="big"))
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert caught.value.message == "the server has no model 'big': The model `big` does not exist."


def test_a_silent_server_times_out(scripted):
    scripted.reply = sse_reply('{"choices":[{"text":"a"}]}', hold=True)
    with RemoteClient(scripted.base_url, read_timeout_s=0.5) as client, pytest.raises(RemoteError) as caught:
        stream_all(client)
    assert caught.value.kind is ErrorKind.TIMEOUT
    assert caught.value.message == f"{scripted.base_url} sent nothing for 0.5 s (timeout)"


def test_cancel_wakes_a_read_blocked_on_a_silent_server(scripted):
    """The reader is blocked in recv when another thread cancels; the stream ends as cancelled, not timed out."""
    scripted.reply = sse_reply('{"choices":[{"text":"a"}]}', hold=True)
    cancel = threading.Event()
    pieces: list[str] = []
    with RemoteClient(scripted.base_url, read_timeout_s=90) as client:
        for piece in client.stream_completion(BODY, cancel):
            pieces.append(piece)
            threading.Timer(0.2, cancel.set).start()
        assert client.last_finish == "cancelled"
    assert pieces == ["a"]


def test_the_time_limit_ends_a_stream_on_a_silent_server(scripted):
    scripted.reply = sse_reply('{"choices":[{"text":"a"}]}', hold=True)
    with RemoteClient(scripted.base_url, read_timeout_s=90) as client:
        assert stream_all(client, time_limit_s=0.5) == ["a"]
        assert client.last_finish == "time_limit"


def test_usage_and_finish_are_read_from_the_last_chunk(scripted):
    scripted.reply = sse_reply(
        '{"choices":[{"text":"x","finish_reason":null}]}',
        '{"choices":[{"text":"","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}',
        "[DONE]",
    )
    with RemoteClient(scripted.base_url) as client:
        assert stream_all(client) == ["x"]
        assert client.last_finish == "length"
        assert client.last_usage == {"prompt_tokens": 3, "completion_tokens": 1}


def test_the_api_key_is_sent_as_a_bearer_token_and_never_logged(scripted, caplog):
    caplog.set_level(logging.DEBUG)
    scripted.reply = sse_reply("[DONE]")
    with RemoteClient(scripted.base_url, api_key="sekrit") as client:
        stream_all(client)
    assert scripted.requests[-1][:2] == ("POST", "/v1/completions")
    assert scripted.seen_headers[-1].get("Authorization") == "Bearer sekrit"
    scripted.reply = json_reply(401, '{"detail":"Invalid API key"}')
    with RemoteClient(scripted.base_url, api_key="sekrit") as client, pytest.raises(RemoteError):
        client.get_json("/v1/models")
    assert caplog.records
    assert "sekrit" not in caplog.text


def test_error_bodies_of_both_shapes_are_read():
    assert error_detail({"error": {"message": "too long", "type": "invalid_request_error"}}) == "too long"
    assert error_detail({"detail": "Invalid API key"}) == "Invalid API key"
    assert error_detail({"detail": [{"loc": ["body", "max_tokens"], "msg": "not an int"}]}) == "max_tokens: not an int"
    assert error_detail({"error": "plain words"}) == "plain words"
    assert error_detail(["no"]) == ""
    assert retry_after_s("3") == 3
    assert retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (400, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."),
        (400, "the request exceeds the available context size, try increasing it"),
        (422, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000"),
    ],
)
def test_a_prompt_too_long_for_the_server_is_a_context_overflow(scripted, status, detail):
    scripted.reply = json_reply(status, json.dumps({"error": {"message": detail}}))
    with RemoteClient(scripted.base_url) as client, pytest.raises(RemoteError) as caught:
        stream_all(client)
    assert caught.value.kind is ErrorKind.CONTEXT_OVERFLOW
    assert caught.value.message.startswith("the prompt is too long for the server")
