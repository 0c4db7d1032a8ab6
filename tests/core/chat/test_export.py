"""Markdown and JSON export of conversations, and JSON import back into the store."""

import json

import pytest

from app.core.chat.export import STOPPED_NOTE, export_json, export_markdown, import_json
from app.core.chat.store import ChatStore, Conversation, StoredMessage
from app.core.paths import app_dirs

CODE_ANSWER = """Here is one way:

```python
def chunks(items, size):
    \"\"\"Yield lists of ``size``.\"\"\"
    for start in range(0, len(items), size):
        yield items[start:start + size]\x20\x20\x20
```

    indented block stays too
Done."""


@pytest.fixture
def store():
    store = ChatStore(app_dirs().data / "chats.sqlite3")
    yield store
    store.close()


def sample(store: ChatStore) -> Conversation:
    """A conversation with a system prompt, settings, stats and a stopped answer."""
    chat = store.create_conversation(
        system_prompt="You are terse.\n\nUse Python 3.", sampling={"temperature": 0.2, "max_tokens": 512}
    )
    store.add_message(chat.id, "user", "Split a list into chunks")
    answer = store.add_message(chat.id, "assistant", "", partial=True)
    store.append_to_message(answer.id, CODE_ANSWER)
    store.finish_message(answer.id, stop_reason="stop", stats={"tokens": 80, "tokens_per_s": 42.5, "note": "ünï"})
    store.add_message(chat.id, "user", 'Now with **itertools** — "batched"?')
    stopped = store.add_message(chat.id, "assistant", "", partial=True)
    store.append_to_message(stopped.id, "Sure:\n\n```python\nfrom itertools import batched\n")
    store.finish_message(stopped.id, partial=True, stop_reason="cancelled")
    return store.conversation(chat.id)


def test_markdown(store):
    chat = sample(store)
    text = export_markdown(chat, store.messages(chat.id))
    assert text == (
        "# Split a list into chunks\n\n"
        "> **System prompt**\n>\n> You are terse.\n>\n> Use Python 3.\n\n"
        "**You**\n\nSplit a list into chunks\n\n"
        f"**Assistant**\n\n{CODE_ANSWER}\n\n"
        '**You**\n\nNow with **itertools** — "batched"?\n\n'
        "**Assistant**\n\nSure:\n\n```python\nfrom itertools import batched\n```\n\n"
        f"{STOPPED_NOTE}\n"
    )
    assert STOPPED_NOTE == "*(stopped before the end)*"
    assert "        yield items[start:start + size]   \n" in text  # verbatim, trailing spaces too


def test_markdown_edge_cases():
    chat = Conversation(1, "  Odd\n title ", None, {}, 0.0, 0.0)

    def message(content: str, partial: bool, role: str = "assistant") -> StoredMessage:
        return StoredMessage(1, 1, role, content, partial, None, None, 0, 0.0)

    assert export_markdown(chat, []) == "# Odd title\n"
    assert export_markdown(chat, [message("", True)]) == (f"# Odd title\n\n**Assistant**\n\n{STOPPED_NOTE}\n")
    closed = "```\ncode\n```\n"
    assert export_markdown(chat, [message(closed, True)]).endswith(f"```\ncode\n```\n\n{STOPPED_NOTE}\n")
    # A longer or tilde fence is closed with its own marker; ``` inside ~~~ does not close it.
    assert export_markdown(chat, [message("~~~~\n```\nx", True)]).endswith(f"x\n~~~~\n\n{STOPPED_NOTE}\n")
    assert export_markdown(chat, [message("text ``` inline", True)]).endswith(f"inline\n\n{STOPPED_NOTE}\n")
    assert "**System**\n\nrules" in export_markdown(chat, [message("rules", False, "system")])


def test_json_document(store):
    chat = sample(store)
    document = json.loads(export_json(chat, store.messages(chat.id)))
    assert document["format"] == "fimble-chat" and document["version"] == 1
    assert document["conversation"] == {
        "title": "Split a list into chunks",
        "system_prompt": "You are terse.\n\nUse Python 3.",
        "sampling": {"max_tokens": 512, "temperature": 0.2},
        "created_at": chat.created_at,
        "updated_at": chat.updated_at,
    }
    assert [m["role"] for m in document["messages"]] == ["user", "assistant", "user", "assistant"]
    assert document["messages"][1] == {
        "role": "assistant",
        "content": CODE_ANSWER,
        "partial": False,
        "stop_reason": "stop",
        "stats": {"note": "ünï", "tokens": 80, "tokens_per_s": 42.5},
        "created_at": store.messages(chat.id)[1].created_at,
    }
    assert document["messages"][3]["partial"] is True
    assert "id" not in document["conversation"] and "id" not in document["messages"][0]


def test_json_round_trip(store):
    chat = sample(store)
    messages = store.messages(chat.id)
    text = export_json(chat, messages)
    copy = import_json(store, text)
    assert copy.id != chat.id
    assert copy == Conversation(
        copy.id, chat.title, chat.system_prompt, chat.sampling, chat.created_at, chat.updated_at
    )
    copied = store.messages(copy.id)
    assert [(m.role, m.content, m.partial, m.stop_reason, m.stats, m.position, m.created_at) for m in copied] == [
        (m.role, m.content, m.partial, m.stop_reason, m.stats, m.position, m.created_at) for m in messages
    ]
    assert export_json(copy, copied) == text
    again = import_json(store, export_json(copy, copied))
    assert export_json(again, store.messages(again.id)) == text
    assert export_markdown(copy, copied) == export_markdown(chat, messages)


def test_import_keeps_titles_as_exported(store):
    chat = store.create_conversation()  # default title, first user message blank
    store.add_message(chat.id, "user", "   ")
    text = export_json(store.conversation(chat.id), store.messages(chat.id))
    copy = import_json(store, text)
    assert copy.title == "New chat"
    assert export_json(copy, store.messages(copy.id)) == text


def document(**changes) -> str:
    base = {
        "format": "fimble-chat",
        "version": 1,
        "conversation": {"title": "T", "system_prompt": None, "sampling": {}, "created_at": 1.0, "updated_at": 2.0},
        "messages": [
            {"role": "user", "content": "hi", "partial": False, "stop_reason": None, "stats": None, "created_at": 1.5}
        ],
    }
    base.update(changes)
    return json.dumps(base)


@pytest.mark.parametrize(
    "text, error",
    [
        ("{not json", "not a Fimble chat export"),
        ("[1, 2]", "not a Fimble chat export"),
        (document(format="other"), "not a Fimble chat export"),
        (document(version="1"), "bad 'version'"),
        (document(version=2), "written by a newer Fimble"),
        (document(conversation=[]), "bad 'conversation'"),
        (document(conversation={"title": 5}), "bad conversation 'title'"),
        (document(messages={}), "bad 'messages'"),
        (document(messages=[1]), "message 0 is not an object"),
        (document(messages=[{"role": "robot"}]), "unknown role"),
        (
            document(messages=[{"role": "user", "content": "x", "partial": 0, "created_at": 1}]),
            "bad message 0 'partial'",
        ),
        (
            document(messages=[{"role": "user", "content": "x", "partial": False, "created_at": True}]),
            "bad message 0 'created_at'",
        ),
    ],
)
def test_import_rejects_bad_documents(store, text, error):
    with pytest.raises(ValueError, match=error):
        import_json(store, text)
    assert store.conversations() == []


def test_import_of_a_good_document(store):
    chat = import_json(store, document())
    assert (chat.title, chat.created_at, chat.updated_at) == ("T", 1.0, 2.0)
    [message] = store.messages(chat.id)
    assert (message.content, message.created_at, message.position) == ("hi", 1.5, 0)


def test_failed_import_leaves_nothing(store):
    chat = Conversation(0, "T", None, {}, 1.0, 1.0)
    good = StoredMessage(0, 0, "user", "ok", False, None, None, 0, 1.0)
    bad = StoredMessage(0, 0, "robot", "no", False, None, None, 1, 1.0)
    with pytest.raises(ValueError, match="role"):
        store.import_conversation(chat, [good, bad])
    assert store.conversations(include_deleted=True) == []
    assert store._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
