"""The repositories and files the loopback Hub serves: names, sizes, hashes, LFS pointers."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1024 * 1024
_TEXT_SUFFIXES = (".md", ".txt", ".json", ".gitattributes", ".yaml", ".yml")
_LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n"


@dataclass(frozen=True)
class _File:
    """One file of a repository, with the hashes the Hub reports for it."""

    name: str
    size: int
    sha256: str
    blob_id: str
    lfs: bool
    data: bytes | None = None
    path: Path | None = None
    pointer_size: int = 0


@dataclass
class _Repo:
    """A repository: its listing fields and its files at each commit."""

    repo_id: str
    gated: bool
    downloads: int
    likes: int
    license: str
    last_modified: str
    tags: tuple[str, ...]
    commit: str
    files: dict[str, _File]
    history: dict[str, dict[str, _File]] = field(default_factory=dict)


def _git_blob_id(size: int, chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha1(f"blob {size}\0".encode())
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _read_chunks(path: Path) -> Iterable[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _make_file(name: str, content: bytes | Path, lfs: bool | None) -> _File:
    if isinstance(content, (str, os.PathLike)):
        path, data = Path(content), None
        size = path.stat().st_size
    else:
        path, data = None, bytes(content)
        size = len(data)

    def chunks() -> Iterable[bytes]:
        return _read_chunks(path) if path is not None else [data]

    if lfs is None:
        lfs = not name.lower().endswith(_TEXT_SUFFIXES)
    sha = hashlib.sha256()
    for chunk in chunks():
        sha.update(chunk)
    sha256 = sha.hexdigest()
    if lfs:
        pointer = _LFS_POINTER.format(sha=sha256, size=size).encode()
        return _File(name, size, sha256, _git_blob_id(len(pointer), [pointer]), True, data, path, len(pointer))
    return _File(name, size, sha256, _git_blob_id(size, chunks()), False, data, path)
