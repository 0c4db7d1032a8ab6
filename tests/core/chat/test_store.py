"""The chat store: schema and migrations, CRUD, soft delete, search, crash safety."""

import itertools
import os
import random
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.core.chat import store_setup as chat_store_setup
from app.core.chat.store import (
    DEFAULT_TITLE,
    MIGRATIONS,
    ChatStore,
    Conversation,
    NotFoundError,
    StoredMessage,
    StoreError,
    title_from_text,
)
from app.core.paths import app_dirs

REPO_ROOT = Path(__file__).resolve().parents[3]


class FakeClock:
    """A clock that moves one second per reading unless told otherwise."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def db_path() -> Path:
    return app_dirs().data / "chats.sqlite3"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_path, clock):
    store = ChatStore(db_path, clock=clock)
    yield store
    store.close()


@pytest.fixture(params=[True, False], ids=["fts5", "like"])
def search_store(request, db_path, clock):
    """A store searching with the FTS5 index, and one with the LIKE fallback."""
    store = ChatStore(db_path, full_text=request.param, clock=clock)
    assert store.full_text is request.param
    yield store
    store.close()


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def fts_ok(store: ChatStore) -> None:
    """Fail unless the FTS index matches the messages table exactly."""
    with sqlite3.connect(store.path) as conn:
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")


# -- schema -------------------------------------------------------------------


def test_new_database_has_current_schema(store, db_path):
    assert db_path.exists()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 2
        assert columns(conn, "conversations") == [
            "id",
            "title",
            "created_at",
            "updated_at",
            "system_prompt",
            "sampling_json",
            "deleted_at",
        ]
        assert columns(conn, "messages") == [
            "id",
            "conversation_id",
            "role",
            "content",
            "created_at",
            "partial",
            "stop_reason",
            "stats_json",
            "position",
        ]
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {
        "messages_by_position",
        "conversations_by_updated",
        "messages_fts",
        "messages_fts_insert",
        "messages_fts_update",
        "messages_fts_delete",
    } <= names
    assert store.full_text  # this sqlite build has FTS5 with the trigram tokenizer


def test_wal_mode_and_pragmas(store, db_path):
    with sqlite3.connect(db_path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = store._conn
    assert conn.isolation_level is None
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def make_v1_database(path: Path) -> None:
    """Write a database the way the first schema version left it, with data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.executemany(
        "INSERT INTO conversations VALUES (?, ?, ?, ?)", [(1, "Old chat", 10.0, 20.0), (2, "Another", 30.0, 40.0)]
    )
    # Ids out of time order: positions must follow created_at.
    conn.executemany(
        "INSERT INTO messages VALUES (?, ?, ?, ?, ?)",
        [
            (1, 1, "user", "What is a closure?", 11.0),
            (3, 1, "assistant", "A function with captured variables.", 12.0),
            (2, 1, "user", "Show an example", 13.0),
            (4, 2, "user", "Sort a dict by value", 31.0),
        ],
    )
    conn.commit()
    conn.close()


def test_migrates_v1_database_keeping_data(db_path, clock):
    make_v1_database(db_path)
    store = ChatStore(db_path, clock=clock)
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert store.conversations() == [
        Conversation(2, "Another", None, {}, 30.0, 40.0),
        Conversation(1, "Old chat", None, {}, 10.0, 20.0),
    ]
    assert store.messages(1) == [
        StoredMessage(1, 1, "user", "What is a closure?", False, None, None, 0, 11.0),
        StoredMessage(3, 1, "assistant", "A function with captured variables.", False, None, None, 1, 12.0),
        StoredMessage(2, 1, "user", "Show an example", False, None, None, 2, 13.0),
    ]
    assert [m.position for m in store.messages(2)] == [0]
    assert store.add_message(1, "assistant", "def outer(): ...").position == 3
    assert [c.id for c, _ in store.search("captured")] == [1]  # index built from old rows
    fts_ok(store)
    store.close()


def test_failed_migration_rolls_back(db_path, monkeypatch):
    make_v1_database(db_path)
    broken = "CREATE TABLE extra (x);\nINSERT INTO no_such_table VALUES (1);"
    monkeypatch.setattr(chat_store_setup, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StoreError, match="no such table"):
        ChatStore(db_path)
    with sqlite3.connect(db_path) as conn:  # v2 committed, v3 left no trace
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
    monkeypatch.setattr(chat_store_setup, "MIGRATIONS", MIGRATIONS)
    store = ChatStore(db_path)
    assert len(store.messages(1)) == 3
    store.close()


def test_newer_schema_is_refused(db_path):
    ChatStore(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 7")
    with pytest.raises(StoreError) as caught:
        ChatStore(db_path)
    assert str(caught.value) == "the chat database was written by a newer Fimble (schema v7)"


@pytest.mark.parametrize("damage", ["garbage", "bad-header"])
def test_corrupt_file_gives_one_line_error(db_path, damage):
    if damage == "garbage":
        db_path.parent.mkdir(parents=True)
        db_path.write_bytes(os.urandom(8192))
    else:
        store = ChatStore(db_path)
        store.add_message(store.create_conversation().id, "user", "hello")
        store.close()
        data = bytearray(db_path.read_bytes())
        data[:16] = b"definitely not!!"
        db_path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        ChatStore(db_path)
    message = str(caught.value)
    assert "\n" not in message and "not a database" in message and str(db_path) in message


def test_unopenable_path(tmp_path):
    (tmp_path / "folder.sqlite3").mkdir()
    with pytest.raises(StoreError, match="cannot open the chat database"):
        ChatStore(tmp_path / "folder.sqlite3")


def test_closed_store_raises(store):
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.conversations()


# -- conversations and messages ---------------------------------------------------


def test_conversation_crud(store):
    first = store.create_conversation()
    assert first == Conversation(first.id, DEFAULT_TITLE, None, {}, 1001.0, 1001.0)
    second = store.create_conversation("Regex help", "Answer in one line.", {"temperature": 0.2})
    assert store.conversation(second.id).sampling == {"temperature": 0.2}
    assert [c.id for c in store.conversations()] == [second.id, first.id]

    store.rename(first.id, "Renamed")
    store.set_system_prompt(first.id, "Be terse.")
    store.set_sampling(first.id, {"top_p": 0.9, "max_tokens": 256})
    got = store.conversation(first.id)
    assert (got.title, got.system_prompt, got.sampling) == ("Renamed", "Be terse.", {"top_p": 0.9, "max_tokens": 256})
    assert got.updated_at > got.created_at
    assert [c.id for c in store.conversations()] == [first.id, second.id]
    store.set_system_prompt(first.id, None)
    assert store.conversation(first.id).system_prompt is None

    for call in (
        lambda: store.conversation(999),
        lambda: store.rename(999, "x"),
        lambda: store.set_sampling(999, {}),
        lambda: store.delete(999),
        lambda: store.add_message(999, "user", "hi"),
    ):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(ValueError, match="role"):
        store.add_message(first.id, "tool", "x")
    assert store.messages(first.id) == []


def test_streaming_a_message(store):
    chat = store.create_conversation()
    user = store.add_message(chat.id, "user", "Explain list comprehensions")
    answer = store.add_message(chat.id, "assistant", "", partial=True)
    assert (user.position, answer.position) == (0, 1)
    assert answer.partial and answer.content == "" and answer.stats is None
    for piece in ("A list ", "comprehension ", "builds a list."):
        store.append_to_message(answer.id, piece)
    assert store.messages(chat.id)[1].content == "A list comprehension builds a list."
    done = store.finish_message(answer.id, stop_reason="stop", stats={"tokens": 7, "tokens_per_s": 31.5})
    assert done == StoredMessage(
        answer.id,
        chat.id,
        "assistant",
        "A list comprehension builds a list.",
        False,
        "stop",
        {"tokens": 7, "tokens_per_s": 31.5},
        1,
        answer.created_at,
    )
    stopped = store.finish_message(answer.id, content="A list", partial=True, stop_reason="cancelled")
    assert (stopped.content, stopped.partial, stopped.stats) == ("A list", True, None)
    assert store.messages(chat.id) == [user, stopped]
    with pytest.raises(NotFoundError):
        store.append_to_message(999, "x")
    with pytest.raises(NotFoundError):
        store.finish_message(999)


def test_title_from_first_user_message(store):
    chat = store.create_conversation()
    store.add_message(chat.id, "system", "You are helpful.")
    store.add_message(chat.id, "user", "   \n")
    assert store.conversation(chat.id).title == DEFAULT_TITLE
    store.add_message(chat.id, "user", "\n  How   do I\tparse JSON?  \nwith details")
    assert store.conversation(chat.id).title == "How do I parse JSON?"
    store.add_message(chat.id, "user", "Another question")
    assert store.conversation(chat.id).title == "How do I parse JSON?"

    named = store.create_conversation("My title")
    store.add_message(named.id, "user", "Something else")
    assert store.conversation(named.id).title == "My title"


def test_title_from_text():
    long = "word " * 30
    title = title_from_text(long)
    assert len(title) == 60 and title.endswith("…") and not title[:-1].endswith(" ")
    assert title_from_text("x" * 60) == "x" * 60
    assert title_from_text("x" * 61) == "x" * 59 + "…"
    assert title_from_text("\n\n  a  b \n c") == "a b"
    assert title_from_text(" \t\n") == ""


def test_soft_delete_undo_and_purge(store, clock):
    keep = store.create_conversation("Keep")
    gone = store.create_conversation("Gone")
    store.add_message(gone.id, "user", "text")
    store.delete(gone.id)
    store.delete(gone.id)  # deleting twice is harmless
    assert [c.id for c in store.conversations()] == [keep.id]
    listed = store.conversations(include_deleted=True)
    assert [c.id for c in listed] == [gone.id, keep.id] and listed[0].deleted_at is not None
    assert store.conversation(gone.id).deleted_at is not None
    assert len(store.messages(gone.id)) == 1

    store.undelete(gone.id)
    assert store.conversation(gone.id).deleted_at is None
    assert {c.id for c in store.conversations()} == {keep.id, gone.id}

    store.delete(gone.id)
    assert store.purge_deleted(older_than_s=60) == 0  # deleted a second ago
    clock.now += 120
    assert store.purge_deleted(older_than_s=60) == 1
    with pytest.raises(NotFoundError):
        store.conversation(gone.id)
    with pytest.raises(NotFoundError):
        store.undelete(gone.id)
    assert store.messages(gone.id) == []
    assert store._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert [c.id for c in store.conversations(include_deleted=True)] == [keep.id]
    fts_ok(store)


def test_truncate_after_and_edit(store):
    chat = store.create_conversation()
    other = store.create_conversation()
    ids = [
        store.add_message(chat.id, role, text).id
        for role, text in [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]
    ]
    store.add_message(other.id, "user", "untouched")
    assert store.truncate_after(ids[1]) == 2
    assert [m.content for m in store.messages(chat.id)] == ["q1", "a1"]
    assert store.truncate_after(ids[1]) == 0
    assert store.add_message(chat.id, "user", "q2 again").position == 2
    store.update_message_content(ids[0], "q1 edited")
    assert store.truncate_after(ids[0]) == 2
    assert [m.content for m in store.messages(chat.id)] == ["q1 edited"]
    assert [m.content for m in store.messages(other.id)] == ["untouched"]
    with pytest.raises(NotFoundError):
        store.truncate_after(999)
    with pytest.raises(NotFoundError):
        store.update_message_content(999, "x")
    fts_ok(store)


def test_two_threads_share_the_store(store):
    chat = store.create_conversation()
    answer = store.add_message(chat.id, "assistant", "", partial=True)

    def worker() -> None:
        for _ in range(200):
            store.append_to_message(answer.id, "x")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(50):
        store.conversations()
        store.messages(chat.id)
    for thread in threads:
        thread.join()
    assert store.messages(chat.id)[0].content == "x" * 400


# -- search ---------------------------------------------------------------------


def fill(store: ChatStore) -> dict[str, int]:
    chats = {}
    for title, texts in [
        ("Python lists", ["How do I reverse a list?", "Use `items[::-1]` or `items.reverse()`."]),
        ("Regex help", ["Match 100% of digits_only lines", r"Try `^\d+$` with re.M"]),
        ("Ünïcode", ["Straße and ÉCOLE", "case folding"]),
        ("Deleted one", ["reverse this too"]),
    ]:
        chat = store.create_conversation(title)
        for i, text in enumerate(texts):
            store.add_message(chat.id, "user" if i % 2 == 0 else "assistant", text)
        chats[title] = chat.id
    store.delete(chats["Deleted one"])
    return chats


def found(store: ChatStore, query: str, **kwargs) -> list[str]:
    return [conversation.title for conversation, _ in store.search(query, **kwargs)]


def test_search(search_store):
    store = search_store
    chats = fill(store)
    assert found(store, "REVERSE") == ["Python lists"]
    assert found(store, "ITEMS.rev") == ["Python lists"]
    assert found(store, "list reverse") == ["Python lists"]  # every word, same message
    assert found(store, "reverse digits") == []
    assert found(store, "regex") == ["Regex help"]  # title only
    assert found(store, "ü") == ["Ünïcode"]
    assert found(store, "école") == ["Ünïcode"]
    assert found(store, "e", limit=2) == ["Ünïcode", "Regex help"]  # newest first
    assert found(store, "   ") == []

    conversation, snippet = store.search("reverse")[0]
    assert conversation == store.conversation(chats["Python lists"])
    assert snippet == "How do I reverse a list?"
    assert store.search("regex")[0][1] == "Regex help"
    long = store.create_conversation("Long")
    store.add_message(long.id, "assistant", "lorem ipsum " * 20 + "NEEDLE here" + " tail" * 40)
    snippet = store.search("needle")[0][1]
    assert snippet.startswith("…") and snippet.endswith("…") and "NEEDLE here" in snippet
    assert len(snippet) < 110

    store.undelete(chats["Deleted one"])
    assert set(found(store, "reverse")) == {"Python lists", "Deleted one"}


@pytest.mark.parametrize(
    "query",
    [
        '"foo AND (',
        "(",
        ")",
        '"',
        "'",
        "*",
        "foo*",
        "NEAR(a b)",
        "a OR b",
        "-x",
        "col:x",
        "^",
        "%",
        "_",
        "\\",
        "%%%",
        "'; DROP TABLE messages; --",
        "\x00",
        "{a b}",
        "a + b",
        '"""',
        "AND",
        "NOT this",
        "(((",
        "a\x00bc",
        "\u0301\u0301\u0301",
        "🙂🙂🙂",
    ],
)
def test_search_odd_queries_never_raise(search_store, query):
    fill(search_store)
    search_store.search(query)
    assert len(search_store.conversations()) == 3


def test_search_random_queries_never_raise(search_store):
    fill(search_store)
    rng = random.Random(7)
    pieces = list("\"'()*:^-+{}%_\\ \x00aé🙂") + ["AND", "OR", "NOT", "NEAR", "list"]
    for _ in range(300):
        query = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        for conversation, snippet in search_store.search(query):
            assert isinstance(conversation, Conversation) and isinstance(snippet, str)


def test_search_wildcards_are_literal(search_store):
    fill(search_store)
    assert found(search_store, "100%") == ["Regex help"]
    assert found(search_store, "%") == ["Regex help"]
    assert found(search_store, "s_o") == ["Regex help"]  # digits_only
    assert found(search_store, "_") == ["Regex help"]
    assert found(search_store, "\\d+$") == ["Regex help"]
    assert found(search_store, "o%l") == []


def test_search_index_survives_a_build_without_fts(db_path, clock):
    store = ChatStore(db_path, clock=clock)
    chat = store.create_conversation()
    store.add_message(chat.id, "user", "first message")
    store.close()

    plain = ChatStore(db_path, full_text=False, clock=clock)
    triggers = plain._conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0]
    assert triggers == 0
    message = plain.add_message(chat.id, "assistant", "stale words")
    plain.update_message_content(message.id, "fresh words")
    assert found(plain, "fresh") == ["first message"]
    plain.close()

    again = ChatStore(db_path, clock=clock)
    assert again.full_text
    assert found(again, "fresh") == ["first message"]
    assert found(again, "stale") == []
    fts_ok(again)
    again.close()


# -- crash safety -----------------------------------------------------------------

CHILD = """
import os, sys, time
from pathlib import Path
from app.core.chat.store import ChatStore

store = ChatStore(Path(sys.argv[1]))
chat = store.create_conversation()
store.add_message(chat.id, "user", "Explain generators")
answer = store.add_message(chat.id, "assistant", "", partial=True)
for piece in ("Generators ", "yield values ", "lazily"):
    store.append_to_message(answer.id, piece)
if sys.argv[2] == "exit":
    os._exit(1)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_partial_answer_survives_killed_process(db_path, how):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path), how],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if how == "kill":
            assert child.stdout.readline() == "ready\n", child.stderr.read()
            child.kill()  # SIGKILL: no cleanup, no close, no checkpoint
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    if how == "exit":
        assert child.returncode == 1
    else:
        assert child.returncode != 0  # -9 on POSIX

    store = ChatStore(db_path)
    [chat] = store.conversations()
    assert chat.title == "Explain generators"
    user, answer = store.messages(chat.id)
    assert (user.role, user.content, user.partial) == ("user", "Explain generators", False)
    assert (answer.role, answer.content) == ("assistant", "Generators yield values lazily")
    assert answer.partial and answer.stop_reason is None
    assert found(store, "lazily") == ["Explain generators"]
    store.close()


def test_timestamps_come_from_the_clock(db_path):
    ticks = itertools.count(5000.0)
    store = ChatStore(db_path, clock=lambda: next(ticks))
    chat = store.create_conversation()
    message = store.add_message(chat.id, "user", "hi")
    assert (chat.created_at, message.created_at) == (5000.0, 5001.0)
    assert store.conversation(chat.id).updated_at == 5002.0
    store.close()
