"""The chat pane's conversations and messages, kept in one sqlite file.

Every method commits before it returns, so what the app has written survives a
crash, including a half-streamed answer. The schema is versioned with
``PRAGMA user_version`` and grows through ``MIGRATIONS``. Message text is
searched with an FTS5 trigram index when this sqlite build has one, and with
``LIKE`` otherwise; both find case-insensitive substrings.

Opening checks the file before writing anything to it (``store_setup``):
a file that is not a sound chat database raises ``StoreUnusable`` and is left
exactly as it was, for ``store_rescue`` to set aside. Several windows
may share the file: it is in WAL mode, writes wait for each other, and the
schema is created under the write lock. A full disk raises ``StoreFull`` and
leaves nothing of the failed call behind. Messages live in ``messages``; the shared state in ``store_base``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.core.chat.messages import MessageMethods
from app.core.chat.records import (
    DEFAULT_TITLE,
    MESSAGE_ROLES,
    TITLE_MAX_CHARS,
    Conversation,
    JsonObject,
    NotFoundError,
    StoredMessage,
    StoreError,
    StoreFull,
    StoreUnusable,
    is_damage,
    locked,
    title_from_text,
)
from app.core.chat.schema import MIGRATIONS
from app.core.chat.search import lower, search_sql, snippet
from app.core.chat.store_base import CONVERSATION_COLUMNS, CONVERSATION_FIELDS
from app.core.chat.store_setup import check_file, check_header, fts5_available, migrate, sync_search_index
from app.core.errors import one_line

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DEFAULT_TITLE",
    "MEMORY",
    "MIGRATIONS",
    "MESSAGE_ROLES",
    "TITLE_MAX_CHARS",
    "ChatStore",
    "Conversation",
    "NotFoundError",
    "StoredMessage",
    "StoreError",
    "StoreFull",
    "StoreUnusable",
    "title_from_text",
]

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another window's write to end
MEMORY = ":memory:"  # the path of a store that lives in memory only


class ChatStore(MessageMethods):
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

    def __init__(
        self, path: Path | str, *, full_text: bool | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.in_memory = str(path) == MEMORY
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            if not self.in_memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                check_header(self.path)
            self._conn = sqlite3.connect(
                MEMORY if self.in_memory else self.path,
                check_same_thread=False,
                isolation_level=None,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            self._open(full_text)
        except (sqlite3.Error, OSError, StoreError) as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if isinstance(exc, StoreError):
                raise
            reason = one_line(exc)
            if isinstance(exc, sqlite3.Error) and is_damage(exc):
                raise StoreUnusable(f"the chat database {self.path} is damaged: {reason}", "damaged") from exc
            raise StoreError(f"cannot open the chat database {self.path}: {reason}") from exc

    @classmethod
    def in_memory_store(cls, *, full_text: bool | None = None, clock: Callable[[], float] = time.time) -> ChatStore:
        """Open an empty store kept in memory, for when no file can be used.

        Args:
            full_text: As for the constructor.
            clock: As for the constructor.

        Returns:
            The store; its conversations end with it.
        """
        return cls(MEMORY, full_text=full_text, clock=clock)

    @property
    def full_text(self) -> bool:
        """Whether search uses the FTS5 index (else the LIKE fallback)."""
        return self._fts

    def _open(self, full_text: bool | None) -> None:
        """Check the file without writing to it, then set the pragmas, migrate, and set up search."""
        conn = self._db
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        check_file(conn, self.path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.create_function("fimble_lower", 1, lower, deterministic=True)
        migrate(conn)
        self._fts = fts5_available(conn) if full_text is None else full_text
        sync_search_index(conn, self._fts)

    def close(self) -> None:
        """Close the database; later calls raise StoreError. Closing twice is fine."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- conversations -------------------------------------------------------

    @locked
    def create_conversation(
        self, title: str = DEFAULT_TITLE, system_prompt: str | None = None, sampling: JsonObject | None = None
    ) -> Conversation:
        """Start an empty conversation.

        Args:
            title: Its title; the default is replaced by the first user message.
            system_prompt: The system prompt, or None for the app's default.
            sampling: Sampling settings as a JSON-able dict.

        Returns:
            The new conversation.
        """
        now = self._clock()
        return self._get_conversation(self._insert_conversation(title, system_prompt, sampling or {}, now, now))

    @locked
    def conversations(self, include_deleted: bool = False) -> list[Conversation]:
        """List conversations, most recently updated first.

        Args:
            include_deleted: Also list soft-deleted ones.

        Returns:
            The conversations.
        """
        where = "" if include_deleted else "WHERE deleted_at IS NULL"
        rows = self._db.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations {where} ORDER BY updated_at DESC, id DESC"
        ).fetchall()
        return [self._conversation(row) for row in rows]

    @locked
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

    @locked
    def rename(self, conversation_id: int, title: str) -> None:
        """Retitle a conversation.

        Args:
            conversation_id: Its id.
            title: The new title.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        self._update_conversation(conversation_id, title=title)

    @locked
    def set_system_prompt(self, conversation_id: int, text: str | None) -> None:
        """Change a conversation's system prompt.

        Args:
            conversation_id: Its id.
            text: The prompt, or None for the app's default.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        self._update_conversation(conversation_id, system_prompt=text)

    @locked
    def set_sampling(self, conversation_id: int, sampling: JsonObject) -> None:
        """Change a conversation's sampling settings.

        Args:
            conversation_id: Its id.
            sampling: The settings as a JSON-able dict.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        self._update_conversation(conversation_id, sampling_json=json.dumps(sampling, sort_keys=True))

    @locked
    def delete(self, conversation_id: int) -> None:
        """Move a conversation to the bin: hidden from ``conversations`` until undeleted.

        Args:
            conversation_id: Its id.

        Raises:
            NotFoundError: If there is no such conversation.
        """
        cursor = self._db.execute(
            "UPDATE conversations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
            (self._clock(), conversation_id),
        )
        if cursor.rowcount == 0:
            self._get_conversation(conversation_id)  # raises if missing; else already deleted

    @locked
    def undelete(self, conversation_id: int) -> None:
        """Bring a soft-deleted conversation back.

        Args:
            conversation_id: Its id.

        Raises:
            NotFoundError: If there is no such conversation (or it was purged).
        """
        cursor = self._db.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))
        if cursor.rowcount == 0:
            raise NotFoundError(f"no conversation {conversation_id}")

    @locked
    def purge_deleted(self, older_than_s: float = 0) -> int:
        """Delete for good the conversations in the bin and their messages.

        Args:
            older_than_s: Only those deleted at least this many seconds ago.

        Returns:
            How many conversations were purged.
        """
        cursor = self._db.execute("DELETE FROM conversations WHERE deleted_at <= ?", (self._clock() - older_than_s,))
        return cursor.rowcount

    # -- search --------------------------------------------------------------

    @locked
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
        columns = ", ".join(f"c.{name}" for name in CONVERSATION_FIELDS)
        rows = self._db.execute(*search_sql(terms, self._fts, columns, limit)).fetchall()
        results: list[tuple[Conversation, str]] = []
        for row in rows:
            conversation = self._conversation(row[:-1])
            text = row[-1] if row[-1] is not None else conversation.title
            results.append((conversation, snippet(text, terms)))
        return results
