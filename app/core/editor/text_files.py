"""Open and save text files for the code editor without surprises.

Reading refuses what an editor should not open (folders, huge files, binary
files) with a plain-language ``FileRefused``. It remembers how the file was
stored (encoding, byte order mark, newline style) so that saving writes the
same kind of bytes back. Saving never switches encodings behind the user's
back: a character the file's encoding cannot hold raises ``EncodingMismatch``
and the file on disk is left as it was. Writes are atomic.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from app.core.files import write_bytes_atomic

MAX_FILE_BYTES = 5 * 1024 * 1024
SNIFF_BYTES = 8 * 1024
NEWLINES = ("\n", "\r\n", "\r")

# Longest first, so that UTF-32-LE is not mistaken for UTF-16-LE.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LABELS = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32-le": "UTF-32 LE",
    "utf-32-be": "UTF-32 BE",
    "cp1252": "Windows-1252",
    "iso8859-1": "Latin-1",
}
# Control characters that do not occur in text; tab, newlines, form feed,
# vertical tab and escape (ANSI colours in logs) are allowed.
_CONTROL = frozenset(chr(c) for c in (*range(0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F))
_BINARY_SHARE = 0.10


class FileRefused(ValueError):
    """A file cannot be opened or saved; the message is one plain sentence."""


class EncodingMismatch(ValueError):
    """The text holds a character that the file's encoding cannot store.

    Attributes:
        line: 1-based line number of the first such character.
        char: The character itself.
        encoding: The encoding that cannot store it.
    """

    def __init__(self, message: str, *, line: int, char: str, encoding: str) -> None:
        super().__init__(message)
        self.line = line
        self.char = char
        self.encoding = encoding


@dataclass(frozen=True)
class TextDocument:
    """A text file as opened: its text with "\\n" newlines, and how it was stored."""

    path: Path
    text: str
    encoding: str
    newline: str
    bom: bool
    notice: str | None = None


def describe_encoding(encoding: str) -> str:
    """Return a readable name for a codec, e.g. "Windows-1252" for "cp1252"."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return encoding
    return _LABELS.get(name, name.upper())


def read_text_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> TextDocument:
    """Read a text file for editing.

    Args:
        path: The file to open.
        max_bytes: Files larger than this are refused.

    Returns:
        The document; ``notice`` is set when the file is not plain UTF-8.

    Raises:
        FileRefused: The path is missing, a folder, not a regular file,
            unreadable, over ``max_bytes``, or looks binary.
    """
    path = Path(path)
    name = path.name or str(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise FileRefused(f"{name} is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise FileRefused(_too_big(name, info.st_size, max_bytes))
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise FileRefused(f"{name} does not exist") from None
    except OSError as exc:
        raise FileRefused(f"cannot read {name}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:  # it grew after the size check
        raise FileRefused(_too_big(name, len(data), max_bytes))
    text, encoding, bom = _decode(data, name)
    newline = _dominant_newline(text)
    notice = None
    if encoding != "utf-8":
        label = describe_encoding(encoding)
        notice = f"{name} is not UTF-8: opened as {label} and will be saved as {label}"
    return TextDocument(path, _normalise(text), encoding, newline, bom, notice)


def write_text_file(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", newline: str = "\n", bom: bool = False
) -> None:
    """Save text atomically in the file's own encoding and newline style.

    Args:
        path: The file to write; a symbolic link is followed.
        text: The text, with "\\n" newlines.
        encoding: The codec to encode with, normally ``TextDocument.encoding``.
        newline: "\\n", "\\r\\n" or "\\r"; every newline is written this way.
        bom: Start the file with the encoding's byte order mark.

    Raises:
        EncodingMismatch: A character cannot be stored in ``encoding``; the
            file on disk is untouched.
        FileRefused: The file is read-only or cannot be written.
        ValueError: ``newline`` is not one of the three styles.
    """
    if newline not in NEWLINES:
        raise ValueError(f"unknown newline style {newline!r}")
    target = Path(os.path.realpath(path))
    data = _encode(_normalise(text), encoding, newline, bom)
    try:
        info = target.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise FileRefused(f"cannot save {target.name}: {exc.strerror or exc}") from exc
    if info is not None and not os.access(target, os.W_OK):
        raise FileRefused(f"cannot save {target.name}: the file is read-only")
    try:
        _replace_atomically(target, data, info)
    except OSError as exc:
        raise FileRefused(f"cannot save {target.name}: {exc.strerror or exc}") from exc


def _too_big(name: str, size: int, limit: int) -> str:
    """Return the message for a file over the size limit."""
    return f"{name} is {_human_size(size)}; Fimble opens files up to {_human_size(limit)}"


def _human_size(size: int) -> str:
    """Format a byte count as "12.3 MB", "5 MB", "40 KB" or "900 bytes"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            value = f"{size / scale:.1f}".removesuffix(".0")
            return f"{value} {unit}"
    return f"{size} bytes"


def _decode(data: bytes, name: str) -> tuple[str, str, bool]:
    """Return (text, encoding, bom) for raw bytes, or refuse binary data."""
    binary = FileRefused(f"{name} looks like a binary file, not text")
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            try:
                text = data[len(mark) :].decode(encoding)
            except UnicodeDecodeError:
                raise binary from None
            if _looks_binary(text[:SNIFF_BYTES]):
                raise binary
            return text, encoding, True
    if _looks_binary(data[:SNIFF_BYTES].decode("latin-1")):
        raise binary
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding, False
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1", False


def _looks_binary(sample: str) -> bool:
    """Return True for a NUL or a high share of non-text control characters."""
    if "\x00" in sample:
        return True
    if not sample:
        return False
    control = sum(1 for char in sample if char in _CONTROL)
    return control / len(sample) > _BINARY_SHARE


def _dominant_newline(text: str) -> str:
    """Return the most common newline style; "\\n" when there is none or a tie."""
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    return max(NEWLINES, key=lambda style: counts[style])


def _normalise(text: str) -> str:
    """Turn every newline style into "\\n"."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _encode(text: str, encoding: str, newline: str, bom: bool) -> bytes:
    """Encode text with the given newline style, or raise EncodingMismatch."""
    text = text.replace("\n", newline)
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        line = text.count(newline, 0, exc.start) + 1
        label = describe_encoding(encoding)
        raise EncodingMismatch(
            f"line {line} has {char!r} (U+{ord(char):04X}), which {label} cannot store",
            line=line,
            char=char,
            encoding=encoding,
        ) from exc
    if bom:
        name = codecs.lookup(encoding).name
        body = next((mark for mark, codec in _BOMS if codec == name), b"") + body
    return body


def _replace_atomically(target: Path, data: bytes, info: os.stat_result | None) -> None:
    """Write data beside target, then move it over target, keeping target's permissions."""
    write_bytes_atomic(target, data, keep_mode=info is not None)
