"""The chat store's messages: adding, streaming into, finishing, editing and listing them.

``MessageMethods`` is part of ``ChatStore`` (in ``store``); the connection,
the lock, the clock and the conversation helpers it uses come from
``StoreBase``. It is not used on its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from app.core.chat.records import (
    DEFAULT_TITLE,
    MESSAGE_ROLES,
    Conversation,
    JsonObject,
    NotFoundError,
    Row,
    StoredMessage,
    locked,
    title_from_text,
)
from app.core.chat.store_base import StoreBase

_MESSAGE_COLUMNS = "id, conversation_id, role, content, partial, stop_reason, stats_json, position, created_at"


class MessageMethods(StoreBase):
    """Message operations of ``ChatStore``; each public one commits before it returns."""

    @staticmethod
    def _message(row: Row) -> StoredMessage:
        """Build a StoredMessage from a row in ``_MESSAGE_COLUMNS`` order."""
        mid, cid, role, content, partial, stop_reason, stats_json, position, created = row
        stats = json.loads(stats_json) if stats_json is not None else None
        return StoredMessage(mid, cid, role, content, bool(partial), stop_reason, stats, position, created)

    def _get_message(self, message_id: int) -> StoredMessage:
        """Fetch one message."""
        row = self._db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no message {message_id}")
        return self._message(row)

    def _insert_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        partial: bool,
        stop_reason: str | None,
        stats: JsonObject | None,
        created_at: float,
    ) -> int:
        """Append a message row at the end of a conversation; return its id."""
        if role not in MESSAGE_ROLES:
            raise ValueError(f"unknown chat role {role!r}")
        return self._inserted(
            self._db.execute(
                "INSERT INTO messages (conversation_id, role, content, partial, stop_reason,"
                " stats_json, position, created_at) VALUES (?, ?, ?, ?, ?, ?, (SELECT"
                " COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?), ?)",
                (
                    conversation_id,
                    role,
                    content,
                    int(partial),
                    stop_reason,
                    None if stats is None else json.dumps(stats, sort_keys=True),
                    conversation_id,
                    created_at,
                ),
            )
        )

    @locked
    def add_message(self, conversation_id: int, role: str, content: str, *, partial: bool = False) -> StoredMessage:
        """Add a message at the end of a conversation and commit it at once.

        A user message also titles a conversation still called ``DEFAULT_TITLE``.

        Args:
            conversation_id: The conversation.
            role: "system", "user" or "assistant".
            content: The text ("" for an answer about to stream).
            partial: True for an answer that is still streaming.

        Returns:
            The stored message.

        Raises:
            NotFoundError: If there is no such conversation.
            ValueError: If the role is unknown.
        """
        conversation = self._get_conversation(conversation_id)
        with self._transaction():
            message_id = self._insert_message(conversation_id, role, content, partial, None, None, self._clock())
            self._touch_after(conversation, role, content)
        return self._get_message(message_id)

    def _touch_after(self, conversation: Conversation, role: str, content: str) -> None:
        """Title a conversation from its first user message, and touch ``updated_at``."""
        title = title_from_text(content) if role == "user" else ""
        if title and conversation.title == DEFAULT_TITLE:
            self._update_conversation(conversation.id, title=title)
        else:
            self._update_conversation(conversation.id)

    @locked
    def add_exchange(self, conversation_id: int, text: str) -> tuple[StoredMessage, StoredMessage]:
        """Add a user message and the empty, partial answer to it, both or neither.

        Args:
            conversation_id: The conversation.
            text: What the user sent.

        Returns:
            The user message and the answer to stream into.

        Raises:
            NotFoundError: If there is no such conversation.
            StoreFull: If the disk is full; nothing was added.
        """
        conversation = self._get_conversation(conversation_id)
        with self._transaction():
            user_id = self._insert_message(conversation_id, "user", text, False, None, None, self._clock())
            answer_id = self._insert_message(conversation_id, "assistant", "", True, None, None, self._clock())
            self._touch_after(conversation, "user", text)
        return self._get_message(user_id), self._get_message(answer_id)

    @locked
    def append_to_message(self, message_id: int, text: str) -> None:
        """Add streamed text to the end of a message; cheap enough to call often.

        Args:
            message_id: The message, usually a partial answer.
            text: The text that arrived since the last call.

        Raises:
            NotFoundError: If there is no such message.
        """
        cursor = self._db.execute("UPDATE messages SET content = content || ? WHERE id = ?", (text, message_id))
        if cursor.rowcount == 0:
            raise NotFoundError(f"no message {message_id}")

    @locked
    def finish_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        partial: bool = False,
        stop_reason: str | None = None,
        stats: JsonObject | None = None,
    ) -> StoredMessage:
        """Record how an answer ended.

        Args:
            message_id: The message.
            content: Its whole final text, or None to keep what was appended.
            partial: True if it stopped before the model finished.
            stop_reason: Why it stopped (e.g. "stop", "length", "cancelled").
            stats: Generation statistics as a JSON-able dict.

        Returns:
            The updated message.

        Raises:
            NotFoundError: If there is no such message.
        """
        message = self._get_message(message_id)
        with self._transaction():
            self._db.execute(
                "UPDATE messages SET content = COALESCE(?, content), partial = ?, stop_reason = ?,"
                " stats_json = ? WHERE id = ?",
                (
                    content,
                    int(partial),
                    stop_reason,
                    None if stats is None else json.dumps(stats, sort_keys=True),
                    message_id,
                ),
            )
            self._update_conversation(message.conversation_id)
        return self._get_message(message_id)

    @locked
    def update_message_content(self, message_id: int, content: str) -> None:
        """Replace a message's text (for "edit and resend").

        Args:
            message_id: The message.
            content: Its new text.

        Raises:
            NotFoundError: If there is no such message.
        """
        message = self._get_message(message_id)
        with self._transaction():
            self._db.execute("UPDATE messages SET content = ? WHERE id = ?", (content, message_id))
            self._update_conversation(message.conversation_id)

    @locked
    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """List a conversation's messages in order.

        Args:
            conversation_id: The conversation.

        Returns:
            Its messages, first to last (empty for an unknown id).
        """
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position", (conversation_id,)
        ).fetchall()
        return [self._message(row) for row in rows]

    @locked
    def truncate_after(self, message_id: int) -> int:
        """Delete every message after this one in its conversation.

        Args:
            message_id: The last message to keep.

        Returns:
            How many messages were deleted.

        Raises:
            NotFoundError: If there is no such message.
        """
        message = self._get_message(message_id)
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position > ?",
                (message.conversation_id, message.position),
            )
            self._update_conversation(message.conversation_id)
        return cursor.rowcount

    @locked
    def import_conversation(self, conversation: Conversation, messages: Sequence[StoredMessage]) -> Conversation:
        """Copy a conversation in as a new one, keeping its text, settings and times.

        Ids, conversation ids and positions in the arguments are ignored; the
        messages are stored in the order given. Nothing is retitled.

        Args:
            conversation: The conversation to copy.
            messages: Its messages, first to last.

        Returns:
            The new conversation.

        Raises:
            ValueError: If a message has an unknown role.
        """
        c = conversation
        with self._transaction():
            new_id = self._insert_conversation(c.title, c.system_prompt, c.sampling, c.created_at, c.updated_at)
            for m in messages:
                self._insert_message(new_id, m.role, m.content, m.partial, m.stop_reason, m.stats, m.created_at)
        return self._get_conversation(new_id)
