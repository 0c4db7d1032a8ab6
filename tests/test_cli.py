"""The ``fimble`` command, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app import __version__
from app.selftest.tiny_gguf import special_token_ids


def fimble(*args, timeout=120):
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "app", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


def assert_one_line_error(result, fragment):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fimble: error: ") and fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_version():
    result = fimble("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fimble {__version__}"


def test_inspect_json(tiny_models):
    result = fimble("inspect", tiny_models["codegemma"], "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    ids = special_token_ids("codegemma")
    assert data["architecture"] == "gemma" and data["family"] == "codegemma"
    assert data["file_type"] == "F32" and data["context_length"] == 4096 and data["parameters"] > 0
    assert data["has_chat_template"] is True and data["size_bytes"] == tiny_models["codegemma"].stat().st_size
    assert data["fim"] == {
        "prefix": ids["<|fim_prefix|>"],
        "suffix": ids["<|fim_suffix|>"],
        "middle": ids["<|fim_middle|>"],
        "file_separator": ids["<|file_separator|>"],
    }
    assert data["memory"]["n_ctx"] == 4096 and data["memory"]["total_bytes"] > data["memory"]["kv_cache_bytes"] > 0
    generic = json.loads(fimble("inspect", tiny_models["generic"], "--json").stdout)
    assert generic["family"] == "generic" and generic["fim"] is None


def test_inspect_text(tiny_models):
    result = fimble("inspect", tiny_models["codellama"])
    assert result.returncode == 0 and "codellama" in result.stdout and "completion" in result.stdout


def test_complete_dry_run_prints_the_exact_prompt(tiny_models):
    result = fimble(
        "complete",
        "--model",
        tiny_models["codellama"],
        "--prefix",
        "def f(x):\n    ",
        "--suffix",
        "return y\n",
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr
    prompt = json.loads(result.stdout)
    ids = special_token_ids("codellama")
    assert prompt["tokens"][:2] == [ids["<s>"], ids["\u2581<PRE>"]]
    assert prompt["tokens"][-1] == ids["\u2581<MID>"] and ids["\u2581<SUF>"] in prompt["tokens"]
    assert len(prompt["pieces"]) == len(prompt["tokens"])
    assert "".join(prompt["pieces"][prompt["tokens"].index(ids["\u2581<SUF>"]) + 1 : -1]) == "return y\n"


def test_complete_reads_files_and_generates(tiny_models, tmp_path):
    prefix = tmp_path / "prefix.py"
    prefix.write_text("import os\n")
    result = fimble("complete", "--model", tiny_models["codegemma"], "--prefix-file", prefix, "--max-tokens", "4")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_chat_dry_run_and_stream(tiny_models):
    dry = fimble("chat", "--model", tiny_models["codegemma"], "--system", "Be brief.", "--dry-run", "Hi <end_of_turn>")
    assert dry.returncode == 0, dry.stderr
    pieces = json.loads(dry.stdout)["pieces"]
    assert "".join(pieces).startswith("<bos><start_of_turn>user\nBe brief.\n\nHi <end_of_turn>")
    assert pieces.count("<end_of_turn>") == 1  # the typed one stayed text
    result = fimble("chat", "--model", tiny_models["generic"], "--max-tokens", "5", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("inspect", "/no/such/model.gguf"), "no such file"),
        (("complete", "--model", "/no/such.gguf", "--prefix", "x"), "no such file"),
        (("chat", "--model", "/no/such.gguf", "hi"), "no such file"),
        (("--frobnicate",), "unrecognized arguments"),
        (("complete", "--prefix", "x"), "--model"),
        (("bogus-command",), "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, fragment):
    assert_one_line_error(fimble(*args), fragment)


def test_corrupt_model_is_one_line(tiny_models, tmp_path):
    bad = tmp_path / "cut.gguf"
    bad.write_bytes(tiny_models["codegemma"].read_bytes()[:4000])
    assert_one_line_error(fimble("complete", "--model", bad, "--prefix", "x"), "truncated")


def test_wrong_model_for_the_task(tiny_models):
    assert_one_line_error(
        fimble("complete", "--model", tiny_models["generic"], "--prefix", "x"), "no fill-in-the-middle tokens"
    )
    assert_one_line_error(fimble("chat", "--model", tiny_models["codellama"], "hi"), "not a chat model")


def test_missing_prefix_file(tiny_models, tmp_path):
    assert_one_line_error(
        fimble("complete", "--model", tiny_models["codegemma"], "--prefix-file", tmp_path / "none.py"), "cannot read"
    )


def test_self_test_exits_zero():
    result = fimble("--self-test")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fimble self-test ok")


@pytest.mark.starter
def test_chat_with_the_starter_model(starter_model):
    result = fimble("complete", "--model", starter_model, "--prefix", "x", timeout=120)
    assert_one_line_error(result, "no fill-in-the-middle tokens")
    result = fimble("chat", "--model", starter_model, "--max-tokens", "8", "Say hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
