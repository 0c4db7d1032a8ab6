"""The Engines dialog: for chat and for completion, a local GGUF or a model on a remote server.

Each role has a form: Local or Remote, and for Remote the server's URL, an
API key (kept in the OS keyring, or a file only the user can read, never in
the settings), the model (filled from the server's ``/v1/models`` by Test
connection) and the prompt family. Test connection runs off the GUI thread
and shows the server's kind, the model, its context length, the round trip
and a 5-token sample; it can be stopped. OK hands each changed role to
``ModelRoles.set_source`` through ``source_chosen``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.core.models.roles import ModelRole
from app.core.remote.choice import RemoteChoice, RemoteTarget, check_url
from app.core.settings import Settings
from app.engine.client import EngineError
from app.engine.remote.check import ConnectionCheck, ConnectionReport
from app.services.engine_sources import key_store
from app.ui.background import run_in_background

# The family combo's entries: label, settings value (None: detect).
FAMILY_CHOICES = (
    ("Detect from the model id", None),
    ("CodeGemma", "codegemma"),
    ("Code Llama", "codellama"),
    ("Other (chat only, no FIM)", "generic"),
)
KEY_NOTE = "Keys are kept in the system keyring, or where there is none, in a file only you can read."


class RoleEngineForm(QGroupBox):
    """One role's choice: Local or Remote, and the remote server's details."""

    def __init__(self, role: ModelRole, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(f"{role.label} engine", parent)
        self.role = role
        self._check: ConnectionCheck | None = None
        remembered = settings.remote_for(role)
        self.initial = remembered
        local_model = settings.model_for(role) or "the starter model"
        self.local = QRadioButton(f"Local: {local_model.rsplit('/', 1)[-1]}")
        self.remote = QRadioButton("Remote server (OpenAI-compatible)")
        group = QButtonGroup(self)
        group.addButton(self.local)
        group.addButton(self.remote)
        self.url = QLineEdit(remembered.url if remembered else "")
        self.url.setPlaceholderText("http://gpu-box:8000")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("empty: keep the stored key, or none")
        self.forget_key = QCheckBox("Forget the stored key")
        self.model = QComboBox()
        self.model.setEditable(True)
        editor = self.model.lineEdit()
        if editor is not None:
            editor.setPlaceholderText("the server's first model")
        if remembered and remembered.model:
            self.model.addItem(remembered.model)
        self.family = QComboBox()
        for label, value in FAMILY_CHOICES:
            self.family.addItem(label, value)
        if remembered is not None:
            self.family.setCurrentIndex(max(0, self.family.findData(remembered.family)))
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.toggle_test)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)

        self.details = QWidget()
        form = QFormLayout(self.details)
        form.setContentsMargins(18, 0, 0, 0)
        form.addRow("URL", self.url)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.forget_key)
        form.addRow("API key", key_row)
        form.addRow("Model", self.model)
        form.addRow("Family", self.family)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)
        form.addRow("", test_row)
        form.addRow("", self.result)
        layout = QVBoxLayout(self)
        layout.addWidget(self.local)
        layout.addWidget(self.remote)
        layout.addWidget(self.details)
        layout.addWidget(self.error)
        (self.remote if remembered is not None and remembered.active else self.local).setChecked(True)
        self.remote.toggled.connect(self._show_details)
        self._show_details(self.remote.isChecked())

    @Slot(bool)
    def _show_details(self, on: bool) -> None:
        self.details.setEnabled(on)

    # ---- reading the form ----------------------------------------------------------

    def choice(self) -> RemoteChoice | None:
        """The remote engine the form describes (inactive when Local is picked); None with no URL.

        Raises:
            ValueError: One line about a bad URL.
        """
        text = self.url.text().strip()
        if not text:
            if self.remote.isChecked():
                raise ValueError("give the server's URL, e.g. http://gpu-box:8000")
            return None
        return RemoteChoice(
            check_url(text), self.model.currentText().strip(), self.family.currentData(), self.remote.isChecked()
        )

    def target(self) -> RemoteTarget | None | bool:
        """What OK should apply: a ``RemoteTarget`` (inactive when Local is picked), None when
        the URL was cleared, or False when nothing changed.

        Raises:
            ValueError: One line about a bad URL.
        """
        choice = self.choice()
        key = self.key.text().strip() or None
        forget = self.forget_key.isChecked()
        if choice == self.initial and key is None and not forget:
            return False
        return RemoteTarget(choice, key, forget) if choice is not None else None

    # ---- Test connection ----------------------------------------------------------------

    @Slot()
    def toggle_test(self) -> None:
        """Start a connection test, or stop the one running."""
        if self._check is not None:
            self.stop_test()
            return
        try:
            choice = self.choice() or RemoteChoice(check_url(self.url.text()))
        except ValueError as exc:
            self._show_error(str(exc))
            return
        typed = self.key.text().strip() or None
        forget = self.forget_key.isChecked()
        check = ConnectionCheck(choice.url, typed, choice.model, choice.family)
        self._check = check
        self.error.setText("")
        self.result.setText(f"Testing {choice.url}…")
        self.test_button.setText("Stop test")

        def work() -> ConnectionReport:
            if typed is None and not forget:
                check.set_api_key(key_store().get(choice.url))  # the keyring may be slow: not on the GUI thread
            return check.run()

        run_in_background(self, work, self._tested, self._test_failed)

    def stop_test(self) -> None:
        """Stop a running test, if one runs; its result is dropped."""
        if self._check is None:
            return
        self._check.cancel()
        self._check = None
        self.test_button.setText("Test connection")
        self.result.setText("Test stopped.")

    def _tested(self, report: ConnectionReport) -> None:
        if self._check is None:
            return  # stopped meanwhile
        self._check = None
        self.test_button.setText("Test connection")
        self.result.setText("\n".join(f"{label:>10}: {value}" for label, value in report.rows()))
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(list(report.models))
        self.model.setEditText(current or report.model)

    def _test_failed(self, exc: BaseException) -> None:
        if self._check is None:
            return
        self._check = None
        self.test_button.setText("Test connection")
        self.result.setText("")
        self._show_error(exc.message if isinstance(exc, EngineError) else f"the test failed: {exc}")

    def _show_error(self, message: str) -> None:
        self.error.setText(message)


class EnginesDialog(QDialog):
    """Local or remote engine per role; OK applies what changed."""

    source_chosen = Signal(str, object)  # role value, RemoteTarget or None (local)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Engines")
        self.forms = {role: RoleEngineForm(role, settings, self) for role in ModelRole}
        layout = QVBoxLayout(self)
        for form in self.forms.values():
            layout.addWidget(form)
        note = QLabel(KEY_NOTE)
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    @Slot()
    def apply(self) -> None:
        """Check every form; emit each changed role and close, or show what is wrong and stay open."""
        targets: dict[ModelRole, RemoteTarget | None | bool] = {}
        for role, form in self.forms.items():
            try:
                targets[role] = form.target()
            except ValueError as exc:
                form.error.setText(str(exc))
                return
        for role, target in targets.items():
            if target is not False:
                self.source_chosen.emit(role.value, target)
        self.accept()

    def done(self, result: int) -> None:  # noqa: D102 - stop running tests on close
        for form in self.forms.values():
            form.stop_test()
        super().done(result)
