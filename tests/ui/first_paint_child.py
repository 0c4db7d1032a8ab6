"""Child process for test_startup_imports: paint the real window once and print what was imported by then.

Runs as ``python first_paint_child.py``, with ``FIMBLE_HOME`` set by the test.
When the window's first frame has been painted (the turn after its first Paint
event), prints two lines: ``MODULES`` followed by every module name in
``sys.modules``, and ``QTTYPES`` followed by the QtWidgets classes PySide has
made Python types for by then. Then it closes the window and exits.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication


class _Report(QObject):
    def __init__(self, window, app: QApplication) -> None:
        super().__init__(window)
        self._window, self._app = window, app
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self._window and event.type() == QEvent.Type.Paint:
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, self, self._finish)  # the children paint in the same pass
        return False

    @Slot()
    def _finish(self) -> None:
        from PySide6 import QtWidgets

        print("MODULES", " ".join(sorted(sys.modules)), flush=True)
        made = sorted(name for name, value in vars(QtWidgets).items() if isinstance(value, type))
        print("QTTYPES", " ".join(made), flush=True)
        self._window.close()
        self._app.quit()


def main() -> int:
    app = QApplication([sys.argv[0]])
    from app.core.settings import Settings
    from app.ui.main_window import MainWindow

    window = MainWindow(Settings())
    _Report(window, app)
    window.show()
    status = app.exec()
    from app.services.engine_worker import wait_for_lingering

    wait_for_lingering()
    del window
    return status


if __name__ == "__main__":
    sys.exit(main())
