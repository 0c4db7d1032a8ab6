"""User settings, stored as JSON in the config folder.

Several windows (processes) may share the file. Each ``Settings`` remembers
what it last read or wrote, and ``save_settings`` writes only what this
process changed since then over what is on disk now, under a file lock, so
one window's save never undoes another's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from filelock import FileLock

from app.core.files import write_text_atomic
from app.core.models.load_params import LoadParams

SETTINGS_FILE = "settings.json"
LOCK_FILE = "settings.json.lock"
LOCK_TIMEOUT_S = 10.0
RECENT_FILES_MAX = 10


@dataclass
class Settings:
    """What the user chose; ``None`` model paths mean "the starter model"."""

    chat_model: str | None = field(default=None, metadata={"help": "GGUF used by the chat pane."})
    completion_model: str | None = field(default=None, metadata={"help": "GGUF used for editor completions."})
    chat_params: dict = field(default_factory=dict, metadata={"help": "LoadParams overrides for chat."})
    system_prompt: str | None = field(default=None, metadata={"help": "System prompt new chats start with."})
    chat_templates: dict = field(
        default_factory=dict, metadata={"help": "Edited editor-to-chat prompt templates, by key."}
    )
    recent_files: list = field(default_factory=list, metadata={"help": "Recently opened files, newest first."})
    completion_params: dict = field(
        default_factory=lambda: {"n_ctx": 4096}, metadata={"help": "LoadParams overrides for completion."}
    )
    model_params: dict = field(
        default_factory=dict, metadata={"help": "LoadParams overrides per model file, by absolute path."}
    )

    def load_params(self, role: str) -> LoadParams:
        """Return the load settings for ``role`` ("chat" or "completion").

        The role's defaults come first; the settings saved for the model
        assigned to the role override them.
        """
        base = self.chat_params if role == "chat" else self.completion_params
        model = self.model_for(role)
        return LoadParams.from_dict({**base, **(self.model_params.get(model, {}) if model else {})})

    def params_for_model(self, path: str, role: str | None = None) -> LoadParams:
        """Return the load settings a model file would get (in ``role``, if given)."""
        base = (self.chat_params if role == "chat" else self.completion_params) if role else {}
        return LoadParams.from_dict({**base, **self.model_params.get(path, {})})

    def set_model_params(self, path: str, params: LoadParams) -> None:
        """Remember runtime settings for one model file; they apply on its next load."""
        self.model_params[path] = params.to_dict()

    def model_for(self, role: str) -> str | None:
        """Return the configured model path for ``role``."""
        return self.chat_model if role == "chat" else self.completion_model


def _read(config_dir: Path) -> dict:
    """Return the settings file's object; {} when missing, unreadable or not an object."""
    try:
        data = json.loads((config_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _valid(name: str, value) -> bool:
    """Whether a value read from disk has the type the field's default has."""
    default = asdict(Settings())[name]
    if default is None:
        return value is None or isinstance(value, str)
    if isinstance(default, list):  # lists of paths
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, type(default))


def _remember(settings: Settings) -> None:
    """Record what this process now knows to be on disk (not a dataclass field)."""
    settings._base = copy.deepcopy(asdict(settings))


def load_settings(config_dir: Path) -> Settings:
    """Read settings; a missing or unreadable file gives the defaults.

    A field with a value of the wrong type keeps its default.

    Args:
        config_dir: The config folder.

    Returns:
        The settings.
    """
    data = _read(config_dir)
    settings = Settings(**{f.name: data[f.name] for f in fields(Settings)
                           if f.name in data and _valid(f.name, data[f.name])})
    _remember(settings)
    return settings


def _merge_list(base: list, mine: list, disk: list) -> list:
    """Most-recent-first lists: entries this process added or moved up go first, then disk's."""
    where = {item: index for index, item in enumerate(base)}
    touched = [item for index, item in enumerate(mine) if item not in where or index < where[item]]
    return list(dict.fromkeys([*touched, *disk]))[:max(RECENT_FILES_MAX, len(touched))]


def _merge_dict(base: dict, mine: dict, disk: dict) -> dict:
    """Keyed settings: keys this process set or removed win, every other key is disk's."""
    merged = dict(disk)
    for key in base.keys() | mine.keys():
        if key not in mine:
            merged.pop(key, None)
        elif key not in base or mine[key] != base[key]:
            merged[key] = mine[key]
    return merged


def _merge(name: str, base, mine, disk: dict):
    """The value to write for one field."""
    if name not in disk or not _valid(name, disk[name]):
        return mine  # nobody else has written it
    if mine == base:
        return disk[name]
    if isinstance(mine, dict):
        return _merge_dict(base if isinstance(base, dict) else {}, mine, disk[name])
    if isinstance(mine, list):
        return _merge_list(base if isinstance(base, list) else [], mine, disk[name])
    return mine


def save_settings(config_dir: Path, settings: Settings) -> None:
    """Write this process's changes over the file as it is now, atomically and under a lock.

    A field this process did not change since it last loaded or saved keeps
    what is on disk. Keyed fields (``model_params``, ``chat_templates``, …)
    are merged key by key, and ``recent_files`` keeps the files other windows
    opened behind this one's. Keys unknown to this version are kept. The
    merged lists and keyed fields are taken back into ``settings``.

    Args:
        config_dir: The config folder (created if missing).
        settings: This process's settings.

    Raises:
        OSError: If the folder cannot be written, or another process held
            the lock for longer than ``LOCK_TIMEOUT_S`` (``filelock.Timeout``).
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    target = config_dir / SETTINGS_FILE
    base = getattr(settings, "_base", None) or asdict(Settings())
    with FileLock(config_dir / LOCK_FILE, timeout=LOCK_TIMEOUT_S):
        disk = _read(config_dir)
        merged = dict(disk)
        for name, mine in asdict(settings).items():
            merged[name] = _merge(name, base.get(name), mine, disk)
        write_text_atomic(target, json.dumps(merged, indent=2))
    for f in fields(Settings):
        if isinstance(merged[f.name], (dict, list)):
            setattr(settings, f.name, copy.deepcopy(merged[f.name]))
    _remember(settings)
