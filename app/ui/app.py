"""Start the GUI."""

from __future__ import annotations

import sys

from app.core.app_log import setup_app_log
from app.core.paths import app_dirs, resource_path
from app.core.settings import open_settings


def run_gui(argv: list[str] | None = None, files: list[str] | None = None) -> int:
    """Create the application and main window, open ``files``, and run the event loop."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.services.engine_worker import wait_for_lingering
    from app.services.model_jobs import wait_for_lingering_jobs
    from app.ui.main_window import MainWindow
    from app.ui.qt_messages import install_qt_message_log
    from app.ui.quit_signals import QuitOnSignal

    dirs = app_dirs().ensure()
    setup_app_log(dirs.logs)
    install_qt_message_log()
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv if argv is not None else sys.argv)
    app.setApplicationName("Fimble")
    app.setOrganizationName("Fimble")
    icon = resource_path("icons", "fimble.png")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    # Ctrl+C, SIGTERM and the session's end quit like File → Quit, without questions or a traceback.
    quitter = QuitOnSignal(app)
    try:
        opened = open_settings(dirs.config)
        window = MainWindow(opened.settings, settings_notice=opened.notice)
        quitter.on_quit = window.quit_quietly
        window.start_failed.connect(app.quit)  # raised below, once the loop has ended
        window.show()
        for path in files or []:
            window.open_path(path)
        code = app.exec()
        # A thread still ending must not be destroyed while it runs: Qt would abort.
        wait_for_lingering()
        wait_for_lingering_jobs()
        if window.start_error is not None:  # the engines or services failed to start after the paint
            raise window.start_error
    finally:
        quitter.uninstall()
    return code
