"""What every part of ``ChatStore`` shares: the connection, the lock, the clock and conversation rows.

``ChatStore`` (in ``store``) opens the connection and sets these attributes;
``MessageMethods`` (in ``messages``) and the store itself build on this class,
so each part is type-checked against the same attributes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from app.core.chat.records import Conversation, JsonObject, NotFoundError, Row, StoreError
from app.core.chat.store_setup import transaction

CONVERSATION_FIELDS = ("id", "title", "system_prompt", "sampling_json", "created_at", "updated_at", "deleted_at")
CONVERSATION_COLUMNS = ", ".join(CONVERSATION_FIELDS)

# A value for one column of ``conversations``.
Column = str | float | None


class StoreBase:
    """The state the store's parts share; it is not used on its own.

    Attributes:
        path: The database file (``MEMORY`` for a store in memory).
        in_memory: Whether nothing outlives the store.
    """

    path: Path
    in_memory: bool
    _lock: threading.Lock
    _conn: sqlite3.Connection | None
    _clock: Callable[[], float]
    _fts: bool

    @property
    def _db(self) -> sqlite3.Connection:
        """The open connection; methods run under ``locked``, which has checked it is open."""
        if self._conn is None:
            raise StoreError("the chat store is closed")
        return self._conn

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Group statements into one immediate transaction."""
        return transaction(self._db)

    @staticmethod
    def _inserted(cursor: sqlite3.Cursor) -> int:
        """The id of the row an INSERT just added."""
        if cursor.lastrowid is None:
            raise StoreError("the chat database did not return the new row's id")
        return cursor.lastrowid

    @staticmethod
    def _conversation(row: Row) -> Conversation:
        """Build a Conversation from a row in ``CONVERSATION_COLUMNS`` order."""
        cid, title, system_prompt, sampling_json, created, updated, deleted = row
        return Conversation(cid, title, system_prompt, json.loads(sampling_json or "{}"), created, updated, deleted)

    def _get_conversation(self, conversation_id: int) -> Conversation:
        """Fetch one conversation, deleted or not."""
        row = self._db.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no conversation {conversation_id}")
        return self._conversation(row)

    def _insert_conversation(
        self, title: str, system_prompt: str | None, sampling: JsonObject, created_at: float, updated_at: float
    ) -> int:
        """Add a conversation row; return its id."""
        return self._inserted(
            self._db.execute(
                "INSERT INTO conversations (title, system_prompt, sampling_json, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                (title, system_prompt, json.dumps(sampling, sort_keys=True), created_at, updated_at),
            )
        )

    def _update_conversation(self, conversation_id: int, **columns: Column) -> None:
        """Set columns of one conversation and touch its ``updated_at``."""
        columns["updated_at"] = self._clock()
        assignments = ", ".join(f"{name} = ?" for name in columns)
        cursor = self._db.execute(
            f"UPDATE conversations SET {assignments} WHERE id = ?", (*columns.values(), conversation_id)
        )
        if cursor.rowcount == 0:
            raise NotFoundError(f"no conversation {conversation_id}")
