"""Do the GUI's one-time Python work on a background thread, before the user asks for it.

Left to itself, the first open of the model manager imported ``gguf`` and
``huggingface_hub`` on the GUI thread (about 0.6 s on a small laptop CPU), and the
first file of each language compiled its Pygments lexer's regular expressions
there (0.1 to 0.4 s each). A daemon thread does both shortly after the window has
painted: importing a module, or making a lexer once, caches the result for the
whole process, so the GUI thread later finds it ready. The thread touches no Qt
object and emits nothing.
"""

from __future__ import annotations

import importlib
import logging
import threading

from app.core.editor.languages import LANGUAGES

log = logging.getLogger(__name__)

# What the model manager and its panels import when they first open, and the
# block lexers a file in a real language needs (an untitled tab does not).
MODULES = (
    "app.core.models.library",
    "app.core.hub.client",
    "app.core.hub.downloader",
    "app.core.models.catalog",
    "app.engine.quantizer",
    "app.core.hub.pull_plan",
    "app.services.model_jobs",
    "app.ui.models_dialog",
    "app.ui.block_lexers",
)


def _warm() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the GUI thread will import it and report
            log.warning("prewarming %s failed", name, exc_info=True)
    from pygments.lexers import get_lexer_by_name

    for language in LANGUAGES.values():
        try:
            get_lexer_by_name(language.lexer)  # the first instance compiles the class's rules
        except Exception:  # noqa: BLE001 - highlighting falls back to plain text
            log.warning("prewarming the %s lexer failed", language.lexer, exc_info=True)


def prewarm_in_background() -> threading.Thread:
    """Start the background thread that imports the manager's modules and compiles every lexer."""
    thread = threading.Thread(target=_warm, name="fimble-prewarm", daemon=True)
    thread.start()
    return thread
