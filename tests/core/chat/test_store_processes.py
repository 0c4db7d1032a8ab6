"""Several processes (windows) chatting in one chat database at once: nothing is locked out or lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.core.chat.store import BUSY_TIMEOUT_MS, ChatStore
from app.core.paths import app_dirs
from tests.crash.store_writer import PIECES, answer_piece

ROOT = Path(__file__).resolve().parents[3]
WRITER = ROOT / "tests" / "crash" / "store_writer.py"

ROUNDS = 300


def test_the_store_waits_for_other_writers():
    store = ChatStore(app_dirs().data / "chats.sqlite3")
    try:
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


def test_three_processes_open_a_new_file_and_chat_at_once(tmp_path):
    db = app_dirs().data / "chats.sqlite3"  # does not exist yet: all three create the schema
    go = tmp_path / "go"
    names = ["window-a", "window-b", "window-c"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(db), name, str(ROUNDS), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    go.touch()
    results = []
    try:
        for writer in writers:
            out, err = writer.communicate(timeout=300)
            results.append((writer.returncode, out, err))
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    for code, out, err in results:
        assert (code, out.strip()) == (0, "done"), err  # no "database is locked", no schema clash

    store = ChatStore(db)
    try:
        chats = {c.title: c for c in store.conversations()}
        assert sorted(chats) == names
        for name in names:
            messages = store.messages(chats[name].id)
            assert [m.position for m in messages] == list(range(2 * ROUNDS))
            for round_ in range(ROUNDS):
                question, answer = messages[2 * round_], messages[2 * round_ + 1]
                assert (question.role, question.content) == ("user", f"{name} question {round_}")
                assert answer.role == "assistant" and not answer.partial
                assert answer.content == "".join(answer_piece(name, round_, k) for k in range(PIECES))
                assert answer.stats == {"round": round_}
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()
