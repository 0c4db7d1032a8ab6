"""``python -m bench screenshot``: the README's picture of the window, made from the real window.

The window starts as a new user's does (the starter model in both roles, so
the welcome card shows its offers for this machine; tiny generated models
when the starter is not installed), in a private home folder, offscreen
unless a display is set. A short chat exchange is written into its chat
store first, so the picture shows the same conversation on every run, and a
Python file is opened in the editor. Once both models have loaded, the
window is grabbed into ``resources/screenshots/fimble.png``.

Prints ``{"path": …, "width": …, "height": …, "bytes": …, "models": …}``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "resources" / "screenshots" / "fimble.png"
SIZE = (1280, 800)
LOAD_TIMEOUT_S = 120.0

QUESTION = "Write a Python function that reverses the words in a sentence."
ANSWER = """Split on whitespace, reverse the list, and join it again:

```python
def reverse_words(sentence: str) -> str:
    \"\"\"Return the words of ``sentence`` in reverse order.\"\"\"
    return " ".join(reversed(sentence.split()))
```

`split()` with no argument also drops leading, trailing and repeated spaces."""

SOURCE = '''"""Small text helpers."""


def reverse_words(sentence: str) -> str:
    """Return the words of ``sentence`` in reverse order."""
    return " ".join(reversed(sentence.split()))


def word_count(text: str) -> int:
    """Count the words in ``text``."""
    return len(text.split())


if __name__ == "__main__":
    print(reverse_words("the quick brown fox"))
    print(word_count("the quick brown fox"))
'''


def run(quick: bool = False, output: Path = OUTPUT, starter: bool | None = None) -> dict:
    """Start the window, stage it, grab it into ``output``, and close it.

    Args:
        quick: Unused (the picture takes as long as the models take to load).
        output: Where the PNG goes.
        starter: Use the starter model (None: when it is installed); False
            uses tiny generated models, with which no welcome card shows.

    Returns:
        The PNG's path, size in pixels and bytes, and which models the window ran.
    """
    saved = {name: os.environ.get(name) for name in ("FIMBLE_HOME", "QT_QPA_PLATFORM")}
    try:
        with tempfile.TemporaryDirectory(prefix="fimble-screenshot-") as folder:
            os.environ["FIMBLE_HOME"] = str(Path(folder) / "home")
            if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
                os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            return _shoot(Path(folder), Path(output), starter)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _settings(folder: Path, starter: bool | None):
    from app.core.models.starter import starter_available
    from app.core.settings import Settings

    if starter or (starter is None and starter_available()):
        return Settings(), "starter"
    from app.selftest.tiny_gguf import write_tiny_gguf

    chat = write_tiny_gguf(folder / "models" / "tiny-chat.gguf", "generic")
    completion = write_tiny_gguf(folder / "models" / "tiny-codegemma.gguf", "codegemma")
    return Settings(chat_model=str(chat), completion_model=str(completion)), "tiny"


def _seed_chat() -> None:
    from app.core.chat.store import ChatStore
    from app.core.paths import app_dirs

    store = ChatStore(app_dirs().ensure().data / "chats.sqlite3")
    try:
        conversation = store.create_conversation()
        store.add_message(conversation.id, "user", QUESTION)
        store.add_message(conversation.id, "assistant", ANSWER)
    finally:
        store.close()


def _shoot(folder: Path, output: Path, starter: bool | None) -> dict:
    from PySide6.QtWidgets import QApplication

    from app.ui.main_window import MainWindow
    from bench.common import wait_until

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings, models = _settings(folder, starter)
    _seed_chat()
    source = folder / "text_tools.py"
    source.write_text(SOURCE, encoding="utf-8")
    window = MainWindow(settings)
    window.resize(*SIZE)
    window.show()
    window.open_path(str(source))
    try:
        started = time.perf_counter()
        wait_until(app, lambda: _both_loaded(window), LOAD_TIMEOUT_S, tick_ms=50)
        card = window.welcome
        wait_until(app, lambda: card.isHidden() or bool(card.setups), 30.0, tick_ms=50)
        _settle(app)
        output.parent.mkdir(parents=True, exist_ok=True)
        image = window.grab().toImage()
        if not image.save(str(output), "PNG", 0):  # quality 0: the smallest PNG
            raise RuntimeError(f"cannot write {output}")
        seconds = time.perf_counter() - started
    finally:
        window.close()
        app.processEvents()
    return {
        "path": str(output.relative_to(ROOT) if output.is_relative_to(ROOT) else output),
        "width": image.width(),
        "height": image.height(),
        "bytes": output.stat().st_size,
        "models": models,
        "load_s": round(seconds, 1),
    }


def _both_loaded(window) -> bool:
    """Whether each role's status shows a model (or why not) rather than a load under way."""
    busy = ("starting", "loading", "connecting")
    return not any(word in status.label.text() for status in window.model_roles.status.values() for word in busy)


def _settle(app) -> None:
    """Let layouts, the chat view's rendering and the highlighter finish."""
    end = time.perf_counter() + 1.0
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.02)
