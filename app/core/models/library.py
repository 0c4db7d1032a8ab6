"""The local model library: GGUF files in the models folder plus referenced files elsewhere.

Files in the models folder are owned by the library: listing finds them by
scanning the folder, and removing one deletes it. Files the user keeps
elsewhere can be referenced instead of copied; their absolute paths are kept
in ``library.json`` in the config folder, and removing one only forgets it
unless the caller asks for the file to be deleted too.

Anything still being written carries a ``.part`` suffix (downloads,
quantizations) or is a hidden temporary file (copies) until it is complete,
and both are skipped, so a listing never shows a half-written model.

Inspection results are cached in ``library-cache.json`` in the cache folder,
keyed by path, size and modification time, because parsing a large vocabulary
takes a noticeable fraction of a second per file.

Which model suits which role, and how a model fits in memory, live in
``app.core.models.fit``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from app.core import machine
from app.core.errors import ErrorKind, UserFacingError, one_line
from app.core.files import atomic_writer, write_text_atomic
from app.core.models.gguf_file import GGUFError
from app.core.models.info import ModelInfo, inspect_model
from app.core.paths import app_dirs

REFERENCES_FILE = "library.json"
CACHE_FILE = "library-cache.json"
_CACHE_VERSION = 1
_CHUNK = 4 * 1024 * 1024


class LibraryError(UserFacingError, ValueError):
    """A library operation cannot be done; the message is one plain line."""

    def __init__(self, message: str, kind: ErrorKind | str = ErrorKind.INPUT) -> None:
        super().__init__(kind, message)


class ImportCancelled(Exception):
    """An import was cancelled; nothing was left behind."""


@dataclass(frozen=True)
class LibraryModel:
    """One model in the library.

    Attributes:
        name: The file name without ``.gguf``. Files in different folders
            may share a name; ``Library.find`` then asks for the path.
        path: The file.
        size_bytes: File size; 0 when the file is missing.
        referenced: True for a file kept outside the models folder.
        info: The inspected metadata, or None when the file could not be read.
        error: Why the file could not be read, one line; None when it could.
    """

    name: str
    path: Path
    size_bytes: int
    referenced: bool
    info: ModelInfo | None
    error: str | None

    @property
    def roles(self) -> list[str]:
        """The roles the model can serve; none when it could not be read."""
        return self.info.roles if self.info else []

    def to_json(self) -> dict[str, object]:
        """Return the model as ``fimble models --json`` prints it."""
        info = self.info
        return {
            "name": self.name,
            "path": str(self.path),
            "family": info.family if info else None,
            "file_type": info.file_type if info else None,
            "size_bytes": self.size_bytes,
            "roles": self.roles,
            "parameters": info.parameters if info else None,
            "context_length": info.context_length if info else None,
            "has_chat_template": info.has_chat_template if info else None,
            "referenced": self.referenced,
            "error": self.error,
        }


class Library:
    """The models Fimble knows about, on disk.

    Args:
        models_dir: The folder the library owns.
        config_dir: Where ``library.json`` (referenced files) is kept.
        cache_dir: Where ``library-cache.json`` (inspection results) is kept.
    """

    def __init__(self, models_dir: Path, config_dir: Path, cache_dir: Path) -> None:
        self.models_dir = Path(models_dir)
        self.config_dir = Path(config_dir)
        self.cache_dir = Path(cache_dir)
        self._lock = threading.RLock()

    @classmethod
    def default(cls) -> Library:
        """Return the library in the app's own folders, creating them if needed."""
        dirs = app_dirs().ensure()
        return cls(dirs.models, dirs.config, dirs.cache)

    # Listing -----------------------------------------------------------------

    def models(self) -> list[LibraryModel]:
        """List every model, sorted by name.

        Returns:
            Owned files and referenced files. A file that cannot be inspected
            is listed with ``error`` set; a referenced file that is gone is
            listed with the error "file not found".
        """
        with self._lock:
            cache = self._load_cache()
            before = dict(cache)
            found: list[LibraryModel] = []
            seen: set[Path] = set()
            for path in self._owned_files():
                found.append(self._describe(path, _stem(path), False, cache))
                seen.add(_real(path))
            for path in self._references():
                if _real(path) not in seen:
                    found.append(self._describe(path, _stem(path), True, cache))
                    seen.add(_real(path))
            listed = {str(m.path) for m in found}
            for key in [k for k in cache if k not in listed]:
                del cache[key]
            if cache != before:
                self._save_cache(cache)
        return sorted(found, key=lambda m: (m.name.casefold(), str(m.path)))

    def find(self, name_or_path: str | os.PathLike[str]) -> LibraryModel:
        """Return the model with this name, file name, stem or path.

        Args:
            name_or_path: Tried in that order: the exact library name, the
                path of the file, its file name, and its stem (which is the
                name, compared without regard to case).

        Returns:
            The one matching model.

        Raises:
            LibraryError: No model matches, or several match at the first
                rule that matches any.
        """
        text = os.fspath(name_or_path)
        models = self.models()
        wanted = _real(Path(text).expanduser())
        rules: tuple[Callable[[LibraryModel], bool], ...] = (
            lambda m: m.name == text,
            lambda m: _real(m.path) == wanted,
            lambda m: m.path.name == text,
            lambda m: m.name.casefold() == text.casefold(),
        )
        for rule in rules:
            matches = [m for m in models if rule(m)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                paths = ", ".join(str(m.path) for m in matches)
                raise LibraryError(f"{len(matches)} models match {text} ({paths}); give the path instead")
        raise LibraryError(f"no model named {text} in the library")

    def folder_of(self, model: LibraryModel | str | os.PathLike[str]) -> Path:
        """Return the folder holding a model's file, for "show in file manager"."""
        if not isinstance(model, LibraryModel):
            model = self.find(model)
        return model.path.parent

    # Changing the library ------------------------------------------------------

    def import_file(
        self,
        src: str | os.PathLike[str],
        *,
        copy: bool,
        on_progress: Callable[[int, int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> LibraryModel:
        """Add a GGUF file to the library, by copying it in or by referencing it.

        Args:
            src: The file.
            copy: True copies it into the models folder (through a hidden temporary
                file, renamed when complete); False records its absolute path.
            on_progress: Called with (bytes copied, total bytes) while copying.
            cancel: Set it to stop a copy; the partial file is removed.

        Returns:
            The new library model.

        Raises:
            LibraryError: The file is not a usable GGUF, a model of that name
                is already in the library, the disk lacks space, or the copy
                failed.
            ImportCancelled: ``cancel`` was set during the copy.
        """
        source = Path(src).expanduser()
        try:
            info = inspect_model(source).info
        except GGUFError as exc:
            raise LibraryError(f"cannot import: {exc}") from None
        name = _stem(source)
        with self._lock:
            existing = self.models()
            if any(_real(m.path) == _real(source) for m in existing):
                raise LibraryError(f"{source} is already in the library")
            if any(m.name == name for m in existing):
                raise LibraryError(f"a model named {name} is already in the library; rename the file first")
            if copy:
                target = self.models_dir / f"{name}.gguf"
                if target.exists():
                    raise LibraryError(f"{target} already exists; rename the file first")
            else:
                target = Path(os.path.abspath(source))
                self._save_references([*self._references(), target])
        if copy:
            _copy_file(source, target, info.size_bytes, on_progress, cancel)
        info = replace(info, path=str(target))
        model = LibraryModel(name, target, info.size_bytes, not copy, info, None)
        with self._lock:
            cache = self._load_cache()
            cache[str(target)] = _cache_record(target, info, None)
            self._save_cache(cache)
        return model

    def remove(self, name_or_path: str | os.PathLike[str], *, delete_file: bool | None = None) -> None:
        """Take a model out of the library.

        A model in the models folder is removed by deleting its file. A
        referenced model is forgotten and its file left alone, unless
        ``delete_file`` is True, which deletes the user's file as well.

        Args:
            name_or_path: As for ``find``.
            delete_file: None for the default above; True also deletes a
                referenced file; False is refused for a file in the models
                folder, which cannot be forgotten without being deleted.

        Raises:
            LibraryError: No such model, or ``delete_file=False`` for an owned one.
        """
        with self._lock:
            model = self.find(name_or_path)
            if model.referenced:
                self._save_references([p for p in self._references() if _real(p) != _real(model.path)])
                if delete_file:
                    _unlink(model.path)
            else:
                if delete_file is False:
                    raise LibraryError(f"{model.name} lives in the models folder; removing it deletes the file")
                _unlink(model.path)
                self._prune_empty_folders(model.path.parent)
            cache = self._load_cache()
            if cache.pop(str(model.path), None) is not None:
                self._save_cache(cache)

    # Internals -----------------------------------------------------------------

    def _owned_files(self) -> list[Path]:
        out: list[Path] = []
        for root, dirs, files in os.walk(self.models_dir):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                if file.lower().endswith(".gguf") and not file.startswith("."):
                    out.append(Path(root) / file)
        return out

    def _describe(self, path: Path, name: str, referenced: bool, cache: dict[str, object]) -> LibraryModel:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return LibraryModel(name, path, 0, referenced, None, "file not found")
        except OSError as exc:
            return LibraryModel(name, path, 0, referenced, None, f"cannot read the file: {exc.strerror}")
        key = str(path)
        record = cache.get(key)
        stamp = (stat.st_size, stat.st_mtime_ns)
        if isinstance(record, dict) and (record.get("size"), record.get("mtime_ns")) == stamp:
            info = _info_from_dict(record.get("info"))
            cached_error = record.get("error")
            if info is not None or cached_error:
                error_text = cached_error if isinstance(cached_error, str) else None
                return LibraryModel(name, path, stat.st_size, referenced, info, error_text)
        info, error = None, None
        try:
            info = inspect_model(path).info
        except GGUFError as exc:
            error = one_line(exc)
        except Exception as exc:  # a malformed value the checks let through
            error = f"cannot inspect {path.name}: {one_line(exc)}"
        cache[key] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "info": info.to_dict() if info else None,
            "error": error,
        }
        return LibraryModel(name, path, stat.st_size, referenced, info, error)

    def _references(self) -> list[Path]:
        try:
            data = json.loads((self.config_dir / REFERENCES_FILE).read_text(encoding="utf-8"))
            return [Path(p) for p in data.get("references", []) if isinstance(p, str)]
        except (OSError, ValueError, AttributeError):
            return []

    def _save_references(self, paths: Iterable[Path]) -> None:
        unique = list(dict.fromkeys(str(p) for p in paths))
        _write_json(self.config_dir / REFERENCES_FILE, {"version": 1, "references": unique})

    def _load_cache(self) -> dict[str, object]:
        try:
            data = json.loads((self.cache_dir / CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
            return {}
        models = data.get("models")
        return {str(k): v for k, v in models.items()} if isinstance(models, dict) else {}

    def _save_cache(self, cache: dict[str, object]) -> None:
        try:
            _write_json(self.cache_dir / CACHE_FILE, {"version": _CACHE_VERSION, "models": cache})
        except OSError:
            pass  # the cache only saves time; a read-only cache folder costs a re-parse

    def _prune_empty_folders(self, folder: Path) -> None:
        root = self.models_dir.resolve()
        folder = folder.resolve()
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _copy_file(
    source: Path,
    target: Path,
    total: int,
    on_progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> None:
    """Copy through a hidden temporary file after checking free space; leave nothing on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    free = machine.disk_free(target.parent)
    if free < total:
        raise LibraryError(
            f"not enough free disk space to copy {source.name}: it needs "
            f"{machine.human_bytes(total)}, {machine.human_bytes(free)} is free"
        )
    done = 0
    try:
        with open(source, "rb") as reader, atomic_writer(target) as writer:
            if on_progress:
                on_progress(0, total)
            while True:
                if cancel is not None and cancel.is_set():
                    raise ImportCancelled(f"import of {source.name} cancelled")
                chunk = reader.read(_CHUNK)
                if not chunk:
                    break
                writer.write(chunk)
                done += len(chunk)
                if on_progress:
                    on_progress(done, total)
    except OSError as exc:
        raise LibraryError(f"copying {source.name} failed: {exc.strerror or exc}") from None


def _cache_record(path: Path, info: ModelInfo, error: str | None) -> dict[str, object]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "info": info.to_dict(), "error": error}


def _info_from_dict(data: object) -> ModelInfo | None:
    if not isinstance(data, dict):
        return None
    try:
        values: dict[str, Any] = {f.name: data[f.name] for f in fields(ModelInfo)}  # JSON, as written by to_dict
        return ModelInfo(**values)
    except (KeyError, TypeError):
        return None  # written by an older version; inspect again


def _write_json(target: Path, data: dict[str, object]) -> None:
    write_text_atomic(target, json.dumps(data, indent=1))


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise LibraryError(f"cannot delete {path}: {exc.strerror}") from None


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else path.stem


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return Path(os.path.abspath(path))
