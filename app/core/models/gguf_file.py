"""Read and check a GGUF file's header without loading its weights.

llama.cpp aborts its whole process on some malformed files, so Fimble checks
the structure first: magic, version, counts, every key and tensor record, and
that every tensor's data lies inside the file. Type tables come from the
``gguf`` package. The header is parsed here rather than with
``gguf.GGUFReader``, which needs seconds for a 262k-token vocabulary.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

MAX_VERSION = 3
# Sanity bounds far above any real model, so a corrupt count fails fast.
MAX_TENSORS = 1 << 20
MAX_KEYS = 1 << 16
MAX_DIMS = 8

_SCALARS: dict[int, str] = {
    gguf.GGUFValueType.UINT8: "<B",
    gguf.GGUFValueType.INT8: "<b",
    gguf.GGUFValueType.UINT16: "<H",
    gguf.GGUFValueType.INT16: "<h",
    gguf.GGUFValueType.UINT32: "<I",
    gguf.GGUFValueType.INT32: "<i",
    gguf.GGUFValueType.FLOAT32: "<f",
    gguf.GGUFValueType.BOOL: "<?",
    gguf.GGUFValueType.UINT64: "<Q",
    gguf.GGUFValueType.INT64: "<q",
    gguf.GGUFValueType.FLOAT64: "<d",
}


class GGUFError(ValueError):
    """The file is not a usable GGUF; the message is one plain line."""


@dataclass(frozen=True)
class TensorRecord:
    """Where one tensor lives and what it holds."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the data section
    nbytes: int

    @property
    def elements(self) -> int:
        """Number of values in the tensor."""
        count = 1
        for dim in self.shape:
            count *= dim
        return count


@dataclass
class GGUFFile:
    """The parsed header: metadata, tensor records and layout."""

    path: Path
    version: int
    size_bytes: int
    metadata: dict[str, object]
    tensors: list[TensorRecord] = field(default_factory=list)
    data_offset: int = 0

    def get(self, key: str, default: object = None) -> object:
        """Return a metadata value, or ``default``."""
        return self.metadata.get(key, default)

    def get_int(self, key: str) -> int | None:
        """Return an integer metadata value; None when missing or not an integer."""
        value = self.metadata.get(key)
        return value if isinstance(value, int) else None

    def get_str(self, key: str) -> str | None:
        """Return a string metadata value; None when missing or not a string."""
        value = self.metadata.get(key)
        return value if isinstance(value, str) else None

    def get_strings(self, key: str) -> list[str]:
        """Return an array of strings; empty when missing or not an array of strings."""
        value = self.metadata.get(key)
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return []

    def get_list(self, key: str) -> list[object]:
        """Return an array metadata value; empty when missing or not an array."""
        value = self.metadata.get(key)
        return list(value) if isinstance(value, list) else []


class _Cursor:
    def __init__(self, buffer: mmap.mmap | bytes, size: int) -> None:
        self.buffer, self.size, self.pos = buffer, size, 0

    def _unpack(self, fmt: str) -> tuple[Any, ...]:
        width = struct.calcsize(fmt)
        if self.pos + width > self.size:
            raise GGUFError("the file ends in the middle of its header (truncated download?)")
        values = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += width
        return values

    def take(self, fmt: str) -> object:
        """One scalar of struct format ``fmt``."""
        value: object = self._unpack(fmt)[0]
        return value

    def integer(self, fmt: str) -> int:
        """One integer of struct format ``fmt`` (a count, a length, a type id)."""
        return int(self._unpack(fmt)[0])

    def string(self) -> str:
        length = self.integer("<Q")
        if self.pos + length > self.size:
            raise GGUFError("the file ends in the middle of its header (truncated download?)")
        raw = self.buffer[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def value(self, kind: int) -> object:
        if kind == gguf.GGUFValueType.STRING:
            return self.string()
        if kind == gguf.GGUFValueType.ARRAY:
            item_kind, count = self.integer("<I"), self.integer("<Q")
            if count > self.size:
                raise GGUFError("a metadata array claims more items than the file has bytes")
            return self.array(item_kind, count)
        fmt = _SCALARS.get(kind)
        if fmt is None:
            raise GGUFError(f"unknown metadata value type {kind} (corrupt file?)")
        return self.take(fmt)

    def array(self, kind: int, count: int) -> list[object] | list[str]:
        fmt = _SCALARS.get(kind)
        if fmt is not None:
            width = struct.calcsize(fmt)
            if self.pos + width * count > self.size:
                raise GGUFError("the file ends in the middle of its header (truncated download?)")
            values = list(struct.unpack_from(f"<{count}{fmt[1]}", self.buffer, self.pos))
            self.pos += width * count
            return values
        if kind == gguf.GGUFValueType.STRING:
            return self._strings(count)
        return [self.value(kind) for _ in range(count)]

    def _strings(self, count: int) -> list[str]:
        buffer, size, pos = self.buffer, self.size, self.pos
        unpack = struct.Struct("<Q").unpack_from
        out: list[str] = []
        append = out.append
        for _ in range(count):
            if pos + 8 > size:
                raise GGUFError("the file ends in the middle of its header (truncated download?)")
            (length,) = unpack(buffer, pos)
            pos += 8
            end = pos + length
            if end > size:
                raise GGUFError("the file ends in the middle of its header (truncated download?)")
            append(buffer[pos:end].decode("utf-8", errors="replace"))
            pos = end
        self.pos = pos
        return out


def read_gguf(path: str | os.PathLike[str]) -> GGUFFile:
    """Parse and validate a GGUF file's header.

    Args:
        path: The file.

    Returns:
        Its metadata and tensor records.

    Raises:
        GGUFError: The file is missing, unreadable, not GGUF, or corrupt.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise GGUFError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise GGUFError(f"{path} is a folder, not a GGUF file") from None
    except OSError as exc:
        raise GGUFError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 24:
            raise GGUFError(f"{path.name} is too small to be a GGUF model ({size} bytes)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            return _parse(path, buffer, size)


def _parse(path: Path, buffer: mmap.mmap, size: int) -> GGUFFile:
    cursor = _Cursor(buffer, size)
    if cursor.integer("<I") != gguf.GGUF_MAGIC:
        raise GGUFError(f"{path.name} is not a GGUF file (wrong magic number)")
    version = cursor.integer("<I")
    if not 1 <= version <= MAX_VERSION:
        raise GGUFError(f"{path.name} has GGUF version {version}, which this llama.cpp cannot read")
    tensor_count, kv_count = cursor.integer("<Q"), cursor.integer("<Q")
    if tensor_count > MAX_TENSORS or kv_count > MAX_KEYS:
        raise GGUFError(f"{path.name} has an impossible header ({tensor_count} tensors, {kv_count} keys)")
    metadata: dict[str, object] = {}
    for _ in range(kv_count):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.integer("<I"))
    records = [_tensor_record(cursor, path) for _ in range(tensor_count)]
    declared = metadata.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT)
    alignment = int(declared) if isinstance(declared, (int, float)) and declared else 1
    data_offset = -(-cursor.pos // alignment) * alignment
    for record in records:
        if data_offset + record.offset + record.nbytes > size:
            raise GGUFError(f"{path.name} is truncated: tensor {record.name!r} lies past the end of the file")
    return GGUFFile(path, version, size, metadata, records, data_offset)


def _tensor_record(cursor: _Cursor, path: Path) -> TensorRecord:
    name = cursor.string()
    n_dims = cursor.integer("<I")
    if n_dims > MAX_DIMS:
        raise GGUFError(f"{path.name} is corrupt: tensor {name!r} has {n_dims} dimensions")
    shape = tuple(cursor.integer("<Q") for _ in range(n_dims))
    ggml_type = cursor.integer("<I")
    offset = cursor.integer("<Q")
    try:
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError):
        raise GGUFError(f"{path.name} uses tensor type {ggml_type}, unknown to this version") from None
    elements = 1
    for dim in shape:
        elements *= dim
    if shape and shape[0] % block:
        raise GGUFError(f"{path.name} is corrupt: tensor {name!r} does not fill whole blocks")
    return TensorRecord(name, shape, ggml_type, offset, elements // block * type_size)
