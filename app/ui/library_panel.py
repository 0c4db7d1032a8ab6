"""The Library tab: local models, their fit in memory, and which role uses which."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.core.machine import human_bytes
from app.ui.background import run_in_background

COLUMNS = ("Name", "Family", "Roles", "Type", "Size", "Context", "Memory", "In use")


@dataclass(frozen=True)
class LibraryRow:
    """One model as the table shows it, worked out off the GUI thread."""

    model: object  # LibraryModel
    fit: object | None  # MemoryFit at the model's context length
    n_ctx: int


def list_library(library, settings, vram_bytes: int | None) -> list[LibraryRow]:
    """Inspect every local model and its memory fit; runs on a pool thread."""
    from app.core import machine
    from app.core.models.fit import memory_fit
    from app.core.models.info import inspect_model

    ram = machine.memory().available
    rows = []
    for model in library.models():
        fit, n_ctx = None, 0
        if model.info is not None:
            params = settings.params_for_model(str(model.path), _role_of(model))
            n_ctx = params.n_ctx or (model.info.context_length or 4096)
            try:
                fit = memory_fit(inspect_model(model.path), n_ctx, ram_bytes=ram, vram_bytes=vram_bytes,
                                 cache_type=params.type_k)
            except Exception:  # noqa: BLE001 - a model that cannot be sized is still listed
                fit = None
        rows.append(LibraryRow(model, fit, n_ctx))
    return rows


def _count(parameters: int) -> str:
    return f"{parameters / 1e9:.2f} B" if parameters >= 1e9 else f"{parameters / 1e6:.1f} M"


def _role_of(model) -> str | None:
    roles = model.info.roles if model.info else []
    return roles[0] if len(roles) == 1 else None


class LibraryPanel(QWidget):
    """Lists the library; asks the window to assign, configure and import models."""

    assign_requested = Signal(str, str)  # role, path
    settings_requested = Signal(str)  # path
    import_requested = Signal(str, bool)  # path, copy
    quantize_requested = Signal(str, str, str, bool)  # source, output, type, force
    status = Signal(str)

    def __init__(self, library, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library, self.settings = library, settings
        self.vram_bytes: int | None = None
        self.in_use: dict[str, str] = {}  # role -> the file its engine has loaded
        self.rows: list[LibraryRow] = []
        self.assigned: dict[str, str | None] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._show_details)
        self.table.doubleClicked.connect(lambda _index: self._open_settings())
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.suggestion = QLabel("")
        self.suggestion.setWordWrap(True)

        self.chat_button = self._button("Use for Chat", lambda: self._assign("chat"))
        self.completion_button = self._button("Use for Completion", lambda: self._assign("completion"))
        self.settings_button = self._button("Runtime Settings…", self._open_settings)
        self.suggest_button = self._button("Apply Suggestions", self._apply_suggestions)
        self.quantize_button = self._button("Quantize…", self._quantize)
        self.import_button = self._button("Import…", self._import)
        self.delete_button = self._button("Delete", self._delete)
        self.folder_button = self._button("Show in Folder", self._show_folder)
        row = QHBoxLayout()
        for button in (self.chat_button, self.completion_button, self.settings_button, self.suggest_button):
            row.addWidget(button)
        row.addStretch(1)
        for button in (self.quantize_button, self.import_button, self.folder_button, self.delete_button):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.suggestion)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(row)
        self._suggested: dict = {}
        self._listing = 0
        self._sync_buttons()

    def _button(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        return button

    # ---- listing ----------------------------------------------------------------------

    def refresh(self) -> None:
        """List the library again (inspection runs off the GUI thread)."""
        self.status.emit("Reading the library…")
        self._listing += 1
        listing = self._listing
        library, settings, vram = self.library, self.settings, self.vram_bytes
        run_in_background(self, lambda: list_library(library, settings, vram),
                          lambda rows: listing == self._listing and self._show_rows(rows),
                          lambda exc: self.status.emit(f"The library could not be read: {exc}"))

    def _show_rows(self, rows: list[LibraryRow]) -> None:
        """Fill the table; only the newest listing is shown."""
        selected = self.selected_path()
        self.rows = rows
        self.assigned = {role: self.in_use.get(role) or self.settings.model_for(role) for role in ("chat", "completion")}
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, text in enumerate(self._cells(row)):
                item = QTableWidgetItem(text)
                item.setToolTip(row.model.error or (str(row.model.path) if column == 0 else text))
                self.table.setItem(index, column, item)
            if str(row.model.path) == selected:
                self.table.selectRow(index)
        self._show_suggestions()
        self.status.emit(f"{len(rows)} model(s) in the library" if rows else
                         "No models yet: get one from the Catalog or Search tab, or import a GGUF file.")
        self._sync_buttons()

    def _cells(self, row: LibraryRow) -> list[str]:
        model, info, fit = row.model, row.model.info, row.fit
        uses = [role.title() for role, path in self.assigned.items() if path and Path(path) == Path(model.path)]
        if info is None:  # the reason is in the tooltip and the details line
            return [model.name, "?", "unreadable", "?", human_bytes(model.size_bytes), "", "", ""]
        memory = ""
        if fit is not None:
            memory = human_bytes(fit.estimate_bytes) + ("" if fit.fits_ram else "  (over RAM)")
        return [model.name, info.family, ", ".join(info.roles) or "none", info.file_type,
                human_bytes(model.size_bytes), f"{row.n_ctx} / {info.context_length or '?'}", memory, ", ".join(uses)]

    def _show_suggestions(self) -> None:
        from app.core import machine
        from app.core.models.fit import suggest_assignments

        models = [r.model for r in self.rows if r.model.info is not None]
        self._suggested = suggest_assignments(models, ram_bytes=machine.memory().available,
                                              gpu=bool(self.vram_bytes)) if models else {}
        parts = [f"{role}: {m.name}" for role, m in self._suggested.items() if m is not None]
        self.suggestion.setText("Suggested — " + "; ".join(parts) if parts else "")

    def selected_row(self) -> LibraryRow | None:
        """The selected model's row."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def selected_path(self) -> str | None:
        """The selected model's file."""
        row = self.selected_row()
        return str(row.model.path) if row else None

    def select_path(self, path: str) -> bool:
        """Select a model by path; False if it is not listed."""
        for index, row in enumerate(self.rows):
            if Path(row.model.path) == Path(path):
                self.table.selectRow(index)
                return True
        return False

    def _show_details(self) -> None:
        from app.core.models.fit import assignment_warnings

        row = self.selected_row()
        self._sync_buttons()
        if row is None:
            self.details.setText("")
            return
        info = row.model.info
        if info is None:
            self.details.setText(f"{row.model.path}\n{row.model.error}")
            return
        lines = [f"{info.name} · {_count(info.parameters)} parameters · {row.model.path}"]
        if row.fit is not None:
            lines.append(row.fit.note)
        for role in ("chat", "completion"):
            for warning in assignment_warnings(info, role):
                lines.append(f"As the {role} model: {warning}")
        self.details.setText("\n".join(lines))

    def _sync_buttons(self) -> None:
        row = self.selected_row()
        usable = row is not None and row.model.info is not None
        for button in (self.chat_button, self.completion_button, self.settings_button, self.quantize_button):
            button.setEnabled(usable)
        self.delete_button.setEnabled(row is not None)
        self.folder_button.setEnabled(row is not None)
        self.suggest_button.setEnabled(any(self._suggested.values()))

    # ---- actions -----------------------------------------------------------------------

    def _assign(self, role: str) -> None:
        from app.core.models.fit import assignment_warnings

        row = self.selected_row()
        if row is None or row.model.info is None:
            return
        warnings = assignment_warnings(row.model.info, role)
        if warnings and not self.confirm(f"Use {row.model.name} for {role}?",
                                         "\n\n".join(warnings) + "\n\nUse it anyway?"):
            return
        self.assign_requested.emit(role, str(row.model.path))

    def _apply_suggestions(self) -> None:
        for role, model in self._suggested.items():
            if model is not None and self.settings.model_for(role) != str(model.path):
                self.assign_requested.emit(role, str(model.path))

    def _open_settings(self) -> None:
        path = self.selected_path()
        if path:
            self.settings_requested.emit(path)

    def _quantize(self) -> None:
        from app.core.models.quant_types import is_full_precision, quantize_targets
        from app.core.models.quantize_plan import default_output_path

        row = self.selected_row()
        if row is None or row.model.info is None:
            return
        model = row.model
        source_type = model.info.file_type
        force = False
        if not is_full_precision(source_type):
            if not self.confirm("Quantize a quantized model?",
                                f"{model.name} is already quantized ({source_type}). Quantizing it again loses "
                                "quality; a full-precision (F16, BF16 or F32) file gives a better result.\n\n"
                                "Quantize it anyway?"):
                return
            force = True
        qtype = self.choose_type(quantize_targets())
        if not qtype:
            return
        output = default_output_path(model.path, qtype)
        if model.referenced:  # write into Fimble's folder, not next to the user's file
            output = self.library.models_dir / output.name
        self.quantize_requested.emit(str(model.path), str(output), qtype, force)

    def choose_type(self, types: list[str]) -> str | None:
        """Ask which type to quantize to (tests replace this)."""
        from PySide6.QtWidgets import QInputDialog

        qtype, ok = QInputDialog.getItem(self, "Quantize", "Quantize to (the first ones keep the most quality):",
                                         types, types.index("Q4_K_M"), False)
        return qtype if ok else None

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if not path:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Import model",
                          f"Copy {Path(path).name} into Fimble's model folder, or use it where it is?",
                          parent=self)
        copy = box.addButton("Copy", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Use in Place", QMessageBox.ButtonRole.ActionRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is cancel:
            return
        self.import_requested.emit(path, box.clickedButton() is copy)

    def _delete(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        model = row.model
        in_use = [role for role, path in self.assigned.items() if path and Path(path) == Path(model.path)]
        if in_use:
            QMessageBox.information(self, "Model in use",
                                    f"{model.name} is the {' and '.join(in_use)} model; assign another one first.")
            return
        what = ("Forget this imported model? The file stays where it is." if model.referenced
                else f"Delete {model.name} ({human_bytes(model.size_bytes)}) from disk?")
        if not self.confirm("Remove model", what):
            return
        try:
            self.library.remove(model.path)
        except (OSError, ValueError) as exc:
            self.status.emit(f"Could not remove {model.name}: {exc}")
            return
        self.status.emit(f"Removed {model.name}")
        self.refresh()

    def _show_folder(self) -> None:
        row = self.selected_row()
        if row is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.library.folder_of(row.model))))

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (tests replace this)."""
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes
