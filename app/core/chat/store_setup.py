"""Opening a chat database: check it without writing, migrate it, and set up search.

These work on a bare ``sqlite3.Connection`` in autocommit mode
(``isolation_level=None``); ``ChatStore`` calls them while it opens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.chat.records import StoreUnusable
from app.core.chat.schema import FTS_TABLE, FTS_TRIGGERS, MIGRATIONS, REQUIRED_COLUMNS

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_header(path: Path) -> None:
    """Refuse a file that is not a sqlite database before sqlite opens it.

    sqlite, closing a connection to such a file, deletes the ``-wal`` and
    ``-shm`` files beside it; checking first keeps them for the user.

    Args:
        path: The database file; a missing or empty one passes.

    Raises:
        StoreUnusable: If the file does not start like a sqlite database.
        OSError: If it cannot be read.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    if head and head != SQLITE_MAGIC:
        raise StoreUnusable(f"the chat database {path} is damaged: file is not a database", "damaged")


def statements(script: str) -> Iterator[str]:
    """Split a SQL script into its statements.

    Args:
        script: Statements separated by semicolons; a trigger's body stays whole.

    Yields:
        Each non-empty statement, with its semicolon.
    """
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \t\n;"):
                yield statement
            statement = ""


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Group statements into one immediate transaction, rolled back on any error.

    Args:
        conn: The connection.

    Yields:
        The same connection, holding the write lock.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # sqlite may have rolled back already (e.g. on a full disk)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _newer(version: int) -> StoreUnusable:
    return StoreUnusable(f"the chat database was written by a newer Fimble (schema v{version})", "newer")


def check_file(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a database this Fimble must not use; reads one snapshot and writes nothing.

    An empty file, or one with no schema at all, passes: it becomes a new store.

    Args:
        conn: A new connection to the file.
        path: The file, for the messages.

    Raises:
        StoreUnusable: If it was written by a newer Fimble, holds another
            program's tables, or fails sqlite's structural check.
        sqlite3.Error: If it cannot be read at all (sqlite's "file is not a
            database" among them).
    """
    conn.execute("BEGIN")  # one snapshot: another window may be creating the schema meanwhile
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise _newer(version)
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            )
        ]
        if version == 0 and names:
            shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
            raise StoreUnusable(f"{path} is not a Fimble chat database (it holds {shown})", "foreign")
        for table, needed in REQUIRED_COLUMNS.items() if version else ():
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if not needed <= have:
                raise StoreUnusable(
                    f"{path} is not a Fimble chat database (its {table} table is missing or different)", "foreign"
                )
        # Every page, so that a truncated or scribbled-on file is caught now, not mid-chat.
        problem = conn.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise StoreUnusable(f"the chat database {path} is damaged: {problem}", "damaged")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def migrate(conn: sqlite3.Connection) -> None:
    """Run the missing migrations, each in its own transaction.

    The version is read again under the write lock, so two windows opening a
    new file at once do not both create the schema.

    Args:
        conn: The connection.

    Raises:
        StoreUnusable: If a newer Fimble migrated the file meanwhile.
        sqlite3.Error: If a step fails; that step leaves no trace.
    """
    while True:
        with transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise _newer(version)
            if version == len(MIGRATIONS):
                return
            for statement in statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")


def fts5_available(conn: sqlite3.Connection) -> bool:
    """Tell whether this sqlite build can make an FTS5 trigram table.

    Args:
        conn: Any connection.

    Returns:
        True if it can.
    """
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.fimble_probe USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError:
        return False
    conn.execute("DROP TABLE temp.fimble_probe")
    return True


def _search_triggers(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'messages\\_fts\\_%' ESCAPE '\\'"
    ).fetchall()
    return {name for (name,) in rows}


def _stale(triggers: set[str], full_text: bool) -> bool:
    return triggers != set(FTS_TRIGGERS) if full_text else bool(triggers)


def sync_search_index(conn: sqlite3.Connection, full_text: bool) -> None:
    """Create and fill the FTS index, or drop its triggers when FTS is off.

    Args:
        conn: The connection, on a migrated database.
        full_text: Whether this store searches with FTS5.
    """
    if not _stale(_search_triggers(conn), full_text):
        return
    with transaction(conn):
        triggers = _search_triggers(conn)  # again, under the write lock
        if not _stale(triggers, full_text):
            return
        for name in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        if full_text:
            # New, or stale after a build without FTS5 wrote here: rebuild from messages.
            conn.execute(FTS_TABLE)
            for trigger in FTS_TRIGGERS.values():
                conn.execute(trigger)
            conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
