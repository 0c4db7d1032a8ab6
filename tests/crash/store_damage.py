"""Chat databases broken in the ways a disk, a crash, another program or a newer Fimble break them.

Shared by the store's tests (``tests/core``) and the start-up tests here.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from app.core.chat.store import ChatStore

# kind -> the tag the file is set aside under
KINDS = {
    "random-bytes": "damaged",
    "random-with-wal": "damaged",
    "truncated-half": "damaged",
    "truncated-tail": "damaged",
    "truncated-tiny": "damaged",
    "scribbled-page": "damaged",
    "bad-header": "damaged",
    "foreign": "foreign",
    "foreign-versioned": "foreign",
    "newer": "newer",
}


def good_store(path: Path, messages: int = 120) -> None:
    """Write a sound chat database with one conversation of ``messages`` messages."""
    store = ChatStore(path)
    chat = store.create_conversation("Kept for later")
    for i in range(messages):
        store.add_message(chat.id, "user" if i % 2 == 0 else "assistant", f"message {i} " * 40)
    store.close()  # the last connection checkpoints the WAL into the file


def damage(path: Path, kind: str) -> dict[str, bytes]:
    """Leave a broken database of ``kind`` at ``path``.

    Returns:
        The bytes of every file written, by suffix ("" for the database
        itself, "-wal", "-shm"), to check that nothing was lost.
    """
    rng = random.Random(kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    written: dict[str, bytes] = {}
    if kind in ("random-bytes", "random-with-wal"):
        written[""] = rng.randbytes(8192)
        if kind == "random-with-wal":
            written["-wal"] = rng.randbytes(4096)
            written["-shm"] = rng.randbytes(32768)
    elif kind.startswith(("truncated", "scribbled", "bad-header")):
        good_store(path)
        data = bytearray(path.read_bytes())
        if kind == "truncated-half":
            data = data[: len(data) // 2]
        elif kind == "truncated-tail":
            data = data[:-4096]
        elif kind == "truncated-tiny":
            data = data[:50]
        elif kind == "scribbled-page":
            data[8192:12288] = rng.randbytes(4096)
        else:
            data[:16] = b"definitely not!!"
        written[""] = bytes(data)
    elif kind in ("foreign", "foreign-versioned", "newer"):
        conn = sqlite3.connect(path)
        if kind == "newer":
            conn.close()
            good_store(path, messages=4)
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA user_version = 99")
        else:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
            conn.execute("INSERT INTO invoices (amount) VALUES (12.5)")
            if kind == "foreign-versioned":
                conn.execute("PRAGMA user_version = 1")
        conn.commit()
        conn.close()
        return {"": path.read_bytes()}
    else:
        raise ValueError(f"unknown damage {kind!r}")
    for suffix, data in written.items():
        Path(f"{path}{suffix}").write_bytes(data)
    return written


def integrity(path: Path) -> str:
    """Return sqlite's ``PRAGMA integrity_check`` answer for a database file."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
