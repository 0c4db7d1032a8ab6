"""The base of the errors the model manager reports to users."""

from __future__ import annotations


class UserFacingError(Exception):
    """A failure the user can act on: a ``kind`` for code, one line for people.

    Attributes:
        kind: A short machine-readable reason, e.g. ``gated`` or ``disk_full``.
        message: The one line shown in the window or printed by the CLI.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
