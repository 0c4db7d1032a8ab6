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
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.core.chat_schema import MIGRATIONS, FTS_TABLE, FTS_TRIGGERS

DEFAULT_TITLE = "New chat"
TITLE_MAX_CHARS = 60
ROLES = ("system", "user", "assistant")
SNIPPET_BEFORE = 30
SNIPPET_AFTER = 70
FTS_MIN_TERM = 3  # a trigram index cannot look up anything shorter

_CONVERSATION_FIELDS = ("id", "title", "system_prompt", "sampling_json", "created_at",
                        "updated_at", "deleted_at")
_CONVERSATION_COLUMNS = ", ".join(_CONVERSATION_FIELDS)
_MESSAGE_COLUMNS = ("id, conversation_id, role, content, partial, stop_reason, stats_json,"
                    " position, created_at")


class StoreError(Exception):
    """The chat database cannot be opened or used; the message is one line for the user."""


class NotFoundError(StoreError, LookupError):
    """No conversation or message has the id asked for."""


@dataclass(frozen=True)
class Conversation:
    """One conversation's settings; ``deleted_at`` is set while it sits in the bin."""

    id: int
    title: str
    system_prompt: str | None
    sampling: dict
    created_at: float
    updated_at: float
    deleted_at: float | None = None


@dataclass(frozen=True)
class StoredMessage:
    """One turn; ``partial`` marks an answer that stopped (or is still streaming)."""

    id: int
    conversation_id: int
    role: str
    content: str
    partial: bool
    stop_reason: str | None
    stats: dict | None
    position: int
    created_at: float


def title_from_text(text: str) -> str:
    """Make a conversation title from a message.

    Args:
        text: The message, usually the user's first.

    Returns:
        Its first non-blank line with whitespace collapsed, cut to
        ``TITLE_MAX_CHARS`` with an ellipsis; "" when the text is blank.
    """
    line = next((" ".join(part.split()) for part in text.splitlines() if part.strip()), "")
    if len(line) > TITLE_MAX_CHARS:
        line = line[:TITLE_MAX_CHARS - 1].rstrip() + "…"
    return line


def _like_pattern(term: str) -> str:
    """Quote LIKE's wildcards so a term matches itself as a substring."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _lower(value: str | None) -> str | None:
    """Lower-case text for LIKE, which folds ASCII letters only."""
    return value.lower() if isinstance(value, str) else value


def _snippet(text: str, terms: Sequence[str]) -> str:
    """Cut a one-line excerpt of ``text`` around the first term found in it."""
    found = [m for t in terms if (m := re.search(re.escape(t), text, re.IGNORECASE))]
    start = min((m.start() for m in found), default=0)
    begin = max(0, start - SNIPPET_BEFORE)
    end = min(len(text), start + SNIPPET_AFTER)
    excerpt = " ".join(text[begin:end].split())
    return ("…" if begin > 0 else "") + excerpt + ("…" if end < len(text) else "")


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
                raise StoreError(f"the chat database failed: {exc}") from exc
    return wrapper


class ChatStore:
    """Conversations and messages in one sqlite file, safe to share between threads.

    Args:
        path: The database file; it and its folder are created if missing.
        full_text: Use the FTS5 index for search: None detects whether this
            sqlite build has FTS5 with the trigram tokenizer, False forces the
            ``LIKE`` fallback.
        clock: Returns the current time in seconds (tests replace it).

    Raises:
        StoreError: If the file is not a usable chat database, or was written
            by a newer Fimble.
    """

    def __init__(self, path: Path, *, full_text: bool | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False,
                                         isolation_level=None)
            self._open(full_text)
        except (sqlite3.Error, OSError, StoreError) as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if isinstance(exc, StoreError):
                raise
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(f"cannot open the chat database {self.path}: {reason}") from exc

    @property
    def full_text(self) -> bool:
        """Whether search uses the FTS5 index (else the LIKE fallback)."""
        return self._fts

    def _open(self, full_text: bool | None) -> None:
        """Check the version, set the pragmas, migrate, and set up search."""
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError("the chat database was written by a newer Fimble"
                             f" (schema v{version})")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.create_function("fimble_lower", 1, _lower, deterministic=True)
        for number in range(version + 1, len(MIGRATIONS) + 1):
            self._run_script(MIGRATIONS[number - 1] + f"\nPRAGMA user_version = {number};")
        self._fts = self._fts5_available() if full_text is None else full_text
        self._sync_search_index()

    def _run_script(self, sql: str) -> None:
        """Run several statements as one transaction."""
        try:
            self._conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def _fts5_available(self) -> bool:
        """Whether this sqlite build can make an FTS5 trigram table."""
        try:
            self._conn.execute("CREATE VIRTUAL TABLE temp.fimble_probe"
                               " USING fts5(x, tokenize='trigram')")
        except sqlite3.OperationalError:
            return False
        self._conn.execute("DROP TABLE temp.fimble_probe")
        return True

    def _sync_search_index(self) -> None:
        """Create and fill the FTS index, or drop its triggers when FTS is off."""
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                  " AND name LIKE 'messages\\_fts\\_%' ESCAPE '\\'").fetchall()
        triggers = {name for (name,) in rows}
        if self._fts and triggers != set(FTS_TRIGGERS):
            # New, or stale after a build without FTS5 wrote here: rebuild from messages.
            drops = "".join(f"DROP TRIGGER {name};\n" for name in triggers)
            self._run_script(drops + FTS_TABLE + "".join(FTS_TRIGGERS.values())
                             + "\nINSERT INTO messages_fts(messages_fts) VALUES ('rebuild');")
        elif not self._fts and triggers:
            self._run_script("".join(f"DROP TRIGGER {name};\n" for name in triggers))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Group statements into one immediate transaction."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

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
            title = title_from_text(content) if role == "user" else ""
            if title and conversation.title == DEFAULT_TITLE:
                self._update_conversation(conversation_id, title=title)
            else:
                self._update_conversation(conversation_id)
        return self._get_message(message_id)

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
        # FTS5 query strings end at a NUL, so such terms go through LIKE too.
        long_terms = [t for t in terms
                      if self._fts and len(t) >= FTS_MIN_TERM and "\x00" not in t]
        likes = [t for t in terms if t not in long_terms]
        like_sql = "".join(" AND fimble_lower(m.content) LIKE ? ESCAPE '\\'" for _ in likes)
        params: list = [_like_pattern(t) for t in likes]
        if long_terms:
            source = "messages_fts JOIN messages AS m ON m.id = messages_fts.rowid"
            where = "messages_fts MATCH ?" + like_sql
            params.insert(0, " AND ".join('"' + t.replace('"', '""') + '"' for t in long_terms))
        else:
            source, where = "messages AS m", "1" + like_sql
        title_sql = " AND ".join("fimble_lower(c.title) LIKE ? ESCAPE '\\'" for _ in terms)
        params += [_like_pattern(t) for t in terms] + [limit]
        columns = ", ".join(f"c.{name}" for name in _CONVERSATION_FIELDS)
        rows = self._conn.execute(
            f"WITH hits AS (SELECT m.conversation_id AS cid, MIN(m.position), m.content AS text"
            f" FROM {source} WHERE {where} GROUP BY m.conversation_id)"
            f" SELECT {columns}, hits.text FROM conversations AS c"
            " LEFT JOIN hits ON hits.cid = c.id"
            f" WHERE c.deleted_at IS NULL AND (hits.cid IS NOT NULL OR ({title_sql}))"
            " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?", params).fetchall()
        results = []
        for row in rows:
            conversation = self._conversation(row[:-1])
            text = row[-1] if row[-1] is not None else conversation.title
            results.append((conversation, _snippet(text, terms)))
        return results
