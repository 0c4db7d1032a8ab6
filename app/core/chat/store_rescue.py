"""Open the chat store whatever state its file is in, and never delete the file.

A file that is not a sound chat database (random bytes, a truncated or
corrupt database, another program's database, one written by a newer Fimble)
is moved aside under a name with a timestamp, together with its ``-wal``,
``-shm`` and ``-journal`` companions, and a new store is started in its place.
When even that fails (no permission, a read-only folder), the chats of this
session are kept in memory. Either way the caller gets one line to show.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.core.chat.store import ChatStore, StoreError, StoreUnusable

COMPANIONS = ("-wal", "-shm", "-journal")  # sqlite's files beside a database, by suffix
KINDS = ("damaged", "foreign", "newer")


@dataclass
class OpenedStore:
    """The store to use, and what the user must be told about it.

    Attributes:
        store: The open store.
        notice: One line for the window when the store is not simply the
            file asked for; None otherwise.
        moved_to: Where the unusable file now is, when it was moved aside.
    """

    store: ChatStore
    notice: str | None = None
    moved_to: Path | None = None


def aside_name(path: Path, kind: str, when: float) -> Path:
    """Choose a free name beside ``path`` for a file set aside.

    Args:
        path: The database file, e.g. ``chats.sqlite3``.
        kind: Why it is set aside: "damaged", "foreign" or "newer".
        when: The time, in seconds since the epoch.

    Returns:
        e.g. ``chats.sqlite3.damaged-20261129-181500``, with ``-2``, ``-3``…
        added when that name (or one of its companions) is taken.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    base = f"{path.name}.{kind if kind in KINDS else 'damaged'}-{stamp}"
    for number in range(1, 1000):
        name = base if number == 1 else f"{base}-{number}"
        candidate = path.with_name(name)
        if not any(Path(f"{candidate}{suffix}").exists() for suffix in ("", *COMPANIONS)):
            return candidate
    raise FileExistsError(f"no free name for {base} in {path.parent}")


def move_aside(path: Path, kind: str, when: float) -> Path:
    """Rename a database and its companion files out of the way; nothing is deleted.

    Args:
        path: The database file.
        kind: Why: "damaged", "foreign" or "newer".
        when: The time for the new name.

    Returns:
        The database's new path; its companions keep their suffixes on it,
        so sqlite still pairs them.

    Raises:
        OSError: If the database itself cannot be renamed.
    """
    target = aside_name(path, kind, when)
    os.rename(path, target)
    for suffix in COMPANIONS:
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            try:
                os.rename(companion, Path(f"{target}{suffix}"))
            except OSError:
                pass  # the main file is safe; sqlite rebuilds a -shm, a stray -wal is harmless
    return target


def open_chat_store(
    path: Path,
    *,
    now: Callable[[], float] = time.time,
    full_text: bool | None = None,
    clock: Callable[[], float] = time.time,
) -> OpenedStore:
    """Open the chat store at ``path``, setting an unusable file aside.

    Args:
        path: The database file.
        now: Returns the current time (tests replace it).
        full_text: Passed to ``ChatStore``.
        clock: Passed to ``ChatStore``.

    Returns:
        The store, with a notice when the file was moved aside or could not
        be used at all. This never raises for a bad file.
    """
    path = Path(path)

    def in_memory(reason: str) -> OpenedStore:
        return OpenedStore(
            ChatStore.in_memory_store(full_text=full_text, clock=clock),
            _sentence(f"{reason}; chats are kept in memory only until Fimble closes"),
        )

    try:
        return OpenedStore(ChatStore(path, full_text=full_text, clock=clock))
    except StoreUnusable as exc:
        problem = exc
    except StoreError as exc:
        return in_memory(str(exc))
    try:
        moved = move_aside(path, problem.kind, now())
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return in_memory(f"{problem}, and it could not be moved aside ({reason})")
    try:
        store = ChatStore(path, full_text=full_text, clock=clock)
    except StoreError as exc:
        opened = in_memory(f"{problem}: it was moved to {moved}, but a new one could not be started ({exc})")
        opened.moved_to = moved
        return opened
    return OpenedStore(
        store, _sentence(f"{problem}: it was moved to {moved} and a new chat database was started"), moved
    )


def _sentence(text: str) -> str:
    """Start a notice with a capital letter."""
    return text[:1].upper() + text[1:]
