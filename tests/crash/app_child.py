"""The whole app in a child process, driven to a state worth killing it in.

Run as ``python tests/crash/app_child.py MODE [FILE]`` with ``FIMBLE_HOME`` set
and ``QT_QPA_PLATFORM=offscreen``; the settings in that home name the models.
It builds the real main window, then:

- ``chat``: once both models are loaded, starts a conversation whose answer
  never ends (a huge token limit, end-of-text ignored) and sends a message;
- ``edit``: opens FILE and types into it, and types into a new untitled buffer.

It prints one JSON object per line on stdout as it goes (``ready`` with the
engine hosts' pids, then ``sent`` or ``typed``), and runs until it is killed.
"""

from __future__ import annotations

import json
import sys

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.core.paths import app_dirs
from app.core.settings import load_settings
from app.ui.main_window import MainWindow

MESSAGE = "Write the longest story you can about a lighthouse keeper"
FOREVER = {"max_tokens": 1_000_000, "temperature": 0.8, "ignore_eos": True}
FILE_TYPING = "more words typed after opening"
UNTITLED_TYPING = "notes nobody saved yet"


def say(event: str, **fields) -> None:
    """Tell the parent test what happened, one JSON object per line."""
    print(json.dumps({"event": event, **fields}), flush=True)


class Driver(QObject):
    """Steps the window through the mode's actions from the GUI thread."""

    def __init__(self, window: MainWindow, mode: str, file: str | None) -> None:
        super().__init__(window)
        self.window, self.mode, self.file = window, mode, file
        self.done = False
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.step)
        self.timer.start()

    def _hosts(self) -> list[int]:
        engines = [c.worker.engine for c in (self.window.chat_engine, self.window.completion_engine)]
        return [engine.pid for engine in engines if engine is not None and engine.pid is not None]

    @Slot()
    def step(self) -> None:
        """Act once both models are loaded."""
        if self.done or set(self.window.loaded_models) != {"chat", "completion"}:
            return
        self.done = True
        self.timer.stop()
        say("ready", hosts=self._hosts())
        if self.mode == "chat":
            self.chat()
        else:
            self.edit()

    def chat(self) -> None:
        """Send a message whose answer streams until the process dies."""
        service = self.window.chat_service
        conversation = service.new_conversation()
        self.window.chat_store.set_sampling(conversation.id, FOREVER)
        self.window.chat_pane.input.setPlainText(MESSAGE)
        self.window.chat_pane.send()
        say("sent", conversation=conversation.id, message=MESSAGE)

    def edit(self) -> None:
        """Type into an opened file and into an untitled buffer, leaving both unsaved."""
        tabs = self.window.editor_pane.tabs
        self.window.open_path(self.file)
        opened = tabs.current_tab()
        editor = opened.editor
        cursor = editor.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        editor.setTextCursor(cursor)
        QTest.keyClicks(editor, FILE_TYPING)
        untitled = tabs.new_tab()
        QTest.keyClicks(untitled.editor, UNTITLED_TYPING)
        say(
            "typed",
            buffers=[
                {"path": tab.path, "text": tab.editor.toPlainText(), "modified": tab.modified}
                for tab in (opened, untitled)
            ],
        )


def main(argv: list[str]) -> int:
    mode = argv[1]
    file = argv[2] if len(argv) > 2 else None
    app = QApplication([argv[0]])
    window = MainWindow(load_settings(app_dirs().ensure().config))
    window.show()
    driver = Driver(window, mode, file)  # noqa: F841 - a child of the window
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
