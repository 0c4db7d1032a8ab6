"""Quit like File → Quit on Ctrl+C (SIGINT), SIGTERM or SIGHUP, and when the desktop session ends.

On Linux the end of a session reaches a program as SIGHUP (its terminal or
session went away) or SIGTERM (logind, systemd, or the session leader ending
it): the Qt build in the PySide6 wheels has no X session-management client,
so ``commitDataRequest`` comes only on platforms whose session manager talks
to Qt (Windows, macOS); it takes the same path.

Python runs a signal handler only between bytecodes of the main thread, and
Qt's event loop can sit in C++ for a long time; the default SIGINT handler
then raises ``KeyboardInterrupt`` inside whichever slot runs next. Here the
handler does nothing but note the signal. ``signal.set_wakeup_fd`` makes
the interpreter's C-level handler write the signal number to a socket,
whose ``QSocketNotifier`` wakes the event loop; the notifier's slot, on the
GUI thread, asks the window to quit without questions
(``MainWindow.quit_quietly``): unsaved buffers go to the recovery folder,
engines and their hosts are stopped, and the event loop ends with status 0.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from types import FrameType

from PySide6.QtCore import QObject, QSocketNotifier, Slot
from PySide6.QtGui import QSessionManager
from PySide6.QtWidgets import QApplication

QUIT_SIGNALS = tuple(
    number for number in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if number is not None
)

_log = logging.getLogger(__name__)


class QuitOnSignal(QObject):
    """Turns SIGINT, SIGTERM, SIGHUP and the end of the desktop session into one quiet quit."""

    def __init__(self, app: QApplication) -> None:
        """Install the handlers (from the main thread, before the window is made).

        ``on_quit(reason)`` is then called on the GUI thread, at most once;
        until it is set, a quit ends the event loop.
        """
        super().__init__(app)
        self.on_quit: Callable[[str], None] | None = None
        self.received: int | None = None  # the last signal noted by the handler
        self.quitting = False
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        # A signal the app was started with ignored stays ignored: ``nohup`` (SIGHUP), or a job
        # started in the background by a shell (SIGINT).
        handled = [number for number in QUIT_SIGNALS if signal.getsignal(number) is not signal.SIG_IGN]
        self._previous = {number: signal.signal(number, self._note) for number in handled}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wakeup)
        app.commitDataRequest.connect(self._on_session_end)
        app.aboutToQuit.connect(self._on_about_to_quit)

    def _note(self, number: int, _frame: FrameType | None) -> None:
        """The Python-level handler: only notes the signal; the socket wakes the event loop."""
        self.received = number

    @Slot()
    def _on_wakeup(self) -> None:
        numbers: set[int] = set()
        try:
            while chunk := self._reader.recv(64):
                numbers.update(chunk)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            _log.warning("signal wake-up socket failed: %s", exc)
        if self.received is not None:
            numbers.add(self.received)
        wanted = [number for number in QUIT_SIGNALS if number in numbers]
        if wanted:
            self.quit(signal.Signals(wanted[0]).name)

    @Slot(QSessionManager)
    def _on_session_end(self, _manager: QSessionManager) -> None:
        self.quit("the desktop session is ending")

    @Slot()
    def _on_about_to_quit(self) -> None:
        self.quit("the application is quitting")

    def quit(self, reason: str) -> None:
        """Quit quietly, once; later signals while quitting are ignored."""
        if self.quitting:
            return
        self.quitting = True
        _log.info("quitting: %s", reason)
        if self.on_quit is not None:
            self.on_quit(reason)
        else:
            QApplication.quit()

    def uninstall(self) -> None:
        """Put back the previous handlers and wake-up fd, and close the socket pair."""
        self._notifier.setEnabled(False)
        for number, handler in self._previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()
