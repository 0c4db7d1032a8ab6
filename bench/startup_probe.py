"""One startup sample: show a window, print when its first frame is done, quit.

Run as ``python -m bench.startup_probe fimble|baseline``. The top-level
window's first Paint event starts its first frame; the children paint after it
in the same pass. On the next event-loop turn, when the whole frame has been
painted, the probe prints one line to stdout::

    FIRST_PAINT <time.time() then> <Qt platform name> <services ms>

and then closes the window and leaves the event loop. Fimble's window makes
its engines, chat store and services just after its first frame; the last
field is how long that took, on the GUI thread (``-`` for the baseline). ``fimble`` builds
Fimble's real main window (which starts its engine hosts in the background);
``baseline`` builds a bare ``QMainWindow`` holding a ``QLabel`` and never
imports ``app``.

Nothing but the standard library is imported at module level: Fimble's
engine hosts are started with ``spawn``, which imports this module again in
every host process.
"""

from __future__ import annotations

import sys
import time

MARKER = "FIRST_PAINT"
SIDES = ("fimble", "baseline")


def _baseline_window():
    from PySide6.QtWidgets import QLabel, QMainWindow

    window = QMainWindow()
    window.setWindowTitle("Baseline")
    window.resize(1280, 800)
    window.setCentralWidget(QLabel("Hello"))
    return window


def _fimble_window():
    from app.core.settings import Settings
    from app.ui.main_window import MainWindow

    return MainWindow(Settings())


def _watch_first_paint(window, app) -> None:
    """Print when ``window``'s first frame is painted (children included), then close and quit."""
    from PySide6.QtCore import QEvent, QObject, QTimer, Slot

    class FirstPaint(QObject):
        seen = False

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
            if not self.seen and watched is window and event.type() == QEvent.Type.Paint:
                self.seen = True
                QTimer.singleShot(0, self, self.painted)  # after the children's paint in this pass
            return False

        @Slot()
        def painted(self) -> None:
            stamp = time.time()
            services = "-"
            if hasattr(type(window), "services"):  # Fimble's (the property, not yet read)
                started = time.perf_counter()
                window.services  # noqa: B018 - what the window makes next
                services = f"{(time.perf_counter() - started) * 1000:.1f}"
            print(f"{MARKER} {stamp:.6f} {app.platformName()} {services}", flush=True)
            window.close()  # Fimble's closeEvent stops its engine threads and hosts
            app.quit()

    window.installEventFilter(FirstPaint(window))


def main(argv: list[str] | None = None) -> int:
    """Run one probe.

    Args:
        argv: The arguments after the module name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status: 0 after a painted window, 2 on a usage error.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in SIDES:
        print(f"startup_probe: error: expected one of {', '.join(SIDES)}", file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    window = _fimble_window() if argv[0] == "fimble" else _baseline_window()
    _watch_first_paint(window, app)
    window.show()
    status = app.exec()
    if argv[0] == "fimble":  # as the app does: a worker thread still ending must not be destroyed running
        from app.services.engine_worker import wait_for_lingering
        from app.services.model_jobs import wait_for_lingering_jobs

        wait_for_lingering()
        wait_for_lingering_jobs()
    del window  # destroy the Qt objects before the interpreter shuts down
    return status


if __name__ == "__main__":
    sys.exit(main())
