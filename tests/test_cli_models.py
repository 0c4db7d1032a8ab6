"""`fimble models …` and `fimble quantize` against a loopback Hub, with real llama.cpp."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.core.models.info import inspect_model
from app.selftest.tiny_gguf import write_tiny_gguf


def _run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_pull_of_a_full_precision_repo_quantizes_to_q4_k_m_then_loads_and_generates(
    hub, capsys, fimble_home, full_precision_model
):
    hub.add_repo(
        "google/codegemma-tiny-GGUF",
        {"codegemma-tiny.gguf": full_precision_model, "README.md": b"# tiny\n"},
        downloads=12,
        likes=3,
    )
    status, out, err = _run(capsys, "models", "pull", "google/codegemma-tiny-GGUF", "--quant", "q4_k_m")
    assert status == 0, err
    path = out.strip().splitlines()[-1]
    assert path.endswith("codegemma-tiny-Q4_K_M.gguf")
    assert "quantize it to Q4_K_M locally" in err
    assert inspect_model(path).info.file_type == "Q4_K_M"
    folder = fimble_home / "data" / "models" / "google__codegemma-tiny-GGUF"
    assert sorted(p.name for p in folder.iterdir()) == ["codegemma-tiny-Q4_K_M.gguf", "codegemma-tiny.gguf"]
    # The quantized model loads in an engine host and generates.
    status, out, err = _run(
        capsys,
        "complete",
        "--model",
        path,
        "--prefix",
        "def add(a, b):\n    ",
        "--suffix",
        "\n",
        "--max-tokens",
        "4",
        "--ctx",
        "256",
        "--temperature",
        "0",
    )
    assert status == 0, err
    # Listed with the fields the issue asks for.
    status, out, _ = _run(capsys, "models", "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    model = listed["codegemma-tiny-Q4_K_M"]
    assert {"name", "path", "family", "file_type", "size_bytes", "roles"} <= set(model)
    assert (model["family"], model["file_type"]) == ("codegemma", "Q4_K_M")
    assert "completion" in model["roles"]
    assert listed["codegemma-tiny"]["file_type"] == "F16"


def test_pull_of_a_ready_quantization_downloads_it_and_rm_deletes_it(hub, capsys, fimble_home, tmp_path):
    ready = write_tiny_gguf(tmp_path / "src.gguf", "codellama", name="CodeLlama tiny")
    hub.add_repo(
        "TheBloke/CodeLlama-tiny-GGUF",
        {"codellama-tiny.Q8_0.gguf": ready.read_bytes(), "codellama-tiny.Q4_K_M.gguf": ready.read_bytes()},
    )
    status, out, err = _run(capsys, "models", "pull", "TheBloke/CodeLlama-tiny-GGUF", "--quant", "Q8_0")
    assert status == 0, err
    path = out.strip()
    assert path.endswith("codellama-tiny.Q8_0.gguf")
    assert open(path, "rb").read() == ready.read_bytes()
    assert "quantize" not in err
    status, out, err = _run(capsys, "models", "rm", "codellama-tiny.Q8_0")
    assert status == 0, err
    assert "deleted" in out
    status, out, _ = _run(capsys, "models", "list", "--json")
    assert json.loads(out) == []


def test_search_lists_downloads_likes_update_and_license(hub, capsys):
    hub.add_repo(
        "someone/codegemma-7b-it-GGUF",
        {"codegemma-7b-it-Q4_K_M.gguf": b"GGUF" + b"\0" * 60},
        downloads=1234,
        likes=56,
        license="gemma",
        last_modified="2024-05-01T10:00:00.000Z",
    )
    status, out, err = _run(capsys, "models", "search", "codegemma")
    assert status == 0, err
    assert "someone/codegemma-7b-it-GGUF" in out and "1234" in out and "56" in out
    assert "2024-05-01" in out and "gemma" in out


def test_a_gated_repo_without_a_token_fails_with_one_line_naming_the_license_page(hub, capsys, tmp_path):
    model = write_tiny_gguf(tmp_path / "m.gguf", "codegemma")
    hub.add_repo("google/codegemma-gated-GGUF", {"codegemma-gated-Q8_0.gguf": model}, gated=True)
    status, out, err = _run(capsys, "models", "pull", "google/codegemma-gated-GGUF", "--quant", "Q8_0")
    assert status == 1
    errors = [line for line in err.splitlines() if line.startswith("fimble: error:")]
    assert len(errors) == 1 and "gated" in errors[0]
    assert f"{hub.endpoint}/google/codegemma-gated-GGUF" in errors[0]
    assert "Traceback" not in err


def test_offline_mode_lists_the_library_and_refuses_the_hub_in_one_line(hub, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    status, out, _ = _run(capsys, "models", "list", "--json")
    assert status == 0 and json.loads(out) == []
    status, _, err = _run(capsys, "models", "search", "codegemma")
    assert status == 1
    assert err.count("\n") == 1 and "can't be reached" in err


def test_quantize_command_and_its_refusals(capsys, tmp_path, full_precision_model):
    out_path = tmp_path / "tiny-Q8_0.gguf"
    status, out, err = _run(capsys, "quantize", str(full_precision_model), str(out_path), "--type", "Q8_0")
    assert status == 0, err
    assert inspect_model(out_path).info.file_type == "Q8_0"
    # Re-quantizing a quantized file needs --force.
    again = tmp_path / "again-Q4_0.gguf"
    status, _, err = _run(capsys, "quantize", str(out_path), str(again), "--type", "Q4_0")
    assert status == 1 and "already quantized" in err and not again.exists()
    status, _, err = _run(capsys, "quantize", str(out_path), str(again), "--type", "Q4_0", "--force")
    assert status == 0, err
    status, _, err = _run(capsys, "quantize", str(full_precision_model), str(tmp_path / "x.gguf"), "--type", "Q9_Z")
    assert status == 1 and "unknown quantization type" in err


@pytest.mark.parametrize("argv", [["models"], ["models", "pull"], ["quantize", "a.gguf"]])
def test_usage_errors_are_one_line_with_status_2(capsys, argv):
    status, _, err = _run(capsys, *argv)
    assert status == 2 and err.startswith("fimble: error:") and err.count("\n") == 1
