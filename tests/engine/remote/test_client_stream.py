"""RemoteClient against llama-cpp-python's server: listing, streamed FIM text, stops, cancel, chat."""

from __future__ import annotations

import threading

import httpx2
import pytest

from app.engine.remote.client import RemoteClient
from app.selftest.tiny_gguf import byte_token_ids, special_token_ids

FIM_PROMPT = "<PRE> def add(a, b):\n    <SUF>\n\nprint(add(1, 2))\n<MID>"


def fim_body(**extra):
    body = {"model": "tiny-codellama", "prompt": FIM_PROMPT, "max_tokens": 24, "temperature": 0.0, "seed": 7}
    body.update(extra)
    return body


def never_ending_body(max_tokens: int) -> dict:
    """A FIM request whose answer runs to ``max_tokens`` and streams as it goes.

    The end tokens are banned, and so are the lone bytes from 0x80 up: the
    random model picks them, they never decode, and llama-cpp-python's server
    then holds every later piece back (re-decoding all of them each token)
    until the answer ends, so a cancel would wait minutes. (``min_tokens``
    cannot be sent with ``logit_bias``: that server keeps neither then.)
    """
    ends = special_token_ids("codellama")
    banned = [ends["</s>"], ends["\u2581<EOT>"]]
    banned += [token for value, token in byte_token_ids("codellama").items() if value >= 0x80]
    return fim_body(max_tokens=max_tokens, logit_bias={str(token): -1000.0 for token in banned})


def plain_completion(server, body) -> dict:
    """The same request without streaming, through a bare HTTP post."""
    answer = httpx2.post(f"{server.base_url}/v1/completions", json=dict(body, stream=False), timeout=60)
    answer.raise_for_status()
    return answer.json()


def test_get_json_lists_models_and_returns_none_for_a_missing_path(codellama_server):
    with RemoteClient(codellama_server.base_url) as client:
        listing = client.get_json("/v1/models")
        assert isinstance(listing, dict)
        assert listing["data"][0]["id"] == "tiny-codellama"
        assert client.get_json("/props") is None  # llama-cpp-python has no /props


def test_streamed_fim_text_equals_the_unstreamed_answer(codellama_server):
    expected = plain_completion(codellama_server, fim_body())["choices"][0]["text"]
    with RemoteClient(codellama_server.base_url) as client:
        pieces = list(client.stream_completion(fim_body(), threading.Event(), time_limit_s=120))
        assert client.last_finish in ("stop", "length")
    assert len(pieces) >= 1
    assert "".join(pieces) == expected


def test_echo_shows_the_prompt_the_server_received(codellama_server):
    answer = plain_completion(codellama_server, fim_body(echo=True, max_tokens=1))
    assert answer["choices"][0]["text"].startswith(FIM_PROMPT)


def test_a_stop_string_cuts_the_answer(codellama_server):
    with RemoteClient(codellama_server.base_url) as client:
        pieces = list(client.stream_completion(fim_body(max_tokens=40), threading.Event()))
        full = "".join(pieces)
        words = [piece.strip() for piece in pieces[len(pieces) // 2 :] if len(piece.strip()) >= 3]
        assert words, pieces
        stop = words[0]  # a word the model says halfway through
        cut = "".join(client.stream_completion(fim_body(max_tokens=40, stop=[stop]), threading.Event()))
        assert client.last_finish == "stop"
    assert cut == full[: full.index(stop)]


def test_cancel_mid_stream_ends_the_stream_and_the_server_serves_the_next_request(codellama_server):
    cancel = threading.Event()
    first_piece = threading.Event()

    def canceller():
        first_piece.wait(60)
        cancel.set()

    thread = threading.Thread(target=canceller)
    thread.start()
    pieces = []
    with RemoteClient(codellama_server.base_url) as client:
        for piece in client.stream_completion(never_ending_body(900), cancel, time_limit_s=120):
            pieces.append(piece)
            first_piece.set()
            cancel.wait(30)  # the next piece is read only after the cancel
        thread.join()
        assert client.last_finish == "cancelled"
        assert 1 <= len(pieces) < 900
        # the server stopped that answer and answers the next one
        after = "".join(client.stream_completion(fim_body(max_tokens=4), threading.Event(), time_limit_s=120))
        assert after
        assert client.last_finish in ("stop", "length")


def test_a_cancel_set_before_the_request_sends_nothing(codellama_server):
    cancel = threading.Event()
    cancel.set()
    with RemoteClient(codellama_server.base_url) as client:
        assert list(client.stream_completion(fim_body(), cancel)) == []
        assert client.last_finish == "cancelled"


def test_chat_streams_the_same_answer_as_an_unstreamed_request(codellama_server):
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 16, "temperature": 0.0, "seed": 1}
    expected = httpx2.post(f"{codellama_server.base_url}/v1/chat/completions", json=body, timeout=120).json()
    with RemoteClient(codellama_server.base_url) as client:
        text = "".join(client.stream_chat(body, threading.Event(), time_limit_s=120))
        assert client.last_finish in ("stop", "length")
    assert text
    assert text == expected["choices"][0]["message"]["content"]


@pytest.mark.starter
def test_the_real_model_streams_a_completion_equal_to_the_unstreamed_one(starter_server):
    body = {"prompt": "def add(a, b):", "max_tokens": 12, "temperature": 0.0, "seed": 1}
    expected = plain_completion(starter_server, body)["choices"][0]["text"]
    with RemoteClient(starter_server.base_url) as client:
        text = "".join(client.stream_completion(body, threading.Event(), time_limit_s=120))
        assert client.last_finish == "length"
    assert "return" in text
    assert text == expected
