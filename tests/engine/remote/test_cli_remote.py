"""``fimble remote test`` and ``fimble complete/chat --remote`` as real subprocesses against a real server."""

from __future__ import annotations

import json

from tests.engine.remote.conftest import API_KEY
from tests.test_cli import assert_one_line_error, fimble


def test_remote_test_shows_the_server_model_context_round_trip_and_a_sample(codellama_server):
    result = fimble("remote", "test", codellama_server.base_url, "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["server"] == "llama-cpp-python server" and shown["model"] == "tiny-codellama"
    assert shown["family"] == "codellama" and shown["round_trip_ms"] > 0
    assert isinstance(shown["sample"], str)
    words = fimble("remote", "test", codellama_server.base_url)
    assert words.returncode == 0 and "round trip" in words.stdout and "tiny-codellama" in words.stdout


def test_complete_remote_dry_run_prints_the_exact_request_body(codellama_server):
    result = fimble("complete", "--remote", codellama_server.base_url, "--prefix", "a = '<MID>'\n", "--dry-run")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["model"] == "tiny-codellama" and body["stream"] is True
    assert "<\u200bMID>" in body["prompt"]  # the user's marker, broken
    assert body["stop"] and body["max_tokens"] == 64


def test_complete_and_chat_run_against_the_server(codellama_server, keyed_server, monkeypatch):
    done = fimble("complete", "--remote", codellama_server.base_url, "--prefix", "def add(a, b):\n", "--max-tokens", 4)
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("FIMBLE_TEST_KEY", API_KEY)
    said = fimble(
        "chat", "--remote", keyed_server.base_url, "--api-key-env", "FIMBLE_TEST_KEY", "hello", "--max-tokens", 4
    )
    assert said.returncode == 0, said.stderr


def test_remote_mistakes_are_one_line_errors(keyed_server, monkeypatch):
    monkeypatch.delenv("FIMBLE_NO_SUCH_KEY", raising=False)
    assert_one_line_error(
        fimble("chat", "--remote", keyed_server.base_url, "--api-key-env", "FIMBLE_NO_SUCH_KEY", "hi"), "not set"
    )
    monkeypatch.setenv("FIMBLE_BAD_KEY", "wrong")
    assert_one_line_error(
        fimble("chat", "--remote", keyed_server.base_url, "--api-key-env", "FIMBLE_BAD_KEY", "hi"), "API key"
    )
    assert_one_line_error(fimble("remote", "test", "gpu-box:8000"), "http://")
    assert_one_line_error(fimble("remote", "test", "http://127.0.0.1:99999"), "the port is not a number")
    assert_one_line_error(fimble("chat", "--model", "x.gguf", "--remote", "http://127.0.0.1:9", "hi"), "not allowed")
