"""Context for FIM prompts: chunks of other files, imports, and a cheap window trim."""

from __future__ import annotations

import re
from pathlib import Path

from app.core.generation.contracts import ContextChunk

MAX_IMPORTS = 16
# Imports examined at most, so a generated file with thousands stays cheap.
_MAX_TRIED = 256

_PY_SUFFIXES = frozenset({".py", ".pyi", ".pyw"})
_C_SUFFIXES = frozenset({".c", ".h", ".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx", ".m", ".mm"})
_JS_EXTENSIONS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_SUFFIXES = frozenset(_JS_EXTENSIONS)
_TS_EXTENSIONS = (".ts", ".tsx", ".mts", ".cts")
# (position in the text, tie-breaker) and the candidate files for one import.
_Hits = list[tuple[tuple[int, int], list[Path]]]

_PY_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.MULTILINE)
_PY_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)", re.MULTILINE)
_JS_SPEC = re.compile(r"(?:\bfrom|\bimport|\bimport[ \t]*\(|\brequire[ \t]*\()[ \t]*(['\"])(\.{1,2}/[^'\"\n]*)\1")
# One line with its "\n" (editors count lines by "\n" only, unlike str.splitlines).
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")
_C_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*\"([^\"\n]+)\"", re.MULTILINE)
_RUST_MOD = re.compile(r"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?mod[ \t]+(\w+)[ \t]*;", re.MULTILINE)


class ChunkRing:
    """A small ring of context chunks from other files, newest last.

    Near-duplicates (a re-added region after a small edit, the same tab seen
    twice) replace the older copy instead of wasting prompt space.

    Args:
        capacity: The most chunks kept.
        max_chunk_lines: Longer texts are cut to their first this many lines.
        similarity: Line-set Jaccard similarity at which an older chunk
            counts as a near-duplicate of a new one and is evicted.

    Raises:
        ValueError: If a limit is below 1 or ``similarity`` is not in (0, 1].
    """

    def __init__(self, capacity: int = 8, max_chunk_lines: int = 64, similarity: float = 0.8) -> None:
        if capacity < 1 or max_chunk_lines < 1:
            raise ValueError("capacity and max_chunk_lines must be at least 1")
        if not 0.0 < similarity <= 1.0:
            raise ValueError("similarity must be in (0, 1]")
        self.capacity = capacity
        self.max_chunk_lines = max_chunk_lines
        self.similarity = similarity
        self._items: list[tuple[ContextChunk, frozenset[str]]] = []

    def __len__(self) -> int:
        """The number of entries held."""
        return len(self._items)

    def add(self, path: str, text: str) -> None:
        """Add a chunk as the newest, evicting near-duplicates and the oldest.

        Args:
            path: The file the text comes from (shown to the model).
            text: The chunk's text; blank text is ignored. Pass the region
                around the edit for long files (see ``region_around``).
        """
        lines = _LINE.findall(text)
        if len(lines) > self.max_chunk_lines:
            text = "".join(lines[: self.max_chunk_lines])
        if not text.strip():
            return
        shape = _line_set(text)
        self._items = [
            (chunk, other)
            for chunk, other in self._items
            if not (chunk.path == path and chunk.text == text) and _jaccard(shape, other) < self.similarity
        ]
        self._items.append((ContextChunk(path, text), shape))
        del self._items[: max(0, len(self._items) - self.capacity)]

    def chunks(self, exclude_path: str | None = None, max_chars: int | None = None) -> tuple[ContextChunk, ...]:
        """Return the chunks for a prompt, oldest first, newest closest to the cursor.

        Args:
            exclude_path: Leave out chunks of this file (the one being edited).
            max_chars: Budget for the chunks' paths and texts together; the
                oldest chunks are dropped first to meet it.

        Returns:
            The chunks, oldest to newest.
        """
        picked = [chunk for chunk, _ in self._items if chunk.path != exclude_path]
        if max_chars is None:
            return tuple(picked)
        start, budget = len(picked), max_chars
        while start and budget >= len(picked[start - 1].path) + len(picked[start - 1].text):
            budget -= len(picked[start - 1].path) + len(picked[start - 1].text)
            start -= 1
        return tuple(picked[start:])

    def clear(self) -> None:
        """Forget every chunk."""
        self._items.clear()


def region_around(text: str, line: int, lines: int = 64) -> str:
    """Return about ``lines`` lines of ``text`` centred on a line.

    Args:
        text: The whole file.
        line: The 0-based line of the edit; clamped to the file.
        lines: How many lines to return; the window shifts at the file's
            start or end to keep this many where the file has them.

    Returns:
        The lines, joined with their original line ends; "" if ``lines`` < 1.
    """
    all_lines = _LINE.findall(text)
    if lines < 1 or not all_lines:
        return ""
    line = min(max(line, 0), len(all_lines) - 1)
    start = max(0, min(line - lines // 2, len(all_lines) - lines))
    return "".join(all_lines[start : start + lines])


def imported_paths(path: Path, text: str, root: Path) -> list[Path]:
    """Find the project files that a source file imports.

    Uses simple regexes: Python ``import``/``from`` (absolute and relative),
    JavaScript/TypeScript relative ``import``/``require``/``import()``,
    C/C++ ``#include "…"`` and Rust ``mod x;``.

    Args:
        path: The current file.
        text: Its text (possibly unsaved).
        root: The project folder; only files under it are returned.

    Returns:
        Resolved paths of existing files, deduplicated, in order of
        appearance, at most ``MAX_IMPORTS``. Never raises on odd input.
    """
    found: list[Path] = []
    try:
        root = Path(root).resolve()
        path = Path(path).resolve()
        suffix = path.suffix.lower()
        if suffix in _PY_SUFFIXES:
            hits = _python_imports(path, text, root)
        elif suffix in _JS_SUFFIXES:
            hits = _js_imports(path, text)
        elif suffix in _C_SUFFIXES:
            hits = [((m.start(), 0), [path.parent / m[1], root / m[1]]) for m in _C_INCLUDE.finditer(text)]
        else:
            hits = _rust_mods(path, text) if suffix == ".rs" else []
        tried: set[tuple[Path, ...]] = set()
        for _, candidates in sorted(hits, key=lambda hit: hit[0])[:_MAX_TRIED]:
            if tuple(candidates) in tried:
                continue
            tried.add(tuple(candidates))
            hit = _first_file(candidates, root)
            if hit is not None and hit != path and hit not in found:
                found.append(hit)
                if len(found) >= MAX_IMPORTS:
                    break
    except (OSError, ValueError, RuntimeError, TypeError):
        pass
    return found


def fit_window(
    prefix: str, suffix: str, max_prefix_chars: int, max_suffix_chars: int, snap_lines: int = 1
) -> tuple[str, str]:
    """Cheaply cut the text around the cursor on line boundaries.

    Keeps the end of the prefix and the start of the suffix. A cut lands on a
    line boundary when the kept part has one; otherwise it is by characters.
    With ``snap_lines`` > 1 the prefix's first kept line is a multiple of it
    (or of a quarter of the kept lines, if fewer; counted from the start of
    ``prefix``), so typing does not move the start of the prompt on every
    keystroke and a server's prompt cache stays usable.

    Args:
        prefix: The text before the cursor.
        suffix: The text after the cursor.
        max_prefix_chars: The most prefix characters kept.
        max_suffix_chars: The most suffix characters kept.
        snap_lines: Snap the prefix's first line to a multiple of this many lines.

    Returns:
        (prefix, suffix), each no longer than its limit.
    """
    if max_prefix_chars <= 0:
        prefix = ""
    elif len(prefix) > max_prefix_chars:
        start = len(prefix) - max_prefix_chars
        if prefix[start - 1] != "\n":
            newline = prefix.find("\n", start)
            start = newline + 1 if newline >= 0 else start
        # As in ``budget``: a small window gives up at most a quarter of its lines to the snap.
        step = min(snap_lines, prefix.count("\n", start) // 4)
        if step > 1 and start > 0 and prefix[start - 1] == "\n":
            line = prefix.count("\n", 0, start)
            while line % step:
                newline = prefix.find("\n", start)
                if newline < 0:
                    break
                start, line = newline + 1, line + 1
        prefix = prefix[start:]
    if max_suffix_chars <= 0:
        suffix = ""
    elif len(suffix) > max_suffix_chars:
        kept = suffix[:max_suffix_chars]
        newline = kept.rfind("\n")
        suffix = kept[: newline + 1] if newline >= 0 else kept
    return prefix, suffix


def _line_set(text: str) -> frozenset[str]:
    """The stripped non-blank lines of a text."""
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def _jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    """Size of the intersection over size of the union (1.0 for two empty sets)."""
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def _first_file(candidates: list[Path], root: Path) -> Path | None:
    """The first candidate that is an existing file under ``root``, resolved."""
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
            if resolved.is_file() and resolved.is_relative_to(root):
                return resolved
        except (OSError, ValueError, RuntimeError):
            continue
    return None


def _python_module(base: Path, dotted: str) -> list[Path]:
    """Candidate files for a dotted module name under ``base``."""
    parts = [part for part in dotted.split(".") if part]
    stem = base.joinpath(*parts)
    return [Path(f"{stem}.py"), stem / "__init__.py"] if parts else []


def _python_imports(path: Path, text: str, root: Path) -> _Hits:
    """Candidate files for each Python import, with its position."""
    hits: _Hits = []
    for match in _PY_IMPORT.finditer(text):
        modules = [item.split()[0] for item in match[1].split(",") if item.split()]
        for offset, module in enumerate(modules):
            candidates = _python_module(root, module) + _python_module(path.parent, module)
            hits.append(((match.start(), offset), candidates))
    for match in _PY_FROM.finditer(text):
        dots, module = len(match[1]), match[2]
        if dots > len(path.parents):
            continue
        bases = [path.parents[dots - 1]] if dots else [root, path.parent]
        items = match[3].strip().strip("()\\").split(",")
        names = [""] + [item.split()[0] for item in items if item.split()]
        for offset, name in enumerate(names):
            dotted = ".".join(part for part in (module, name) if part)
            if offset and not name.isidentifier():
                continue
            candidates = [c for base in bases for c in _python_module(base, dotted)]
            hits.append(((match.start(), offset), candidates))
    return hits


def _js_imports(path: Path, text: str) -> _Hits:
    """Candidate files for each relative JavaScript/TypeScript import."""
    hits: _Hits = []
    for match in _JS_SPEC.finditer(text):
        target = path.parent / match[2]
        candidates = [target]
        if target.suffix in (".js", ".jsx", ".mjs", ".cjs"):
            candidates += [Path(f"{target.with_suffix('')}{ext}") for ext in _TS_EXTENSIONS]
        candidates += [Path(f"{target}{ext}") for ext in _JS_EXTENSIONS]
        candidates += [target / f"index{ext}" for ext in _JS_EXTENSIONS]
        hits.append(((match.start(), 0), candidates))
    return hits


def _rust_mods(path: Path, text: str) -> _Hits:
    """Candidate files for each Rust ``mod name;`` declaration."""
    owner = path.parent if path.stem in ("mod", "lib", "main") else path.parent / path.stem
    return [((m.start(), 0), [owner / f"{m[1]}.rs", owner / m[1] / "mod.rs"]) for m in _RUST_MOD.finditer(text)]
