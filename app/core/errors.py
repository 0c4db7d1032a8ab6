"""The base of the errors Fimble reports to users, and the kinds they come in.

Every error a person may read (a Hub request, a download, a pull plan, a
quantization, a library change, an engine command) is a ``UserFacingError``
with a ``kind`` from ``ErrorKind`` for code to branch on and one line of text
for people. The subclasses (``HubError``, ``DownloadError``, ...) only name
where the error came from, so ``except`` clauses stay readable.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(str, Enum):
    """Why something failed, as code sees it.

    The values are the short strings used before the enum existed, so a kind
    still compares equal to its string (``ErrorKind.CANCELLED == "cancelled"``)
    and crosses process and signal boundaries as plain text.
    """

    # the network and the Hub
    OFFLINE = "offline"  # no network, the Hub can't be reached, or offline mode is on
    GATED = "gated"  # the repository needs an accepted license and a token
    AUTH = "auth"  # the token is missing or was refused
    NOT_FOUND = "not_found"  # no such repository, revision or file
    HTTP = "http"  # any other Hub answer, or a transfer that broke off
    CHANGED = "changed"  # the file on the Hub is not the one that was listed
    CHECKSUM = "checksum"  # the bytes did not match their sha256 or size
    TLS = "tls"  # the secure connection failed (certificate, protocol)
    BAD_REPLY = "bad_reply"  # a server answered with something that is not its protocol
    # the machine
    DISK_FULL = "disk_full"  # not enough free disk (what was done so far is kept)
    RAM = "ram"  # not enough memory
    BUSY = "busy"  # another Fimble window is making the same file
    # the user
    CANCELLED = "cancelled"
    PAUSED = "paused"
    INPUT = "input"  # a bad file, name, type or path was given
    REQUANTIZE = "requantize"  # the input is already quantized
    # the engine
    BAD_MODEL = "bad_model"
    NO_MODEL = "no_model"
    WRONG_ROLE = "wrong_role"
    CONTEXT_OVERFLOW = "context_overflow"
    BAD_REQUEST = "bad_request"
    LOAD_FAILED = "load_failed"
    LOAD_CANCELLED = "load_cancelled"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    INTERNAL = "internal"
    # anything else: a tool or library failed
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


class UserFacingError(Exception):
    """A failure the user can act on: a ``kind`` for code, one line for people.

    Args:
        kind: An ``ErrorKind``, or its string value.
        message: The one line shown in the window or printed by the CLI.

    Attributes:
        kind: Why it failed.
        message: The one line to show.
    """

    def __init__(self, kind: ErrorKind | str, message: str) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message


def error_kind(exc: BaseException) -> ErrorKind:
    """The kind of any exception: its own for a ``UserFacingError``, ``FAILED`` otherwise."""
    return exc.kind if isinstance(exc, UserFacingError) else ErrorKind.FAILED


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
