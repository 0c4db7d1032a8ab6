"""Two windows saving settings: each save writes only what its window changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.core.models.load_params import LoadParams
from app.core.settings import RECENT_FILES_MAX, SETTINGS_FILE, Settings, load_settings, save_settings

ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "tests" / "crash" / "settings_writer.py"


def _open(settings: Settings, path: str) -> None:
    """What the window does when a file is opened."""
    settings.recent_files = [path, *[p for p in settings.recent_files if p != path]][:RECENT_FILES_MAX]


def _on_disk(folder: Path) -> dict:
    return json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))


def test_a_save_keeps_what_another_window_wrote(tmp_path):
    save_settings(tmp_path, Settings(recent_files=["/old.py"], system_prompt="Be brief."))
    window_a, window_b = load_settings(tmp_path), load_settings(tmp_path)

    _open(window_a, "/a.py")
    window_a.chat_model = "/models/a-chat.gguf"
    save_settings(tmp_path, window_a)
    _open(window_b, "/b.py")
    window_b.set_model_params("/models/b.gguf", LoadParams(n_ctx=2048))
    save_settings(tmp_path, window_b)  # B never touched the chat model

    merged = load_settings(tmp_path)
    assert merged.chat_model == "/models/a-chat.gguf"
    assert merged.recent_files == ["/b.py", "/a.py", "/old.py"]
    assert merged.params_for_model("/models/b.gguf").n_ctx == 2048
    assert merged.system_prompt == "Be brief."
    assert window_b.recent_files == ["/b.py", "/a.py", "/old.py"]  # B's menu shows A's file too
    assert window_b.chat_model is None  # B keeps serving the model it loaded


def test_the_last_change_to_one_field_wins(tmp_path):
    save_settings(tmp_path, Settings())
    window_a, window_b = load_settings(tmp_path), load_settings(tmp_path)
    window_a.chat_model = "/a.gguf"
    save_settings(tmp_path, window_a)
    window_b.chat_model = "/b.gguf"
    save_settings(tmp_path, window_b)
    assert load_settings(tmp_path).chat_model == "/b.gguf"
    save_settings(tmp_path, window_a)  # A saves again without changing it: B's choice stays
    assert load_settings(tmp_path).chat_model == "/b.gguf"


def test_keyed_settings_merge_key_by_key(tmp_path):
    save_settings(
        tmp_path,
        Settings(
            model_params={"/x.gguf": {"n_ctx": 1024}, "/y.gguf": {"n_ctx": 4096}},
            chat_templates={"explain": "Explain {code}"},
        ),
    )
    window_a, window_b = load_settings(tmp_path), load_settings(tmp_path)
    window_a.set_model_params("/x.gguf", LoadParams(n_ctx=8192))
    del window_a.model_params["/y.gguf"]
    save_settings(tmp_path, window_a)
    window_b.set_model_params("/z.gguf", LoadParams(n_gpu_layers=3))
    window_b.chat_templates["fix"] = "Fix {code}"
    save_settings(tmp_path, window_b)
    merged = load_settings(tmp_path)
    assert set(merged.model_params) == {"/x.gguf", "/z.gguf"}  # A's removal of /y stands
    assert merged.params_for_model("/x.gguf").n_ctx == 8192
    assert merged.chat_templates == {"explain": "Explain {code}", "fix": "Fix {code}"}


def test_a_reopened_file_moves_to_the_front_and_the_list_stays_short(tmp_path):
    save_settings(tmp_path, Settings(recent_files=[f"/f{i}.py" for i in range(RECENT_FILES_MAX)]))
    window_a, window_b = load_settings(tmp_path), load_settings(tmp_path)
    _open(window_a, "/f5.py")
    save_settings(tmp_path, window_a)
    _open(window_b, "/new.py")
    save_settings(tmp_path, window_b)
    recent = load_settings(tmp_path).recent_files
    assert recent[:2] == ["/new.py", "/f5.py"] and len(recent) == RECENT_FILES_MAX
    assert len(set(recent)) == len(recent)


def test_unknown_keys_and_a_fresh_settings_object(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text(
        json.dumps({"from_a_newer_fimble": [1, 2], "recent_files": ["/kept.py"]}), encoding="utf-8"
    )
    save_settings(tmp_path, Settings(completion_model="/c.gguf"))  # never loaded: only non-defaults count
    data = _on_disk(tmp_path)
    assert data["from_a_newer_fimble"] == [1, 2]
    assert data["recent_files"] == ["/kept.py"] and data["completion_model"] == "/c.gguf"


def test_bad_files_and_bad_values_give_defaults(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text("{not json", encoding="utf-8")
    assert load_settings(tmp_path) == Settings()
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(["a", "list"]), encoding="utf-8")
    assert load_settings(tmp_path) == Settings()
    (tmp_path / SETTINGS_FILE).write_text(
        json.dumps(
            {
                "recent_files": "oops",
                "chat_model": 3,
                "model_params": [],
                "system_prompt": "ok",
                "completion_params": {"n_ctx": 512},
            }
        ),
        encoding="utf-8",
    )
    loaded = load_settings(tmp_path)
    assert loaded == Settings(system_prompt="ok", completion_params={"n_ctx": 512})
    _open(loaded, "/x.py")
    save_settings(tmp_path, loaded)  # a bad value on disk is replaced, not merged with
    assert load_settings(tmp_path).recent_files == ["/x.py"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_two_processes_saving_lose_nothing(tmp_path):
    config = tmp_path / "config"
    go = tmp_path / "go"
    rounds = 60
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(config), name, str(rounds), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    go.touch()
    try:
        results = [writer.communicate(timeout=300) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    for writer, (out, err) in zip(writers, results, strict=True):
        assert (writer.returncode, out.strip()) == (0, "done"), err
    merged = load_settings(config)
    expected = {f"/models/{name}-{i}.gguf" for name in "ab" for i in range(rounds)}
    assert set(merged.model_params) == expected  # every window's every save is there
    assert merged.params_for_model("/models/b-59.gguf").n_ctx == 512 + 59
    assert merged.chat_model in ("/models/a-chat.gguf", "/models/b-chat.gguf")
    recent = merged.recent_files
    assert recent[0] in ("/work/a-59.py", "/work/b-59.py")  # whoever saved last
    assert len(recent) == len(set(recent)) == RECENT_FILES_MAX
