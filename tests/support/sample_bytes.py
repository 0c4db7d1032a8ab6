"""Deterministic file contents for download tests: large, incompressible, and the same every run."""

from __future__ import annotations

import hashlib


def pattern_bytes(size: int, seed: str = "7") -> bytes:
    """``size`` bytes made of sha256 digests of ``seed`` and a counter."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}-{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


def file_sha256(path) -> str:
    """The sha256 of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
