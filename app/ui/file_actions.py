"""The File menu's work: opening and saving editor files, and the recent-files list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.core.settings import RECENT_FILES_MAX
from app.ui.editor_pane import EditorPane
from app.ui.window_settings import WindowSettings


class FileActions(QObject):
    """Open, Open Folder, Save, Save As and Open Recent for one window's editor."""

    def __init__(self, editor_pane: EditorPane, settings: WindowSettings, window: QWidget) -> None:
        super().__init__(window)
        self._editor_pane = editor_pane
        self._settings = settings
        self._window = window
        self._recent_menu: QMenu | None = None

    @Slot()
    def new_file(self) -> None:
        """Open an empty, untitled tab."""
        self._editor_pane.tabs.new_tab()

    @Slot()
    def open_file(self) -> None:
        """Open files into editor tabs."""
        paths, _ = QFileDialog.getOpenFileNames(self._window, "Open files", str(self._start_folder()))
        for path in paths:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        """Open one file and remember it in the recent list."""
        if self._editor_pane.tabs.open_path(path) is not None:
            self._remember_recent(path)

    @Slot()
    def open_folder(self) -> None:
        """Show a folder as the project."""
        folder = QFileDialog.getExistingDirectory(self._window, "Open folder", str(self._start_folder()))
        if folder:
            self._editor_pane.open_folder(folder)

    @Slot()
    def save_file(self) -> None:
        """Save the current tab (asks for a name the first time)."""
        tabs = self._editor_pane.tabs
        tab = tabs.current_tab()
        if tab is not None and (tab.path is None or not tabs.save(tab)):
            if tab.path is None:
                self.save_file_as()

    @Slot()
    def save_file_as(self) -> None:
        """Save the current tab under a new name."""
        tab = self._editor_pane.tabs.current_tab()
        if tab is None:
            return
        path, _ = QFileDialog.getSaveFileName(self._window, "Save as", tab.path or str(self._start_folder()))
        if path and self._editor_pane.tabs.save(tab, path):
            self._remember_recent(path)

    def fill_recent_on_show(self, menu: QMenu) -> None:
        """List the recent files in ``menu`` each time it opens."""
        self._recent_menu = menu
        menu.aboutToShow.connect(self._fill_recent)

    @Slot()
    def _fill_recent(self) -> None:
        menu = self._recent_menu
        if menu is None:
            return
        menu.clear()
        recent = self._settings.settings.recent_files
        for path in recent:
            menu.addAction(path).triggered.connect(lambda _c=False, p=path: self.open_path(p))
        menu.setEnabled(bool(recent))

    def _start_folder(self) -> Path:
        return self._editor_pane.project_root or Path.home()

    def _remember_recent(self, path: str) -> None:
        with self._settings.change() as settings:
            recent = [p for p in settings.recent_files if p != path]
            settings.recent_files = [path, *recent][:RECENT_FILES_MAX]
