"""A role's remote engine as the settings hold it: a server URL, a model name and a family.

``RemoteChoice`` is what the window's Engines dialog saves per role, without
the API key (that lives in ``core/remote/secrets``). ``RemoteTarget`` is what
the engine thread is asked to load: the choice plus, when the user just typed
one, the key to store. ``check_url`` turns what a person typed into a base URL
or one line saying what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

# The families a user may pick; None (the default) detects it from the model id.
FAMILIES = ("codegemma", "codellama", "generic")


def check_url(text: str) -> str:
    """Return the server's base URL from what the user typed.

    ``gpu-box:8000`` becomes ``http://gpu-box:8000``; a trailing ``/`` or
    ``/v1`` is dropped, since Fimble adds the API paths itself.

    Raises:
        ValueError: One line saying what is wrong (no host, a bad port, a scheme other than http or https).
    """
    url = text.strip()
    if not url:
        raise ValueError("give the server's URL, e.g. http://gpu-box:8000")
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{text.strip()}: the URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"{text.strip()}: the URL names no host")
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number or out of range
    except ValueError:
        raise ValueError(f"{text.strip()}: the port is not a number from 1 to 65535") from None
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def where(url: str) -> str:
    """Return ``host:port`` of a base URL, as the status bar shows it (``gpu-box:8000``)."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    host = parts.hostname or url
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port is not None else host


@dataclass(frozen=True)
class RemoteChoice:
    """One role's remote engine.

    Attributes:
        url: The server's base URL (checked by ``check_url``).
        model: The model on the server; "" means the one it serves first.
        family: The prompt family; None detects it from the model id.
        active: Whether the role uses this server now (False: the local model,
            with the server remembered for next time).
    """

    url: str
    model: str = ""
    family: str | None = None
    active: bool = True

    def to_dict(self) -> dict[str, object]:
        """The settings file's form."""
        return {"url": self.url, "model": self.model, "family": self.family, "active": self.active}

    @classmethod
    def from_dict(cls, data: object) -> RemoteChoice:
        """Read the settings file's form.

        Raises:
            ValueError: The value is not a dict of the right shape.
        """
        if not isinstance(data, dict):
            raise ValueError("a remote engine must be an object")
        url, model, family, active = data.get("url"), data.get("model", ""), data.get("family"), data.get("active")
        if not isinstance(url, str) or not isinstance(model, str) or not isinstance(active, bool):
            raise ValueError("a remote engine needs a text url and model and a true/false active")
        if family is not None and family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}")
        return cls(check_url(url), model, family, active)


def valid_remotes(value: object) -> bool:
    """Whether a settings value maps roles to remote engines of the right shape."""
    if not isinstance(value, dict):
        return False
    try:
        for role, choice in value.items():
            if role not in ("chat", "completion"):
                return False
            RemoteChoice.from_dict(choice)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class RemoteTarget:
    """What a role's engine thread is asked to load: a remote choice, and a key to store if one was typed.

    Attributes:
        choice: The server, model and family.
        new_key: A key the user just typed, stored by the engine thread
            before it connects; None keeps the stored one.
        forget_key: Remove the stored key (and send none).
    """

    choice: RemoteChoice
    new_key: str | None = field(default=None, repr=False)
    forget_key: bool = False

    def __str__(self) -> str:
        return self.choice.url
