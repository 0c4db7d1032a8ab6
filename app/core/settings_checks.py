"""The per-field checks ``app.core.settings`` runs on what it reads from the settings file.

Each check takes one value as JSON gave it and says whether the field can use
it; a field that fails gets its default (see ``app.core.settings``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict

from app.core.models.load_params import LoadParams


def text_or_none(value: object) -> bool:
    """Text, or None."""
    return value is None or isinstance(value, str)


def texts(value: object) -> bool:
    """A list of texts."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def texts_by_key(value: object) -> bool:
    """A dict of texts."""
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


_PARAM_DEFAULTS: dict[str, object] = asdict(LoadParams())


def _param(name: str, value: object) -> bool:
    """Whether one load setting has its field's type (an int where a float goes is fine)."""
    default = _PARAM_DEFAULTS.get(name, value)  # keys LoadParams does not know are ignored by it
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if default is None:
        return value is None or isinstance(value, int)
    return type(value) is type(default)


def params(value: object) -> bool:
    """Whether a dict of load-setting overrides is one the engine would accept."""
    if not isinstance(value, dict) or not all(_param(name, item) for name, item in value.items()):
        return False
    try:
        LoadParams.from_dict(value)  # its own range checks
    except (TypeError, ValueError):
        return False
    return True


# A pinned completion window: the smallest and largest sizes accepted.
WINDOW_MIN_TOKENS = 64
WINDOW_MAX_TOKENS = 32768


def completion_window(value: object) -> bool:
    """Whether a pinned completion window is None ("auto") or a whole number of tokens in range."""
    if value is None:
        return True
    return type(value) is int and WINDOW_MIN_TOKENS <= value <= WINDOW_MAX_TOKENS


_SERVER_KEYS: dict[str, type] = {"on": bool, "host": str, "port": int, "expose": bool}


def server_choice(value: object) -> bool:
    """Whether the local server's remembered state has known keys of the right types and a real port."""
    if not isinstance(value, dict):
        return False
    if any(_SERVER_KEYS.get(key) is not type(item) for key, item in value.items()):
        return False
    port = value.get("port", 0)
    return isinstance(port, int) and 0 <= port <= 65535


def params_by_path(value: object) -> bool:
    """Load-setting overrides per model file."""
    return isinstance(value, dict) and all(params(item) for item in value.values())


# The window's zoom, in steps of one point from the default font size.
ZOOM_MIN = -6
ZOOM_MAX = 20
ZOOM_PANES = ("editor", "chat")
SPLITTER_NAMES = ("main", "chat", "editor")


def _whole(value: object) -> bool:
    return type(value) is int


def flag(value: object) -> bool:
    """A true-or-false setting."""
    return type(value) is bool


def zoom_steps(value: object) -> bool:
    """Zoom per pane: {"editor": 2, "chat": -1}, each within ``ZOOM_MIN``..``ZOOM_MAX``."""
    return isinstance(value, dict) and all(
        key in ZOOM_PANES and _whole(steps) and ZOOM_MIN <= steps <= ZOOM_MAX for key, steps in value.items()
    )


def splitter_sizes(value: object) -> bool:
    """Splitter positions by name: {"main": [640, 640], …}, each a list of two or more sizes ≥ 0."""
    return isinstance(value, dict) and all(
        key in SPLITTER_NAMES
        and isinstance(sizes, list)
        and len(sizes) >= 2
        and all(_whole(size) and 0 <= size <= 100_000 for size in sizes)
        for key, sizes in value.items()
    )


def geometry(value: object) -> bool:
    """A window geometry as base64 text (what Qt's saveGeometry gave), or None."""
    if value is None:
        return True
    if not isinstance(value, str) or len(value) > 4096:
        return False
    try:
        base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    return True
