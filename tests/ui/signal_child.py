"""The app as ``python -m app`` starts it, in a child process, with an unsaved buffer typed in.

Run as ``python tests/ui/signal_child.py`` with ``FIMBLE_HOME`` set (its settings
name the models) and ``QT_QPA_PLATFORM=offscreen``. It makes the application
object, arms a timer that waits for the main window's models to load and then
types into a new untitled tab, and runs the ``fimble`` entry point
(``app.cli.main``), which builds the window and runs the event loop as usual.
It prints one JSON object per line: ``typed`` with the engine hosts' pids and
the buffer's text. The parent test then sends it a signal.
"""

from __future__ import annotations

import json
import signal
import sys

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

TYPED = "notes nobody saved yet"


class Driver(QObject):
    """Polls for the main window; once both models are loaded, types into a new buffer."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.step)
        self.timer.start()

    @Slot()
    def step(self) -> None:
        """Act once, when the window has loaded both models."""
        from app.ui.main_window import MainWindow

        window = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)
        if window is None or set(window.loaded_models) != {"chat", "completion"}:
            return
        self.timer.stop()
        tab = window.editor_pane.tabs.new_tab()
        QTest.keyClicks(tab.editor, TYPED)
        engines = [c.worker.engine for c in (window.chat_engine, window.completion_engine)]
        hosts = [engine.pid for engine in engines if engine is not None and engine.pid is not None]
        print(json.dumps({"event": "typed", "hosts": hosts, "text": tab.editor.toPlainText()}), flush=True)


def main() -> int:
    # As from a terminal: a test run started in the background (SIGINT ignored) or under
    # nohup (SIGHUP ignored) must not pass that on, since the app keeps an ignored signal ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    app = QApplication([sys.argv[0]])
    Driver(app)
    from app.cli import main as fimble

    return fimble([])


if __name__ == "__main__":
    sys.exit(main())
