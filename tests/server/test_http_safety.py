"""Raw HTTP against the server: the token, the Host allowlist, CORS, limits and malformed requests."""

from __future__ import annotations

import contextlib
import json
import socket

import httpx2 as httpx
import pytest

from tests.server.conftest import TOKEN, start_served, stop_served

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _error(reply) -> dict:
    body = reply.json()
    assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])
    assert "\n" not in body["error"]["message"] and "Traceback" not in reply.text
    return body["error"]


def test_no_token_is_401_and_a_wrong_one_too(codegemma_server):
    url = codegemma_server.url
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT).status_code == 401
    wrong = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and _error(wrong)["type"] == "authentication_error"
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}  # health tells nothing and needs no token


def test_a_foreign_host_header_is_403(codegemma_server):
    client = codegemma_server.client
    port = codegemma_server.server.port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1:1", "localhost"):
        reply = client.get("/v1/models", headers={"Host": host})
        assert reply.status_code == 403, host
        assert _error(reply)["code"] == "bad_host"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert client.get("/v1/models", headers={"Host": host}).status_code == 200, host


def test_no_cors_by_default(codegemma_server):
    client = codegemma_server.client
    reply = client.get("/v1/models", headers={"Origin": "https://evil.example"})
    assert reply.status_code == 200 and "access-control-allow-origin" not in reply.headers
    preflight = client.options(
        "/v1/chat/completions",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code >= 400
    assert not any(name.startswith("access-control-") for name in preflight.headers)


def test_cors_allows_exactly_the_configured_origins(tiny_models, tmp_path):
    model = str(tiny_models["codegemma"])
    served, engines = start_served(
        {"chat": model, "completion": model}, tmp_path, cors_origins=("vscode-webview://*",), max_connections=4
    )
    try:
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
        allowed = served.client.options("/v1/chat/completions", headers={"Origin": "vscode-webview://abc123", **ask})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "vscode-webview://abc123"
        refused = served.client.options("/v1/chat/completions", headers={"Origin": "https://evil.example", **ask})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        plain = served.client.get("/v1/models", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in plain.headers
    finally:
        stop_served(served, engines)


def test_a_body_over_the_limit_is_413(codegemma_server):
    big = {"messages": [{"role": "user", "content": "x" * (8 * 2**20 + 10)}]}
    reply = codegemma_server.client.post("/v1/chat/completions", json=big)
    assert reply.status_code == 413 and _error(reply)["code"] == "request_too_large"

    def chunks():  # no Content-Length: the limit applies as the body arrives
        for _ in range(9):
            yield b"x" * 2**20

    streamed = codegemma_server.client.post("/v1/chat/completions", content=chunks())
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/chat/completions", b"{not json", "JSON"),
        ("/v1/chat/completions", b"[1, 2]", "JSON object"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": NaN}', "JSON"),
        ("/v1/chat/completions", json.dumps({**CHAT, "max_tokens": 10**30}).encode(), "max_tokens"),
        ("/v1/chat/completions", json.dumps({**CHAT, "max_tokens": "12"}).encode(), "max_tokens"),
        ("/v1/chat/completions", json.dumps({**CHAT, "temperature": 1e308 * 10}).encode(), "JSON"),
        ("/v1/chat/completions", json.dumps({**CHAT, "temperature": 99}).encode(), "temperature"),
        ("/v1/chat/completions", json.dumps({**CHAT, "n": 2}).encode(), "'n'"),
        ("/v1/chat/completions", json.dumps({**CHAT, "tools": [{"type": "function"}]}).encode(), "'tools'"),
        ("/v1/chat/completions", json.dumps({**CHAT, "logprobs": True}).encode(), "'logprobs'"),
        ("/v1/chat/completions", json.dumps({"messages": "hi"}).encode(), "messages"),
        ("/v1/chat/completions", json.dumps({"messages": [{"role": "tool", "content": "x"}]}).encode(), "role"),
        ("/v1/completions", json.dumps({"prompt": ["a", "b"]}).encode(), "prompt"),
        ("/v1/completions", json.dumps({"prompt": "a", "stop": 5}).encode(), "stop"),
        ("/infill", json.dumps({"input_prefix": 3}).encode(), "input_prefix"),
        ("/infill", json.dumps({"input_extra": [1]}).encode(), "input_extra"),
    ],
)
def test_malformed_requests_are_one_line_400s(codegemma_server, path, body, field):
    reply = codegemma_server.client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    assert field in _error(reply)["message"]


def test_unknown_paths_and_methods_answer_in_the_error_shape(codegemma_server):
    assert _error(codegemma_server.client.get("/v1/nothing"))["type"] == "not_found_error"
    assert codegemma_server.client.get("/v1/chat/completions").status_code == 405


def test_max_tokens_is_capped_at_the_context(codellama_server):
    body = {"prompt": "def f(", "suffix": "\n", "max_tokens": 10**6, "temperature": 0}
    reply = codellama_server.client.post("/v1/completions", json=body)
    assert reply.status_code == 200, reply.text
    finished = codellama_server.lanes["completion"].finished[-1]
    assert finished.request.sampling.max_tokens == codellama_server.lanes["completion"].n_ctx
    assert reply.json()["usage"]["completion_tokens"] == finished.stats.generated_tokens


def test_a_disconnect_mid_stream_cancels_the_generation(codellama_server):
    # The tiny Code Llama at temperature 0 never stops by itself: only a cancel ends it early.
    lane = codellama_server.lanes["completion"]
    before = len(lane.finished)
    body = {"prompt": "def f(", "suffix": "\n", "max_tokens": 4000, "temperature": 0, "stream": True}
    with codellama_server.client.stream("POST", "/v1/completions", json=body) as reply:
        assert reply.status_code == 200
        first = next(reply.iter_lines())
        assert first.startswith("data: ")
    # the next request waits its turn behind the cancelled one on the lane's thread
    after = codellama_server.client.post("/v1/completions", json={"prompt": "x", "suffix": "y", "max_tokens": 2})
    assert after.status_code == 200
    cancelled = lane.finished[before]
    assert cancelled.request.sampling.max_tokens == 4000
    assert cancelled.stats is not None and cancelled.stats.finish_reason == "cancelled"
    assert cancelled.stats.generated_tokens < 4000


def test_stop_strings_cut_the_answer_and_the_generation(codellama_server):
    plain = codellama_server.client.post(
        "/v1/completions", json={"prompt": "a", "suffix": "b", "max_tokens": 40, "temperature": 0}
    ).json()["choices"][0]["text"]
    assert len(plain) > 4
    stop = plain[2:4]
    cut = codellama_server.client.post(
        "/v1/completions", json={"prompt": "a", "suffix": "b", "max_tokens": 40, "temperature": 0, "stop": [stop]}
    ).json()
    assert cut["choices"][0]["text"] == plain[: plain.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"


def test_concurrent_streams_all_complete_in_turn(codegemma_server):
    import concurrent.futures

    def stream(i: int) -> str:
        body = {**CHAT, "max_tokens": 8, "stream": True, "seed": i}
        with codegemma_server.client.stream("POST", "/v1/chat/completions", json=body) as reply:
            lines = [line for line in reply.iter_lines() if line]
        return lines[-1]

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        ends = list(pool.map(stream, range(20)))
    assert ends == ["data: [DONE]"] * 20


def test_stop_leaves_no_socket_behind(tiny_models, tmp_path):
    model = str(tiny_models["codegemma"])
    served, engines = start_served({"chat": model, "completion": model}, tmp_path)
    port = served.server.port
    assert served.client.get("/health").status_code == 200
    stop_served(served, engines)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    again = socket.socket()
    again.bind(("127.0.0.1", port))  # the port is free again
    again.close()


def test_the_token_file_is_private_and_regenerable(fimble_home):
    from app.server.guard import server_token, token_path

    first = server_token()
    assert server_token() == first and len(first) >= 32
    assert token_path().stat().st_mode & 0o777 == 0o600
    assert server_token(regenerate=True) != first
    assert TOKEN not in token_path().read_text()


def test_a_model_in_the_wrong_role_is_a_400_not_a_500(tiny_models, tmp_path):
    models = {"chat": str(tiny_models["codellama"]), "completion": str(tiny_models["generic"])}
    served, engines = start_served(models, tmp_path)
    try:
        chat = served.client.post("/v1/chat/completions", json=CHAT)
        assert chat.status_code == 400 and "not a chat model" in _error(chat)["message"]
        fim = served.client.post("/v1/completions", json={"prompt": "a", "suffix": "b", "max_tokens": 4})
        assert fim.status_code == 400 and "fill-in-the-middle" in _error(fim)["message"]
        streamed = served.client.post("/infill", json={"input_prefix": "a", "input_suffix": "b", "stream": True})
        assert streamed.status_code == 400 and "fill-in-the-middle" in _error(streamed)["message"]
        plain = served.client.post("/v1/completions", json={"prompt": "def f():", "max_tokens": 4})
        assert plain.status_code == 200  # no suffix: the prompt is continued
        assert plain.json()["usage"]["prompt_tokens"] == served.lanes["completion"].finished[-1].stats.prompt_tokens
    finally:
        stop_served(served, engines)


def test_idle_keep_alive_connections_hold_no_slot(tiny_models, tmp_path):
    # The limit counts open requests, not connections (tests/server/test_open_request_limit.py has the 503).
    model = str(tiny_models["codegemma"])
    served, engines = start_served({"chat": model, "completion": model}, tmp_path, max_connections=2)
    port = served.server.port
    try:
        with contextlib.ExitStack() as stack:
            for _ in range(3):  # more idle connections than the limit, each answered and kept open
                idle = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
                head = f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                idle.sendall(head.encode())
                assert idle.recv(1024).startswith(b"HTTP/1.1 200")
            for _ in range(2):
                fresh = httpx.get(f"{served.url}/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
                assert fresh.status_code == 200
            assert served.client.get("/v1/models").status_code == 200
    finally:
        stop_served(served, engines)
