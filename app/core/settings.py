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
