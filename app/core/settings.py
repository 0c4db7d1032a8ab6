"""User settings, stored as JSON in the config folder."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.core.load_params import LoadParams

SETTINGS_FILE = "settings.json"


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

    def load_params(self, role: str) -> LoadParams:
        """Return the load settings for ``role`` ("chat" or "completion")."""
        return LoadParams.from_dict(self.chat_params if role == "chat" else self.completion_params)

    def model_for(self, role: str) -> str | None:
        """Return the configured model path for ``role``."""
        return self.chat_model if role == "chat" else self.completion_model


def load_settings(config_dir: Path) -> Settings:
    """Read settings; a missing or unreadable file gives the defaults.

    Args:
        config_dir: The config folder.

    Returns:
        The settings.
    """
    try:
        data = json.loads((config_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    known = Settings.__dataclass_fields__
    return Settings(**{k: v for k, v in data.items() if k in known})


def save_settings(config_dir: Path, settings: Settings) -> None:
    """Write settings atomically."""
    config_dir.mkdir(parents=True, exist_ok=True)
    target = config_dir / SETTINGS_FILE
    temp = target.with_suffix(".tmp")
    temp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
    os.replace(temp, target)
