"""API keys of remote engines: in the OS keyring where there is one, otherwise in a 0600 file.

Keys never go into the settings file. ``KeyStore`` keeps one key per server
base URL under the service name ``fimble-remote``, through the ``keyring``
package (Keychain on macOS, Credential Locker on Windows, the Secret Service
or KWallet on Linux). Where no keyring works (a headless box, a desktop
without a Secret Service), keys go to ``remote-keys.json`` in the config
folder, written atomically and readable by the owner only.

A keyring may be slow (D-Bus) or ask the user to unlock it, so the window
calls this from the engine thread, never from the GUI thread.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from app.core.errors import one_line
from app.core.files import write_text_atomic

SERVICE = "fimble-remote"
KEYS_FILE = "remote-keys.json"

_log = logging.getLogger(__name__)


def _usable_keyring() -> Any | None:
    """The keyring backend, or None when only the 'fail' backend (no keyring) is there."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    return backend


class KeyStore:
    """API keys by server URL.

    Args:
        config_dir: Where the fallback file goes.
        backend: A keyring backend to use; None picks the system's, "file" forces the file.
    """

    def __init__(self, config_dir: Path, backend: Any | None = None) -> None:
        self._file = Path(config_dir) / KEYS_FILE
        self._backend = _usable_keyring() if backend is None else (None if backend == "file" else backend)

    @property
    def where(self) -> str:
        """Where keys are kept, for the dialog ("the system keyring (…)" or the file's path)."""
        if self._backend is not None:
            name = getattr(self._backend, "name", type(self._backend).__name__)
            return f"the system keyring ({name})"
        return f"{self._file} (readable by you only)"

    def get(self, url: str) -> str | None:
        """The key stored for ``url``, or None."""
        if self._backend is not None:
            try:
                value = self._backend.get_password(SERVICE, url)
            except Exception as exc:  # noqa: BLE001 - any keyring failure: fall back to the file
                _log.warning("the keyring could not be read (%s); using %s", one_line(exc), self._file)
            else:
                return value if isinstance(value, str) and value else self._read().get(url)
        return self._read().get(url)

    def set(self, url: str, key: str) -> str:
        """Store ``key`` for ``url``; return where it went."""
        if self._backend is not None:
            try:
                self._backend.set_password(SERVICE, url, key)
            except Exception as exc:  # noqa: BLE001 - locked or broken keyring: the private file
                _log.warning("the keyring refused the key (%s); keeping it in %s", one_line(exc), self._file)
            else:
                self._drop_from_file(url)
                return self.where
        keys = self._read()
        keys[url] = key
        write_text_atomic(self._file, json.dumps(keys, indent=2), private=True)
        return f"{self._file} (readable by you only)"

    def delete(self, url: str) -> None:
        """Forget the key for ``url`` wherever it is."""
        if self._backend is not None:
            try:
                self._backend.delete_password(SERVICE, url)
            except Exception:  # noqa: BLE001,S110 - nothing stored there, or no keyring after all
                pass
        self._drop_from_file(url)

    def _drop_from_file(self, url: str) -> None:
        keys = self._read()
        if url in keys:
            del keys[url]
            write_text_atomic(self._file, json.dumps(keys, indent=2), private=True)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.warning("cannot read %s: %s", self._file, one_line(exc))
            return {}
        if not isinstance(data, dict):
            return {}
        if os.name == "posix" and self._file.stat().st_mode & 0o077:
            os.chmod(self._file, 0o600)  # someone widened it: keys are for the owner only
        return {str(k): v for k, v in data.items() if isinstance(v, str)}
