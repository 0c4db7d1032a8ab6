"""Opening the chat store whatever its file holds: unusable files are moved aside, never deleted."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from app.core.chat import store_rescue as chat_store_rescue
from app.core.chat.store import ChatStore, StoreError, StoreUnusable
from app.core.chat.store_rescue import aside_name, move_aside, open_chat_store
from app.core.paths import app_dirs
from tests.crash.store_damage import KINDS, damage, good_store, integrity

WHEN = time.mktime((2026, 11, 29, 18, 15, 0, 0, 0, -1))


@pytest.fixture
def db_path() -> Path:
    return app_dirs().data / "chats.sqlite3"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unusable_file_is_refused_without_a_write(db_path, kind):
    written = damage(db_path, kind)
    with pytest.raises(StoreUnusable) as caught:
        ChatStore(db_path)
    assert caught.value.kind == KINDS[kind]
    assert "\n" not in str(caught.value)
    for suffix, data in written.items():
        assert Path(f"{db_path}{suffix}").read_bytes() == data


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unusable_file_is_moved_aside_and_a_new_store_starts(db_path, kind):
    written = damage(db_path, kind)
    opened = open_chat_store(db_path, now=lambda: WHEN)
    try:
        moved = db_path.with_name(f"chats.sqlite3.{KINDS[kind]}-20261129-181500")
        assert opened.moved_to == moved
        assert opened.notice is not None and "\n" not in opened.notice
        assert str(moved) in opened.notice and "new chat database was started" in opened.notice
        for suffix, data in written.items():  # the file and its companions, byte for byte
            assert Path(f"{moved}{suffix}").read_bytes() == data
        assert not opened.store.in_memory and opened.store.path == db_path
        assert opened.store.conversations() == []
        chat = opened.store.create_conversation()
        opened.store.add_message(chat.id, "user", "a fresh start")
    finally:
        opened.store.close()
    assert integrity(db_path) == "ok"
    again = open_chat_store(db_path)
    assert again.notice is None and [c.title for c in again.store.conversations()] == ["a fresh start"]
    again.store.close()


def test_a_newer_database_keeps_its_companions_paired(db_path):
    """Set aside with its WAL, a newer Fimble's file still opens with every row."""
    good_store(db_path, messages=2)
    keeper = sqlite3.connect(db_path)  # holds the WAL open so it is not checkpointed away
    keeper.execute("PRAGMA user_version = 99")
    keeper.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('in the wal', 1, 1)")
    keeper.commit()
    assert Path(f"{db_path}-wal").stat().st_size > 0
    opened = open_chat_store(db_path, now=lambda: WHEN)
    keeper.close()
    opened.store.close()
    assert opened.moved_to.name == "chats.sqlite3.newer-20261129-181500"
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size < 10_000
    conn = sqlite3.connect(opened.moved_to)
    titles = {title for (title,) in conn.execute("SELECT title FROM conversations")}
    conn.close()
    assert titles == {"Kept for later", "in the wal"}


def test_a_sound_store_opens_without_a_notice(db_path):
    good_store(db_path)
    other = sqlite3.connect(db_path)  # another window has it open
    other.execute("SELECT COUNT(*) FROM messages").fetchone()
    opened = open_chat_store(db_path)
    try:
        assert opened.notice is None and opened.moved_to is None
        [chat] = opened.store.conversations()
        assert len(opened.store.messages(chat.id)) == 120
    finally:
        opened.store.close()
        other.close()
    assert sorted(p.name for p in db_path.parent.iterdir() if "chats" in p.name)[0] == "chats.sqlite3"
    assert not [p for p in db_path.parent.iterdir() if ".damaged-" in p.name]


def test_an_empty_file_becomes_a_new_store(db_path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.write_bytes(b"")
    opened = open_chat_store(db_path)
    assert opened.notice is None and opened.store.create_conversation().title == "New chat"
    opened.store.close()


def test_names_never_collide(db_path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    base = "chats.sqlite3.damaged-20261129-181500"
    assert aside_name(db_path, "damaged", WHEN).name == base
    Path(db_path.parent / f"{base}-wal").write_bytes(b"taken")  # a companion alone takes the name
    assert aside_name(db_path, "damaged", WHEN).name == f"{base}-2"
    for _ in range(2):
        damage(db_path, "random-bytes")
        moved = move_aside(db_path, "damaged", WHEN)
        assert not db_path.exists() and moved.exists()
    assert sorted(p.name for p in db_path.parent.iterdir()) == [f"{base}-2", f"{base}-3", f"{base}-wal"]


def test_a_file_that_cannot_be_opened_leaves_a_store_in_memory(tmp_path):
    target = tmp_path / "chats.sqlite3"
    target.mkdir()  # a folder where the file should be: sqlite cannot open it
    opened = open_chat_store(target)
    try:
        assert opened.store.in_memory and opened.moved_to is None
        assert opened.notice.startswith("Cannot open the chat database")
        assert str(target) in opened.notice and "in memory only" in opened.notice
        assert "\n" not in opened.notice
        chat = opened.store.create_conversation()
        opened.store.add_message(chat.id, "user", "still works")
        assert [m.content for m in opened.store.messages(chat.id)] == ["still works"]
    finally:
        opened.store.close()
    assert target.is_dir()


def test_a_file_that_cannot_be_moved_is_left_alone(db_path, monkeypatch):
    written = damage(db_path, "random-bytes")

    def refuse(_src, _dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(chat_store_rescue.os, "rename", refuse)
    opened = open_chat_store(db_path)
    try:
        assert opened.store.in_memory and opened.moved_to is None
        assert "is damaged" in opened.notice and "could not be moved aside (Permission denied)" in opened.notice
    finally:
        opened.store.close()
    assert db_path.read_bytes() == written[""]


def test_in_memory_store_is_a_full_store():
    store = ChatStore.in_memory_store(full_text=False)
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "find me")
    assert [c.id for c, _ in store.search("find")] == [chat.id]
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.conversations()
    assert not os.path.exists(":memory:")
