"""PySide's look at every imported module, made without reading the module's source.

Importing PySide6 replaces ``builtins.__import__``. After each later import,
PySide asks whether the new module uses PySide (its ``__feature__`` switches,
``snake_case`` and ``true_property``, apply per module) and answers by reading
the module's whole source through ``inspect.getsource`` and searching it for
"PySide6". For the window's ~140 modules that is about 25 ms of file reads and
tokenizing before the first paint, a sixth of what Fimble adds to a bare
PySide6 window's start.

``skip_source_scan`` answers the same question from the module's globals: a
module that uses PySide holds a PySide class or module there. The
answer only matters to modules that turn a ``__feature__`` on, which Fimble
never does; a frozen build has no sources, so PySide's own check already
answers "no" for every module there.

It is called from ``app/__init__.py`` when PySide6 was imported before Fimble
(as by a test or a probe), and from ``app/ui/__init__.py`` right after the
window imports PySide6. Nothing here imports Qt.
"""

from __future__ import annotations

import sys
from types import ModuleType

_PREFIXES = ("PySide6", "shiboken6")


def _refers_to_pyside(module: object) -> bool:
    """Whether ``module``'s globals hold a PySide6 (or shiboken6) class or module.

    It never raises, since PySide calls it inside every import; and it reads a
    module's name without its own attribute lookup, which would make a lazily
    loaded module load.
    """
    try:
        namespace = object.__getattribute__(module, "__dict__")
        for value in list(namespace.values()):
            if isinstance(value, ModuleType):
                name = object.__getattribute__(value, "__name__")
            elif isinstance(value, type):
                name = value.__module__
            else:
                continue
            if isinstance(name, str) and name.startswith(_PREFIXES):
                return True
    except Exception:  # noqa: BLE001 - an odd global must not fail an unrelated import
        return False
    return False


def skip_source_scan() -> bool:
    """Replace PySide's source scan of each imported module; True if it was there to replace.

    Does nothing before PySide6 is imported, or on a PySide whose internals
    differ (then its own check stays).
    """
    feature = sys.modules.get("shibokensupport.feature")
    if feature is None or not callable(getattr(feature, "_mod_uses_pyside", None)):
        return False
    feature._mod_uses_pyside = _refers_to_pyside  # type: ignore[attr-defined]
    return True
