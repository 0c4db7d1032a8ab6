"""The main window: chat and editor side by side, a status bar, menus."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter

from app.core.settings import Settings
from app.engine.backend import describe_backend
from app.services.chat_service import ChatService
from app.services.completion_service import CompletionService
from app.services.engine_worker import EngineController
from app.ui.about import show_about
from app.ui.chat_pane import ChatPane
from app.ui.editor_pane import EditorPane


class MainWindow(QMainWindow):
    """Owns one engine controller per role and shuts them down on close."""

    def __init__(self, settings: Settings, engine_factory=None) -> None:
        super().__init__()
        self.setWindowTitle("Fimble")
        self.resize(1280, 800)
        self.settings = settings
        self.backend: dict = {}
        self.chat_engine = EngineController("chat", engine_factory, self)
        self.completion_engine = EngineController("completion", engine_factory, self)
        self.chat_service = ChatService(self.chat_engine, self)
        self.completion_service = CompletionService(self.completion_engine, self)
        self.chat_pane = ChatPane(self.chat_service)
        self.editor_pane = EditorPane(self.completion_service)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.chat_pane)
        splitter.addWidget(self.editor_pane)
        splitter.setSizes([560, 720])
        self.setCentralWidget(splitter)
        self._build_status_bar()
        self._build_menus()
        self._wire(self.chat_engine, self.chat_model_label, "Chat")
        self._wire(self.completion_engine, self.completion_model_label, "Completion")
        self.chat_engine.load(settings.model_for("chat"), settings.load_params("chat"))
        self.completion_engine.load(settings.model_for("completion"), settings.load_params("completion"))

    # ---- construction ---------------------------------------------------------

    def _build_status_bar(self) -> None:
        self.chat_model_label = QLabel("Chat: starting…")
        self.completion_model_label = QLabel("Completion: starting…")
        self.backend_label = QLabel("Backend: …")
        bar = self.statusBar()
        bar.addWidget(self.chat_model_label)
        bar.addWidget(self.completion_model_label)
        bar.addPermanentWidget(self.backend_label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open…", QKeySequence.StandardKey.Open, self.open_file)
        self._action(file_menu, "&Save As…", QKeySequence.StandardKey.SaveAs, self.save_file_as)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Fimble", None, lambda: show_about(self, self.backend))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _wire(self, controller: EngineController, label: QLabel, role: str) -> None:
        worker = controller.worker
        worker.backend_ready.connect(self._on_backend)
        worker.load_started.connect(lambda path: label.setText(f"{role}: loading {Path(path).name}…"))
        worker.load_progress.connect(lambda f: label.setText(f"{role}: loading {f:.0%}"))
        worker.loaded.connect(lambda info: self._on_loaded(label, role, info))
        worker.load_failed.connect(lambda message: label.setText(f"{role}: {message}"))
        worker.host_crashed.connect(lambda message: self.statusBar().showMessage(f"{message}; restarting it", 8000))

    # ---- slots -------------------------------------------------------------------

    @Slot(dict)
    def _on_backend(self, backend: dict) -> None:
        self.backend = backend
        self.backend_label.setText(f"Backend: {describe_backend(backend)}")

    def _on_loaded(self, label: QLabel, role: str, info: dict) -> None:
        label.setText(f"{role}: {info['name']} ({info['file_type']})")
        label.setToolTip(f"{info['path']}\n{info['family']} · context {info['n_ctx']}")
        if role == "Completion":
            self.editor_pane.prefix_only = info.get("fim") is None
            if info.get("fim") is None:
                self.editor_pane.status.setText(
                    f"{info['name']} has no fill-in-the-middle tokens: completions continue the text"
                    " before the cursor only. Assign CodeGemma or Code Llama for real FIM."
                )

    @Slot()
    def open_file(self) -> None:
        """Open a text file into the editor."""
        path, _ = QFileDialog.getOpenFileName(self, "Open file", os.getcwd())
        if not path:
            return
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            QMessageBox.warning(self, "Fimble", f"Cannot open {Path(path).name}: {exc}")
            return
        self.editor_pane.editor.setPlainText(text)
        self.editor_pane.path = path

    @Slot()
    def save_file_as(self) -> None:
        """Save the editor's text."""
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self.editor_pane.path or os.getcwd())
        if not path:
            return
        try:
            Path(path).write_text(self.editor_pane.editor.toPlainText(), encoding="utf-8")
        except OSError as exc:
            QMessageBox.warning(self, "Fimble", f"Cannot save {Path(path).name}: {exc}")
            return
        self.editor_pane.path = path

    def shutdown_engines(self) -> bool:
        """Stop both engines and their threads; return True if all ended in time."""
        timer = QElapsedTimer()
        timer.start()
        ok = True
        for controller in (self.chat_engine, self.completion_engine):
            controller.worker.close()
        for controller in (self.chat_engine, self.completion_engine):
            ok &= controller.shutdown(max(100, 1800 - timer.elapsed()))
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shutdown_engines()
        super().closeEvent(event)
