"""User settings, stored as JSON in the config folder.

Several windows (processes) may share the file. Each ``Settings`` remembers
what it last read or wrote, and ``save_settings`` writes only what this
process changed since then over what is on disk now, under a file lock, so
one window's save never undoes another's.

Settings are checked when they are read (``open_settings``). The check is per
field: a file that is not JSON, or not a JSON object, gives all the defaults;
a field whose value has the wrong type or shape (``recent_files`` that is not
a list of strings, a load setting the engine would refuse, …) gives that
field's default and keeps every other field. Either way the file is first
copied, byte for byte, to ``settings.json.bad-<date>-<time>`` beside it; the
settings file then keeps only what was good, and ``OpenedSettings.notice``
says so in one line for the window to show. ``load_settings`` is the same
without the notice (it is logged). Keys unknown to this version are not
errors: they are kept.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.core import settings_checks as check
from app.core.errors import one_line
from app.core.files import write_text_atomic
from app.core.models.load_params import LoadParams
from app.core.remote.choice import RemoteChoice, RemoteTarget, valid_remotes
from app.core.settings_checks import WINDOW_MAX_TOKENS as WINDOW_MAX_TOKENS
from app.core.settings_checks import WINDOW_MIN_TOKENS as WINDOW_MIN_TOKENS

SETTINGS_FILE = "settings.json"
LOCK_FILE = "settings.json.lock"
LOCK_TIMEOUT_S = 10.0
RECENT_FILES_MAX = 10
BAD_SUFFIX = ".bad-"  # settings.json.bad-20261129-181500 holds a file that failed the check

# One LoadParams value as the JSON file holds it, and a set of overrides.
ParamValue = int | float | bool | str | None
Params = dict[str, ParamValue]

_log = logging.getLogger(__name__)


@dataclass
class Settings:
    """What the user chose; ``None`` model paths mean "the starter model"."""

    chat_model: str | None = field(default=None, metadata={"help": "GGUF used by the chat pane."})
    completion_model: str | None = field(default=None, metadata={"help": "GGUF used for editor completions."})
    chat_params: Params = field(default_factory=dict, metadata={"help": "LoadParams overrides for chat."})
    system_prompt: str | None = field(default=None, metadata={"help": "System prompt new chats start with."})
    chat_templates: dict[str, str] = field(
        default_factory=dict, metadata={"help": "Edited editor-to-chat prompt templates, by key."}
    )
    recent_files: list[str] = field(default_factory=list, metadata={"help": "Recently opened files, newest first."})
    completion_params: Params = field(
        default_factory=lambda: {"n_ctx": 4096}, metadata={"help": "LoadParams overrides for completion."}
    )
    model_params: dict[str, Params] = field(
        default_factory=dict, metadata={"help": "LoadParams overrides per model file, by absolute path."}
    )
    completion_window: int | None = field(
        default=None,
        metadata={"help": "Completion window in tokens (prefix plus suffix); None sizes it to the machine."},
    )
    remote_engines: dict[str, dict[str, object]] = field(
        default_factory=dict,
        metadata={"help": "Remote engine per role (url, model, family, active); API keys are kept elsewhere."},
    )
    local_server: dict[str, object] = field(
        default_factory=dict,
        metadata={"help": "The window's local API server: on, host, port, expose (confirmed for other machines)."},
    )
    # Where the window was left: restored at the next start.
    window_geometry: str | None = field(default=None, metadata={"help": "The main window's geometry, base64."})
    splitter_sizes: dict[str, list[int]] = field(
        default_factory=dict, metadata={"help": "Splitter positions by name: main, chat, editor."}
    )
    open_files: list[str] = field(default_factory=list, metadata={"help": "Files open in editor tabs, in order."})
    current_file: str | None = field(default=None, metadata={"help": "The editor tab that was shown."})
    project_folder: str | None = field(default=None, metadata={"help": "The folder shown in the project tree."})
    project_tree: bool = field(default=True, metadata={"help": "Whether the project tree is shown."})
    zoom: dict[str, int] = field(default_factory=dict, metadata={"help": "Font zoom steps: editor, chat."})
    welcome_dismissed: bool = field(
        default=False, metadata={"help": "The chat pane's welcome card was dismissed (Help → Welcome shows it)."}
    )

    def __post_init__(self) -> None:
        # What this process last read from or wrote to disk (not a field):
        # ``save_settings`` writes only what differs from it.
        self._base: dict[str, object] | None = None

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

    def remote_for(self, role: str) -> RemoteChoice | None:
        """Return the remote engine remembered for ``role`` (active or not), or None."""
        data = self.remote_engines.get(role)
        return RemoteChoice.from_dict(data) if data is not None else None

    def source_for(self, role: str) -> str | RemoteTarget | None:
        """What ``role``'s engine loads: its active remote engine, else its model path (None: the starter)."""
        remote = self.remote_for(role)
        if remote is not None and remote.active:
            return RemoteTarget(remote)
        return self.model_for(role)


@dataclass(frozen=True)
class OpenedSettings:
    """The settings to use, and what the user must be told about the file they came from.

    Attributes:
        settings: The settings; defaults stand in for whatever was bad.
        notice: One line for the window when the file was not all good
            (not JSON, not an object, or fields of the wrong type); None
            otherwise.
        kept_at: Where the bad file was copied, when it was.
    """

    settings: Settings
    notice: str | None = None
    kept_at: Path | None = None


# -- checking what was read --------------------------------------------------


_CHECKS: dict[str, Callable[[object], bool]] = {
    "chat_model": check.text_or_none,
    "completion_model": check.text_or_none,
    "chat_params": check.params,
    "system_prompt": check.text_or_none,
    "chat_templates": check.texts_by_key,
    "recent_files": check.texts,
    "completion_params": check.params,
    "model_params": check.params_by_path,
    "completion_window": check.completion_window,
    "remote_engines": valid_remotes,
    "local_server": check.server_choice,
    "window_geometry": check.geometry,
    "splitter_sizes": check.splitter_sizes,
    "open_files": check.texts,
    "current_file": check.text_or_none,
    "project_folder": check.text_or_none,
    "project_tree": check.flag,
    "zoom": check.zoom_steps,
    "welcome_dismissed": check.flag,
}
# Lists merged with other windows' (most recent first); any other list is this window's own.
_MERGED_LISTS = ("recent_files",)


def _valid(name: str, value: object) -> bool:
    """Whether a value read from disk has the type and shape field ``name`` needs."""
    return _CHECKS[name](value)


@dataclass(frozen=True)
class _Reading:
    """What a settings file holds: its object, and what is wrong with it."""

    data: dict[str, object]
    problem: str | None = None  # the start of the notice, or None when all is good
    bad_fields: tuple[str, ...] = ()

    @property
    def fallback(self) -> str:
        """What stands in for the bad part, for the notice."""
        return "those use their defaults" if self.bad_fields else "defaults are used"

    @property
    def good(self) -> dict[str, object]:
        """The object without its bad fields."""
        return {key: value for key, value in self.data.items() if key not in self.bad_fields}


def _check(raw: bytes, path: Path) -> _Reading:
    """Parse and check the bytes of a settings file."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, or bytes that are no Unicode text
        return _Reading({}, f"The settings file {path} is not valid JSON ({one_line(exc)})")
    if not isinstance(data, dict):
        return _Reading({}, f"The settings file {path} does not hold a JSON object")
    bad = tuple(f.name for f in fields(Settings) if f.name in data and not _valid(f.name, data[f.name]))
    if not bad:
        return _Reading(data)
    return _Reading(data, f"The settings file {path} has values of the wrong type for {', '.join(bad)}", bad)


def _read(config_dir: Path) -> _Reading:
    """Read the settings file; a missing or unreadable one reads as {}."""
    path = config_dir / SETTINGS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _Reading({})
    except OSError as exc:
        return _Reading({}, f"The settings file {path} cannot be read ({one_line(exc)})")
    return _check(raw, path)


def _keep_aside(path: Path, when: float) -> Path:
    """Copy a file, byte for byte, to a new name beside it; nothing is overwritten.

    Returns:
        e.g. ``settings.json.bad-20261129-181500``, with ``-2``, ``-3``… when taken.

    Raises:
        OSError: If the file cannot be read or the copy written.
    """
    raw = path.read_bytes()
    base = f"{path.name}{BAD_SUFFIX}{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}"
    for number in range(1, 1000):
        target = path.with_name(base if number == 1 else f"{base}-{number}")
        try:
            with open(target, "xb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
        except FileExistsError:
            continue
        return target
    raise FileExistsError(f"no free name for {base} in {path.parent}")


# -- loading -------------------------------------------------------------------


def _remember(settings: Settings) -> None:
    """Record what this process now knows to be on disk."""
    settings._base = copy.deepcopy(asdict(settings))


def _settings_from(data: Mapping[str, object]) -> Settings:
    """Settings with every valid field of ``data``; the others keep their defaults."""
    settings = Settings()
    for f in fields(Settings):
        if f.name in data and _valid(f.name, data[f.name]):
            setattr(settings, f.name, copy.deepcopy(data[f.name]))  # checked by ``_valid``
    _remember(settings)
    return settings


def _repair(config_dir: Path, when: float) -> tuple[_Reading, str | None, Path | None]:
    """Under the lock: read again, and if the file is still bad, keep it aside and rewrite it.

    Returns:
        The reading, the notice (None when the file turned out good, e.g.
        another window saved meanwhile) and where the bad file was copied.
    """
    path = config_dir / SETTINGS_FILE
    from filelock import FileLock  # only a bad file or a save needs the lock; not imported at startup

    with FileLock(config_dir / LOCK_FILE, timeout=LOCK_TIMEOUT_S):
        reading = _read(config_dir)
        if reading.problem is None:
            return reading, None, None
        defaults = reading.fallback
        try:
            kept = _keep_aside(path, when)
        except OSError as exc:
            reason = one_line(exc)
            return reading, f"{reading.problem}; {defaults}, but the file could not be kept aside ({reason})", None
        notice = f"{reading.problem}; {defaults}, and the file was kept as {kept.name}"
        try:
            write_text_atomic(path, json.dumps(reading.good, indent=2))
        except OSError as exc:
            _log.warning("cannot rewrite %s after keeping it aside: %s", path, one_line(exc))
        return reading, notice, kept


def open_settings(config_dir: Path, *, now: Callable[[], float] = time.time) -> OpenedSettings:
    """Read and check the settings; this never raises for a bad or missing file.

    A missing file gives the defaults and no notice. For a bad file, see the
    module's docstring: the good fields are used, the file is kept aside, and
    the notice says what happened.

    Args:
        config_dir: The config folder.
        now: Returns the current time, for the name of a file kept aside.

    Returns:
        The settings, with a one-line notice when the file was not all good.
    """
    reading = _read(config_dir)
    notice, kept = None, None
    if reading.problem is not None and (config_dir / SETTINGS_FILE).exists():
        try:
            reading, notice, kept = _repair(config_dir, now())
        except OSError as exc:  # the lock cannot be taken: leave the file as it is
            notice = f"{reading.problem}; {reading.fallback} ({one_line(exc)})"
    elif reading.problem is not None:
        notice = f"{reading.problem}; {reading.fallback}"
    if notice is not None:
        _log.warning("%s", notice)
    return OpenedSettings(_settings_from(reading.data), notice, kept)


def load_settings(config_dir: Path) -> Settings:
    """Read settings as ``open_settings`` does, without the notice (it is logged).

    Args:
        config_dir: The config folder.

    Returns:
        The settings.
    """
    return open_settings(config_dir).settings


# -- saving --------------------------------------------------------------------


def _merge_list(base: Sequence[object], mine: Sequence[object], disk: Sequence[object]) -> list[object]:
    """Most-recent-first lists: entries this process added or moved up go first, then disk's."""
    where = {item: index for index, item in enumerate(base)}
    touched = [item for index, item in enumerate(mine) if item not in where or index < where[item]]
    return list(dict.fromkeys([*touched, *disk]))[: max(RECENT_FILES_MAX, len(touched))]


def _merge_dict(
    base: Mapping[str, object], mine: Mapping[str, object], disk: Mapping[str, object]
) -> dict[str, object]:
    """Keyed settings: keys this process set or removed win, every other key is disk's."""
    merged = dict(disk)
    for key in base.keys() | mine.keys():
        if key not in mine:
            merged.pop(key, None)
        elif key not in base or mine[key] != base[key]:
            merged[key] = mine[key]
    return merged


def _merge(name: str, base: object, mine: object, disk: Mapping[str, object]) -> object:
    """The value to write for one field."""
    theirs = disk.get(name)
    if name not in disk or not _valid(name, theirs):
        return mine  # nobody else has written it
    if mine == base:
        return theirs
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return _merge_dict(base if isinstance(base, dict) else {}, mine, theirs)
    if isinstance(mine, list) and isinstance(theirs, list) and name in _MERGED_LISTS:
        return _merge_list(base if isinstance(base, list) else [], mine, theirs)
    return mine


def save_settings(config_dir: Path, settings: Settings, *, now: Callable[[], float] = time.time) -> None:
    """Write this process's changes over the file as it is now, atomically and under a lock.

    A field this process did not change since it last loaded or saved keeps
    what is on disk. Keyed fields (``model_params``, ``chat_templates``, …)
    are merged key by key, and ``recent_files`` keeps the files other windows
    opened behind this one's. Keys unknown to this version are kept. The
    merged lists and keyed fields are taken back into ``settings``. A file
    on disk that fails the check is kept aside before it is replaced.

    Args:
        config_dir: The config folder (created if missing).
        settings: This process's settings.
        now: Returns the current time, for the name of a file kept aside.

    Raises:
        OSError: If the folder cannot be written, or another process held
            the lock for longer than ``LOCK_TIMEOUT_S`` (``filelock.Timeout``).
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    target = config_dir / SETTINGS_FILE
    base = settings._base or asdict(Settings())
    from filelock import FileLock

    with FileLock(config_dir / LOCK_FILE, timeout=LOCK_TIMEOUT_S):
        reading = _read(config_dir)
        if reading.problem is not None and target.exists():
            kept = _keep_aside(target, now())
            _log.warning("%s; it was kept as %s before this save replaced it", reading.problem, kept.name)
        disk = reading.data
        merged = dict(disk)
        for name, mine in asdict(settings).items():
            merged[name] = _merge(name, base.get(name), mine, disk)
        write_text_atomic(target, json.dumps(merged, indent=2))
    for f in fields(Settings):
        if isinstance(merged[f.name], (dict, list)):
            setattr(settings, f.name, copy.deepcopy(merged[f.name]))
    _remember(settings)
