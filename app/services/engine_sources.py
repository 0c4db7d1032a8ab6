"""Where a role's engine comes from: a GGUF in a host process, or a model on a remote server.

The engine thread calls ``make_remote_engine`` for a ``RemoteTarget``: it
stores or forgets the API key the user gave (the keyring may be slow, so this
never runs on the GUI thread) and makes a ``RemoteEngine`` with the stored key.
"""

from __future__ import annotations

from collections.abc import Callable

from app.core.paths import app_dirs
from app.core.remote.choice import RemoteTarget
from app.core.remote.secrets import KeyStore
from app.engine.client import Engine

RemoteFactory = Callable[[str, RemoteTarget], Engine]


def key_store() -> KeyStore:
    """The API keys of remote engines, kept beside the settings when no keyring works."""
    return KeyStore(app_dirs().config)


def make_remote_engine(role: str, target: RemoteTarget) -> Engine:
    """A ``RemoteEngine`` for ``target``, after storing or forgetting the key it carries."""
    from app.engine.remote.engine import RemoteEngine  # HTTP client and GGUF reader: only when used

    keys = key_store()
    url = target.choice.url
    if target.forget_key:
        keys.delete(url)
        key = None
    elif target.new_key:
        keys.set(url, target.new_key)
        key = target.new_key
    else:
        key = keys.get(url)
    return RemoteEngine(role, url, key, family=target.choice.family)


def model_name(source: str | RemoteTarget) -> str:
    """What ``Engine.load`` is given: a GGUF's path, or the model's name on the server ("" for its first)."""
    return source.choice.model if isinstance(source, RemoteTarget) else source


def same_engine(made_for: str | RemoteTarget | None, source: str | RemoteTarget | None) -> bool:
    """Whether an engine made for ``made_for`` can serve ``source`` (one host serves any GGUF)."""
    if not isinstance(made_for, RemoteTarget) or not isinstance(source, RemoteTarget):
        return not isinstance(made_for, RemoteTarget) and not isinstance(source, RemoteTarget)
    if source.new_key is not None or source.forget_key:
        return False  # a new key needs a new connection
    before, now = made_for.choice, source.choice
    return (before.url, before.model, before.family) == (now.url, now.model, now.family)
