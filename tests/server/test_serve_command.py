"""``fimble serve`` as a process: the JSON line, the openai client, SIGTERM, and the refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from app.cli import main
from tests.test_layers import _offenders

ROOT = Path(__file__).resolve().parents[2]


def test_serve_prints_url_and_token_serves_the_openai_client_and_exits_0_on_sigterm(tiny_models, tmp_path):
    home = tmp_path / "home"
    command = [
        sys.executable,
        "-m",
        "app",
        "serve",
        "--chat-model",
        str(tiny_models["codegemma"]),
        "--completion-model",
        str(tiny_models["codellama"]),
        "--port",
        "0",
        "--ctx",
        "1024",
        "--json",
    ]
    env = {**os.environ, "FIMBLE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        assert first["url"].startswith("http://127.0.0.1:") and first["token"]
        token_file = home / "config" / "server-token"
        assert token_file.read_text().strip() == first["token"]
        assert token_file.stat().st_mode & 0o777 == 0o600
        with openai.OpenAI(base_url=first["url"] + "/v1", api_key=first["token"], max_retries=0) as client:
            assert sorted(m.id for m in client.models.list().data) == ["codegemma", "codellama"]
            chat = client.chat.completions.create(
                model="codegemma", messages=[{"role": "user", "content": "hi"}], max_tokens=6
            )
            assert chat.usage.prompt_tokens > 0
            pieces = client.chat.completions.create(
                model="codegemma", messages=[{"role": "user", "content": "hi"}], max_tokens=6, stream=True
            )
            assert [c.choices[0].finish_reason for c in pieces if c.choices[0].finish_reason]
            fim = client.completions.create(model="codellama", prompt="def f(", suffix="\n", max_tokens=5)
            assert fim.usage.completion_tokens == 5 and fim.choices[0].finish_reason == "length"
            with pytest.raises(openai.AuthenticationError):
                openai.OpenAI(base_url=first["url"] + "/v1", api_key="wrong", max_retries=0).models.list()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "--yes-expose"),
        (["--host", "192.168.1.5", "--yes-expose", "--no-auth"], "--no-auth is allowed only on a loopback"),
        (["--port", "70000"], "--port"),
        (["--chat-model", "/nonexistent/model.gguf"], "no such model file"),
    ],
)
def test_serve_refuses_unsafe_or_wrong_options_in_one_line(args, message, capsys):
    assert main(["serve", *args]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


@pytest.mark.parametrize(
    ("layer", "banned"),
    [
        ("app.server", ("PySide6", "llama_cpp", "app.ui", "app.services", "app.cli")),
        ("app.cli_serve", ("PySide6", "llama_cpp", "app.ui", "app.services")),
    ],
)
def test_the_server_layer_sits_between_the_engine_and_the_cli(layer, banned):
    assert _offenders(layer, banned) == []
