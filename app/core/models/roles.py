"""The roles a loaded model serves in the app: answering chats, or completing code."""

from __future__ import annotations

from enum import Enum


class ModelRole(str, Enum):
    """A role a model is assigned to.

    The value is the key settings, signals and dictionaries use ("chat",
    "completion"); ``label`` is the word the window shows. Being a ``str``,
    a role compares equal to its value, so ``"chat" in loaded`` still works.
    """

    CHAT = "chat"
    COMPLETION = "completion"

    @property
    def label(self) -> str:
        """The role as the window names it: "Chat" or "Completion"."""
        return self.value.capitalize()

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        # Text shows the value on every Python version, not "ModelRole.CHAT".
        return format(self.value, spec)
