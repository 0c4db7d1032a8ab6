"""Conversations out of (and back into) the chat store: Markdown and JSON.

The JSON document holds no database ids, so a conversation exported, imported
and exported again gives the very same text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from app.core.chat.records import JsonObject, JsonValue
from app.core.chat.store import MESSAGE_ROLES, ChatStore, Conversation, StoredMessage

FORMAT = "fimble-chat"
VERSION = 1
ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System"}
STOPPED_NOTE = "*(stopped before the end)*"

# A fenced code block opens or closes with 3+ backticks or tildes, indented 0-3 spaces.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _open_fence(text: str) -> str | None:
    """Return the fence of a code block left open at the end of ``text``, if any."""
    fence = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if not match:
            continue
        marker, rest = match.groups()
        if fence is None:
            if not (marker[0] == "`" and "`" in rest):
                fence = marker
        elif marker[0] == fence[0] and len(marker) >= len(fence) and not rest.strip():
            fence = None
    return fence


def export_markdown(conversation: Conversation, messages: Sequence[StoredMessage]) -> str:
    """Render a conversation as Markdown for reading or sharing.

    The title is the heading, the system prompt a quote, and each turn a
    bold label ("**You**", "**Assistant**") over its text, copied verbatim. An
    answer that stopped early ends with a note; a code block it left open is
    closed first so the note does not land inside it.

    Args:
        conversation: The conversation.
        messages: Its messages, first to last.

    Returns:
        The Markdown text, ending with one newline.
    """
    parts = [f"# {' '.join(conversation.title.split()) or 'Untitled chat'}"]
    if conversation.system_prompt:
        quoted = [f"> {line}".rstrip() for line in conversation.system_prompt.splitlines()]
        parts.append("> **System prompt**\n>\n" + "\n".join(quoted))
    for message in messages:
        label = ROLE_LABELS.get(message.role, message.role.capitalize())
        body = message.content.rstrip("\n")
        if message.partial:
            fence = _open_fence(body)
            if fence is not None:
                body += f"\n{fence}"
            body = f"{body}\n\n{STOPPED_NOTE}" if body else STOPPED_NOTE
        parts.append(f"**{label}**\n\n{body}" if body else f"**{label}**")
    return "\n\n".join(parts) + "\n"


def _message_document(message: StoredMessage) -> JsonObject:
    """The JSON form of one message."""
    return {
        "role": message.role,
        "content": message.content,
        "partial": message.partial,
        "stop_reason": message.stop_reason,
        "stats": message.stats,
        "created_at": message.created_at,
    }


def export_json(conversation: Conversation, messages: Sequence[StoredMessage]) -> str:
    """Write a conversation as a versioned JSON document.

    The document is ``{"format": "fimble-chat", "version": 1, "conversation":
    {...}, "messages": [...]}``; it keeps titles, prompts, settings, texts,
    stop reasons, stats and times, but no ids or positions (message order is
    list order), and no soft-delete mark.

    Args:
        conversation: The conversation.
        messages: Its messages, first to last.

    Returns:
        The JSON text, indented, keys sorted, ending with one newline.
    """
    document: JsonObject = {
        "format": FORMAT,
        "version": VERSION,
        "conversation": {
            "title": conversation.title,
            "system_prompt": conversation.system_prompt,
            "sampling": conversation.sampling,
            "created_at": conversation.created_at,
            "updated_at": conversation.updated_at,
        },
        "messages": [_message_document(message) for message in messages],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _bad(where: str, key: str) -> ValueError:
    return ValueError(f"not a Fimble chat export: bad {where}{key!r}")


def _text(data: JsonObject, key: str, where: str) -> str:
    """Read a string field of the document, or raise ValueError."""
    value = data.get(key)
    if isinstance(value, str):
        return value
    raise _bad(where, key)


def _optional_text(data: JsonObject, key: str, where: str) -> str | None:
    """Read a string-or-null field (missing counts as null)."""
    return None if data.get(key) is None else _text(data, key, where)


def _number(data: JsonObject, key: str, where: str) -> float:
    """Read a number field (not a boolean)."""
    value = data.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _bad(where, key)


def _flag(data: JsonObject, key: str, where: str) -> bool:
    """Read a boolean field."""
    value = data.get(key)
    if isinstance(value, bool):
        return value
    raise _bad(where, key)


def _object(data: JsonObject, key: str, where: str) -> JsonObject:
    """Read an object field."""
    value = data.get(key)
    if isinstance(value, dict):
        return value
    raise _bad(where, key)


def _optional_object(data: JsonObject, key: str, where: str) -> JsonObject | None:
    """Read an object-or-null field (missing counts as null)."""
    return None if data.get(key) is None else _object(data, key, where)


def _array(data: JsonObject, key: str, where: str) -> list[JsonValue]:
    """Read an array field."""
    value = data.get(key)
    if isinstance(value, list):
        return value
    raise _bad(where, key)


def import_json(store: ChatStore, text: str) -> Conversation:
    """Recreate a conversation from ``export_json`` output as a new conversation.

    Exporting the result gives back ``text`` exactly (when ``text`` came from
    ``export_json``); only the database ids are new.

    Args:
        store: Where to add it.
        text: The JSON document.

    Returns:
        The new conversation.

    Raises:
        ValueError: If the text is not a Fimble chat export this version can
            read.
        StoreError: If the store cannot save it.
    """
    try:
        document: JsonValue = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a Fimble chat export: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError("not a Fimble chat export")
    version = document.get("version")
    if not isinstance(version, int) or version < 1:
        raise ValueError("not a Fimble chat export: bad 'version'")
    if version > VERSION:
        raise ValueError(f"the chat export was written by a newer Fimble (format v{version})")
    head = _object(document, "conversation", "")
    where = "conversation "
    conversation = Conversation(
        id=0,
        title=_text(head, "title", where),
        system_prompt=_optional_text(head, "system_prompt", where),
        sampling=_object(head, "sampling", where),
        created_at=_number(head, "created_at", where),
        updated_at=_number(head, "updated_at", where),
    )
    messages = []
    for position, item in enumerate(_array(document, "messages", "")):
        if not isinstance(item, dict):
            raise ValueError(f"not a Fimble chat export: message {position} is not an object")
        where = f"message {position} "
        role = _text(item, "role", where)
        if role not in MESSAGE_ROLES:
            raise ValueError(f"not a Fimble chat export: unknown role {role!r}")
        messages.append(
            StoredMessage(
                id=0,
                conversation_id=0,
                role=role,
                content=_text(item, "content", where),
                partial=_flag(item, "partial", where),
                stop_reason=_optional_text(item, "stop_reason", where),
                stats=_optional_object(item, "stats", where),
                position=position,
                created_at=_number(item, "created_at", where),
            )
        )
    return store.import_conversation(conversation, messages)
