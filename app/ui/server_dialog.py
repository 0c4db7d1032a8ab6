"""Models → Local Server…: serve the window's models to other editors and scripts.

The dialog starts and stops the window's ``LocalServerControl`` and shows
what a client needs: the address (OpenAI's ``/v1`` and llama.cpp's
``/infill``), the bearer token with Copy and New token, how many requests
came and how many wait behind the window's own work, and the last error.
Listening on an address other machines can reach needs a tick first.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.server import DEFAULT_PORT
from app.server.runner import ServerError, is_loopback
from app.ui.local_server import LocalServerControl

REFRESH_MS = 500
STATE_TEXT = {"off": "Off", "starting": "Starting…", "stopping": "Stopping…"}


class ServerDialog(QDialog):
    """Start/stop the window's server and show its address, token and counts."""

    def __init__(self, control: LocalServerControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Local Server")
        self.control = control
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        intro = QLabel(
            "Serve the models this window uses to other editors and scripts (OpenAI-compatible API and"
            " llama.cpp's /infill). The window's own completions always go first."
        )
        intro.setWordWrap(True)
        self.status = QLabel()
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.host = QLineEdit("127.0.0.1")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setToolTip("0 picks a free port")
        self.expose = QCheckBox("Let other machines connect (the token is still required)")
        self.token = QLineEdit()
        self.token.setReadOnly(True)
        self.token.setFont(mono)
        self.copy_button = QPushButton("Copy")
        self.new_token_button = QPushButton("New token")
        self.new_token_button.setToolTip("Make a new token; clients with the old one are refused")
        token_row = QHBoxLayout()
        token_row.addWidget(self.token, 1)
        token_row.addWidget(self.copy_button)
        token_row.addWidget(self.new_token_button)
        self.requests = QLabel("0")
        self.error = QLabel()
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Status:", self.status)
        form.addRow("Address:", self.host)
        form.addRow("Port:", self.port)
        form.addRow("", self.expose)
        form.addRow("Token:", token_row)
        form.addRow("Requests:", self.requests)
        form.addRow("Last error:", self.error)
        self.toggle = QPushButton("Start server")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.toggle, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.toggle.clicked.connect(self._toggle)
        self.copy_button.clicked.connect(self._copy_token)
        self.new_token_button.clicked.connect(self._new_token)
        self.host.textChanged.connect(self._host_changed)
        control.changed.connect(self.refresh)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._message = ""
        if control.server is not None:
            self.host.setText(control.server.host)
            self.port.setValue(control.server.port)
        self._host_changed(self.host.text())
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Show the control's state, address, token and counts."""
        control = self.control
        if control.state == "on":
            url = control.url
            self.status.setText(f"Serving on {url}  (OpenAI API: {url}/v1, infill: {url}/infill)")
        else:
            self.status.setText(STATE_TEXT.get(control.state, control.state))
        self.toggle.setText("Stop server" if control.state in ("on", "stopping") else "Start server")
        self.toggle.setEnabled(control.state in ("on", "off"))
        for field in (self.host, self.port, self.expose):
            field.setEnabled(control.state == "off")
        self.token.setText(control.token)
        waiting = sum(control.scheduler.waiting(role) for role in control.scheduler.controllers)
        self.requests.setText(f"{control.requests}" + (f"  ({waiting} waiting)" if waiting else ""))
        self.error.setText(self._message or control.last_error or "none")

    @Slot(str)
    def _host_changed(self, host: str) -> None:
        remote = bool(host.strip()) and not is_loopback(host.strip())
        self.expose.setVisible(remote)
        if not remote:
            self.expose.setChecked(False)

    @Slot()
    def _toggle(self) -> None:
        self._message = ""
        if self.control.state == "on":
            self.control.stop()
            return
        try:
            self.control.start(self.host.text(), self.port.value(), expose=self.expose.isChecked())
        except ServerError as exc:
            self._message = str(exc)
        self.refresh()

    @Slot()
    def _copy_token(self) -> None:
        QGuiApplication.clipboard().setText(self.control.token)
        self._message = ""
        self.status.setText(self.status.text() + "  ·  token copied")

    @Slot()
    def _new_token(self) -> None:
        self.control.new_token()  # its ``changed`` refreshes the dialog

    def done(self, result: int) -> None:  # noqa: D102 - QDialog override: stop refreshing once closed
        self._timer.stop()
        super().done(result)
