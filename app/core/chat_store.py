"""The chat pane's conversations and messages, kept in one sqlite file.

Every method commits before it returns, so what the app has written survives a
crash, including a half-streamed answer. The schema is versioned with
``PRAGMA user_version`` and grows through ``MIGRATIONS``. Message text is
searched with an FTS5 trigram index when this sqlite build has one, and with
``LIKE`` otherwise; both find case-insensitive substrings.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from app.core.chat_records import (DEFAULT_TITLE, ROLES, TITLE_MAX_CHARS, Conversation, NotFoundError,
                                   StoredMessage, StoreError, StoreFull, StoreUnusable, error_from_sqlite,
                                   is_damage, title_from_text)
from app.core.chat_schema import MIGRATIONS
from app.core.chat_search import lower, search_sql, snippet
from app.core.chat_store_setup import (check_file, check_header, fts5_available, migrate, sync_search_index,
                                      transaction)

__all__ = ["BUSY_TIMEOUT_MS", "DEFAULT_TITLE", "MEMORY", "MIGRATIONS", "ROLES", "TITLE_MAX_CHARS",
           "ChatStore", "Conversation", "NotFoundError", "StoredMessage", "StoreError", "StoreFull",
           "StoreUnusable", "title_from_text"]

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another window's write to end
MEMORY = ":memory:"  # the path of a store that lives in memory only

_CONVERSATION_FIELDS = ("id", "title", "system_prompt", "sampling_json", "created_at",
                        "updated_at", "deleted_at")
_CONVERSATION_COLUMNS = ", ".join(_CONVERSATION_FIELDS)
_MESSAGE_COLUMNS = ("id, conversation_id, role, content, partial, stop_reason, stats_json,"
                    " position, created_at")


def _locked(method: Callable) -> Callable:
    """Run a store method under the lock and turn sqlite errors into StoreError."""
    @functools.wraps(method)
    def wrapper(self: ChatStore, *args, **kwargs):
        with self._lock:
            if self._conn is None:
                raise StoreError("the chat store is closed")
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise error_from_sqlite(exc, self.path, "use") from exc
    return wrapper


class ChatStore:
    """Conversations and messages in one sqlite file, safe to share between threads.

    Several processes may use the same file at once: it is kept in WAL mode,
    and a write waits up to ``BUSY_TIMEOUT_MS`` for another one to end.

    Args:
        path: The database file; it and its folder are created if missing.
            ``MEMORY`` keeps the store in memory (nothing outlives it).
        full_text: Use the FTS5 index for search: None detects whether this
            sqlite build has FTS5 with the trigram tokenizer, False forces the
            ``LIKE`` fallback.
        clock: Returns the current time in seconds (tests replace it).

    Raises:
        StoreUnusable: If the file is not a sound chat database (damaged,
            another program's database, or written by a newer Fimble); it was
            not written to.
        StoreError: If the file cannot be opened (no permission, a folder…).
    """

    def __init__(self, path: Path | str, *, full_text: bool | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.in_memory = str(path) == MEMORY
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            if not self.in_memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                check_header(self.path)
            self._conn = sqlite3.connect(MEMORY if self.in_memory else self.path,
                                         check_same_thread=False, isolation_level=None,
                                         timeout=BUSY_TIMEOUT_MS / 1000)
            self._open(full_text)
        except (sqlite3.Error, OSError, StoreError) as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if isinstance(exc, StoreError):
                raise
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, sqlite3.Error) and is_damage(exc):
                raise StoreUnusable(f"the chat database {self.path} is damaged: {reason}",
                                    "damaged") from exc
            raise StoreError(f"cannot open the chat database {self.path}: {reason}") from exc

    @classmethod
    def in_memory_store(cls, **kwargs) -> ChatStore:
        """Open an empty store kept in memory, for when no file can be used.

        Args:
            **kwargs: ``full_text`` and ``clock``, as for the constructor.

        Returns:
            The store; its conversations end with it.
        """
        return cls(MEMORY, **kwargs)

    @property
    def full_text(self) -> bool:
        """Whether search uses the FTS5 index (else the LIKE fallback)."""
        return self._fts

    def _open(self, full_text: bool | None) -> None:
        """Check the file without writing to it, then set the pragmas, migrate, and set up search."""
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        check_file(conn, self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.create_function("fimble_lower", 1, lower, deterministic=True)
        migrate(conn)
        self._fts = fts5_available(conn) if full_text is None else full_text
        sync_search_index(conn, self._fts)

    def _transaction(self):
        """Group statements into one immediate transaction (a context manager)."""
        return transaction(self._conn)

    def close(self) -> None:
        """Close the database; later calls raise StoreError. Closing twice is fine."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- conversations -------------------------------------------------------

    @staticmethod
    def _conversation(row: tuple) -> Conversation:
        """Build a Conversation from a row in ``_CONVERSATION_COLUMNS`` order."""
        cid, title, system_prompt, sampling_json, created, updated, deleted = row
        return Conversation(cid, title, system_prompt, json.loads(sampling_json or "{}"),
                            created, updated, deleted)

    def _get_conversation(self, conversation_id: int) -> Conversation:
        """Fetch one conversation, deleted or not."""
        row = self._conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                                 (conversation_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return self._conversation(row)

    def _insert_conversation(self, title: str, system_prompt: str | None, sampling: dict,
                             created_at: float, updated_at: float) -> int:
        """Add a conversation row; return its id."""
        return self._conn.execute(
            "INSERT INTO conversations (title, system_prompt, sampling_json, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?)",
            (title, system_prompt, json.dumps(sampling, sort_keys=True), created_at,
             updated_at)).lastrowid

    def _update_conversation(self, conversation_id: int, **columns) -> None:
        """Set columns of one conversation and touch its ``updated_at``."""
        columns["updated_at"] = self._clock()
        assignments = ", ".join(f"{name} = ?" for name in columns)
        cursor = self._conn.execute(f"UPDATE conversations SET {assignments} WHERE id = ?",
                                    (*columns.values(), conversation_id))
        if cursor.rowcount == 0:
            raise NotFoundError(f"no conversation {conversation_id}")

    @_locked
    def create_conversation(self, title: str = DEFAULT_TITLE, system_prompt: str | None = None,
                            sampling: dict | None = None) -> Conversation:
        """Start an empty conversation.

        Args:
            title: Its title; the default is replaced by the first user message.
            system_prompt: The system prompt, or None for the app's default.
            sampling: Sampling settings as a JSON-able dict.

        Returns:
            The new conversation.
        """
        now = self._clock()
        return self._get_conversation(
            self._insert_conversation(title, system_prompt, sampling or {}, now, now))

    @_locked
    def conversations(self, include_deleted: bool = False) -> list[Conversation]:
        """List conversations, most recently updated first.

        Args:
            include_deleted: Also list soft-deleted ones.

        Returns:
            The conversations.
        """
        where = "" if include_deleted else "WHERE deleted_at IS NULL"
        rows = self._conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {where}"
                                  " ORDER BY updated_at DESC, id DESC").fetchall()
        return [self._conversation(row) for row in rows]

    @_locked
    def conversation(self, conversation_id: int) -> Conversation:
        """Fetch one conversation, even a soft-deleted one.

        Args:
            conversation_id: Its id.

        Returns:
            The conversation.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        return self._get_conversation(conversation_id)

    @_locked
    def rename(self, conversation_id: int, title: str) -> None:
        """Retitle a conversation.

        Args:
            conversation_id: Its id.
            title: The new title.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        self._update_conversation(conversation_id, title=title)

    @_locked
    def set_system_prompt(self, conversation_id: int, text: str | None) -> None:
        """Change a conversation's system prompt.

        Args:
            conversation_id: Its id.
            text: The prompt, or None for the app's default.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        self._update_conversation(conversation_id, system_prompt=text)

    @_locked
    def set_sampling(self, conversation_id: int, sampling: dict) -> None:
        """Change a conversation's sampling settings.

        Args:
            conversation_id: Its id.
            sampling: The settings as a JSON-able dict.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        self._update_conversation(conversation_id,
                                  sampling_json=json.dumps(sampling, sort_keys=True))

    @_locked
    def delete(self, conversation_id: int) -> None:
        """Move a conversation to the bin: hidden from ``conversations`` until undeleted.

        Args:
            conversation_id: Its id.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        cursor = self._conn.execute("UPDATE conversations SET deleted_at = ? WHERE id = ?"
                                    " AND deleted_at IS NULL", (self._clock(), conversation_id))
        if cursor.rowcount == 0:
            self._get_conversation(conversation_id)  # raises if missing; else already deleted

    @_locked
    def undelete(self, conversation_id: int) -> None:
        """Bring a soft-deleted conversation back.

        Args:
            conversation_id: Its id.

        Raises:
            NotFoundError: If there is no such conversation (or it was purged).
        """
        cursor = self._conn.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?",
                                    (conversation_id,))
        if cursor.rowcount == 0:
            raise NotFoundError(f"no conversation {conversation_id}")

    @_locked
    def purge_deleted(self, older_than_s: float = 0) -> int:
        """Delete for good the conversations in the bin and their messages.

        Args:
            older_than_s: Only those deleted at least this many seconds ago.

        Returns:
            How many conversations were purged.
        """
        cursor = self._conn.execute("DELETE FROM conversations WHERE deleted_at <= ?",
                                    (self._clock() - older_than_s,))
        return cursor.rowcount

    # -- messages ------------------------------------------------------------

    @staticmethod
    def _message(row: tuple) -> StoredMessage:
        """Build a StoredMessage from a row in ``_MESSAGE_COLUMNS`` order."""
        mid, cid, role, content, partial, stop_reason, stats_json, position, created = row
        stats = json.loads(stats_json) if stats_json is not None else None
        return StoredMessage(mid, cid, role, content, bool(partial), stop_reason, stats,
                             position, created)

    def _get_message(self, message_id: int) -> StoredMessage:
        """Fetch one message."""
        row = self._conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?",
                                 (message_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no message {message_id}")
        return self._message(row)

    def _insert_message(self, conversation_id: int, role: str, content: str, partial: bool,
                        stop_reason: str | None, stats: dict | None, created_at: float) -> int:
        """Append a message row at the end of a conversation; return its id."""
        if role not in ROLES:
            raise ValueError(f"unknown chat role {role!r}")
        cursor = self._conn.execute(
            "INSERT INTO messages (conversation_id, role, content, partial, stop_reason,"
            " stats_json, position, created_at) VALUES (?, ?, ?, ?, ?, ?, (SELECT"
            " COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?), ?)",
            (conversation_id, role, content, int(partial), stop_reason,
             None if stats is None else json.dumps(stats, sort_keys=True),
             conversation_id, created_at))
        return cursor.lastrowid

    @_locked
    def add_message(self, conversation_id: int, role: str, content: str, *,
                    partial: bool = False) -> StoredMessage:
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
            message_id = self._insert_message(conversation_id, role, content, partial,
                                              None, None, self._clock())
            self._touch_after(conversation, role, content)
        return self._get_message(message_id)

    def _touch_after(self, conversation: Conversation, role: str, content: str) -> None:
        """Title a conversation from its first user message, and touch ``updated_at``."""
        title = title_from_text(content) if role == "user" else ""
        if title and conversation.title == DEFAULT_TITLE:
            self._update_conversation(conversation.id, title=title)
        else:
            self._update_conversation(conversation.id)

    @_locked
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
            user_id = self._insert_message(conversation_id, "user", text, False, None, None,
                                           self._clock())
            answer_id = self._insert_message(conversation_id, "assistant", "", True, None, None,
                                             self._clock())
            self._touch_after(conversation, "user", text)
        return self._get_message(user_id), self._get_message(answer_id)

    @_locked
    def append_to_message(self, message_id: int, text: str) -> None:
        """Add streamed text to the end of a message; cheap enough to call often.

        Args:
            message_id: The message, usually a partial answer.
            text: The text that arrived since the last call.

        Raises:
            NotFoundError: If there is no such message.
        """
        cursor = self._conn.execute("UPDATE messages SET content = content || ? WHERE id = ?",
                                    (text, message_id))
        if cursor.rowcount == 0:
            raise NotFoundError(f"no message {message_id}")

    @_locked
    def finish_message(self, message_id: int, *, content: str | None = None,
                       partial: bool = False, stop_reason: str | None = None,
                       stats: dict | None = None) -> StoredMessage:
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
            self._conn.execute(
                "UPDATE messages SET content = COALESCE(?, content), partial = ?, stop_reason = ?,"
                " stats_json = ? WHERE id = ?",
                (content, int(partial), stop_reason,
                 None if stats is None else json.dumps(stats, sort_keys=True), message_id))
            self._update_conversation(message.conversation_id)
        return self._get_message(message_id)

    @_locked
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
            self._conn.execute("UPDATE messages SET content = ? WHERE id = ?",
                               (content, message_id))
            self._update_conversation(message.conversation_id)

    @_locked
    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """List a conversation's messages in order.

        Args:
            conversation_id: The conversation.

        Returns:
            Its messages, first to last (empty for an unknown id).
        """
        rows = self._conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages"
                                  " WHERE conversation_id = ? ORDER BY position",
                                  (conversation_id,)).fetchall()
        return [self._message(row) for row in rows]

    @_locked
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
            cursor = self._conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position > ?",
                (message.conversation_id, message.position))
            self._update_conversation(message.conversation_id)
        return cursor.rowcount

    @_locked
    def import_conversation(self, conversation: Conversation,
                            messages: Sequence[StoredMessage]) -> Conversation:
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
            new_id = self._insert_conversation(c.title, c.system_prompt, c.sampling,
                                               c.created_at, c.updated_at)
            for m in messages:
                self._insert_message(new_id, m.role, m.content, m.partial, m.stop_reason,
                                     m.stats, m.created_at)
        return self._get_conversation(new_id)

    # -- search --------------------------------------------------------------

    @_locked
    def search(self, query: str, limit: int = 50) -> list[tuple[Conversation, str]]:
        """Find conversations whose title or one message holds every word of a query.

        Words are whitespace-separated and matched as case-insensitive
        substrings; quotes, operators and wildcards are plain text.

        Args:
            query: What the user typed.
            limit: The most conversations returned.

        Returns:
            (conversation, snippet) pairs, most recently updated first; the
            snippet comes from the first matching message, else the title.
            Soft-deleted conversations are left out.
        """
        terms = query.split()
        if not terms or limit < 1:
            return []
        columns = ", ".join(f"c.{name}" for name in _CONVERSATION_FIELDS)
        rows = self._conn.execute(*search_sql(terms, self._fts, columns, limit)).fetchall()
        results = []
        for row in rows:
            conversation = self._conversation(row[:-1])
            text = row[-1] if row[-1] is not None else conversation.title
            results.append((conversation, snippet(text, terms)))
        return results
