"""Qt's own messages go to the app log, and thread misuse is counted.

Qt reports a QObject, QTimer or QThread used from the wrong thread with a
warning ("Timers cannot be stopped from another thread", "QThread: Destroyed
while thread is still running", ...) and carries on; the crash comes later,
somewhere else. Logging every Qt message puts that warning in the user's log,
and ``thread_warnings()`` lets the soak benchmark count them.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

from PySide6.QtCore import QtMsgType, qInstallMessageHandler

log = logging.getLogger("app.qt")

# Messages Qt prints when an object is used from the wrong thread.
THREAD_MISUSE = re.compile(r"thread", re.IGNORECASE)
_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
_lock = threading.Lock()
_thread_warnings: list[str] = []
_previous = None
_installed = False


def is_thread_warning(message: str) -> bool:
    """Whether a Qt message is about a thread (the kind that precedes a crash)."""
    return bool(THREAD_MISUSE.search(message))


def _handle(kind, context, message: str) -> None:
    level = _LEVELS.get(kind, logging.WARNING)
    if level >= logging.WARNING and is_thread_warning(message):
        with _lock:
            _thread_warnings.append(message)
    log.log(level, "%s", message)
    if _previous is not None:
        _previous(kind, context, message)
    elif level >= logging.WARNING:
        print(message, file=sys.stderr)  # what Qt's default handler would have shown


def install_qt_message_log() -> None:
    """Route Qt's messages to the ``app.qt`` logger as well as where they went before (once)."""
    global _previous, _installed
    if not _installed:
        _previous = qInstallMessageHandler(_handle)
        _installed = True


def thread_warnings() -> list[str]:
    """The thread warnings Qt printed since the handler was installed."""
    with _lock:
        return list(_thread_warnings)
