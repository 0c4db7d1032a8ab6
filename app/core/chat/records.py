"""What the chat store holds and how it fails: records, titles, and errors.

``store`` re-exports the records, the titles and the errors, so callers import them from there.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Protocol, TypeAlias, TypeVar

from app.core.errors import one_line

DEFAULT_TITLE = "New chat"
TITLE_MAX_CHARS = 60
MESSAGE_ROLES = ("system", "user", "assistant")  # who said a message (not a model's role)

# What JSON holds: sampling settings and generation statistics are stored as such.
JsonValue: TypeAlias = "None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]"
JsonObject: TypeAlias = "dict[str, JsonValue]"
# A row as sqlite returns it; the schema, not the type system, fixes each column's type.
Row: TypeAlias = "tuple[Any, ...]"

# sqlite's primary result codes (the low byte of an extended code).
_CORRUPT, _FULL, _NOTADB = 11, 13, 26


class StoreError(Exception):
    """The chat database cannot be opened or used; the message is one line for the user."""


class NotFoundError(StoreError, LookupError):
    """No conversation or message has the id asked for."""


class StoreUnusable(StoreError):
    """The file is not a chat database this Fimble can use; no write was made to it.

    Attributes:
        kind: "damaged" (not a database, or a corrupt one), "foreign" (a
            database of some other program) or "newer" (written by a newer
            Fimble).
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class StoreFull(StoreError):
    """The disk (or the database's size cap) is full; nothing of the failed call was written."""


@dataclass(frozen=True)
class Conversation:
    """One conversation's settings; ``deleted_at`` is set while it sits in the bin."""

    id: int
    title: str
    system_prompt: str | None
    sampling: JsonObject
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
    stats: JsonObject | None
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
        line = line[: TITLE_MAX_CHARS - 1].rstrip() + "…"
    return line


def _primary_code(exc: sqlite3.Error) -> int | None:
    """Return sqlite's primary result code for an error, from its code or its text."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11 and later
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc)
    for needle, primary in (("not a database", _NOTADB), ("malformed", _CORRUPT), ("disk is full", _FULL)):
        if needle in text:
            return primary
    return None


def is_damage(exc: sqlite3.Error) -> bool:
    """Tell whether a sqlite error means the file itself is not a sound database.

    Args:
        exc: The error sqlite raised.

    Returns:
        True for "file is not a database" and "database disk image is
        malformed"; False for errors of access, locking, space and the like.
    """
    return _primary_code(exc) in (_CORRUPT, _NOTADB)


def error_from_sqlite(exc: sqlite3.Error, path: Path, doing: str) -> StoreError:
    """Turn a sqlite error into a one-line StoreError for the user.

    Args:
        exc: The error sqlite raised.
        path: The database file.
        doing: What failed, e.g. "use" or "open".

    Returns:
        StoreFull when the disk is full, else a plain StoreError.
    """
    reason = one_line(exc)
    if _primary_code(exc) == _FULL:
        return StoreFull(f"disk full: cannot save to the chat database {path} ({reason})")
    if is_damage(exc):
        return StoreError(f"the chat database {path} is damaged ({reason}); Fimble sets it aside at the next start")
    return StoreError(f"cannot {doing} the chat database {path}: {reason}")


class Lockable(Protocol):
    """What ``locked`` needs of the object whose method it wraps."""

    path: Path
    _lock: threading.Lock
    _conn: sqlite3.Connection | None


_Store = TypeVar("_Store", bound=Lockable)
_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def locked(
    method: Callable[Concatenate[_Store, _Params], _Result],
) -> Callable[Concatenate[_Store, _Params], _Result]:
    """Run a ChatStore method under its lock and turn sqlite errors into StoreError.

    Args:
        method: A method of ``ChatStore`` (or of a class it inherits from).

    Returns:
        The wrapped method.
    """

    @functools.wraps(method)
    def wrapper(self: _Store, /, *args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        with self._lock:
            if self._conn is None:
                raise StoreError("the chat store is closed")
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise error_from_sqlite(exc, self.path, "use") from exc

    return wrapper
