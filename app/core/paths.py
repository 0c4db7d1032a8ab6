"""Every folder Fimble reads or writes, in one place.

Config, data, cache and log folders come from ``platformdirs``. Setting
``FIMBLE_HOME`` puts all of them under that one folder, which tests and
portable installs use. ``resource_path`` is the only code that knows how a
PyInstaller bundle lays out its files.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "Fimble"
HOME_ENV = "FIMBLE_HOME"


@dataclass(frozen=True)
class AppDirs:
    """The folders the app uses; created on first use by ``ensure``."""

    config: Path
    data: Path
    cache: Path
    logs: Path

    @property
    def models(self) -> Path:
        """Default folder for downloaded and quantized models."""
        return self.data / "models"

    def ensure(self) -> AppDirs:
        """Create every folder if missing and return self."""
        for folder in (self.config, self.data, self.cache, self.logs, self.models):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def app_dirs(home: str | os.PathLike[str] | None = None) -> AppDirs:
    """Return the app's folders.

    Args:
        home: A single root folder for everything. Defaults to the
            ``FIMBLE_HOME`` environment variable, and when that is unset the
            platform's usual per-user folders are used.

    Returns:
        The folders; they are not created until ``AppDirs.ensure`` is called.
    """
    root = home if home is not None else os.environ.get(HOME_ENV)
    if root:
        base = Path(root).expanduser()
        return AppDirs(base / "config", base / "data", base / "cache", base / "logs")
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppDirs(
        Path(dirs.user_config_dir),
        Path(dirs.user_data_dir),
        Path(dirs.user_cache_dir),
        Path(dirs.user_log_dir),
    )


def engine_log_path(name: str) -> str:
    """The log file of the engine host called ``name`` (``logs/engine-<name>.log``), its folder made."""
    logs = app_dirs().logs
    logs.mkdir(parents=True, exist_ok=True)
    return str(logs / f"engine-{name}.log")


def resource_path(*parts: str) -> Path:
    """Return the path of a bundled resource, frozen or not.

    Args:
        *parts: Path components below the ``resources`` folder.

    Returns:
        The absolute path; in a PyInstaller bundle it lies under ``sys._MEIPASS``.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        base = Path(frozen_root) / "resources"
    else:
        base = Path(__file__).resolve().parents[2] / "resources"
    return base.joinpath(*parts)
