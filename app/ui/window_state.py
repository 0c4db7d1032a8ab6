"""Where the main window was left, kept in the settings and brought back at the next start.

``WindowState`` sizes a first start at ``FIRST_START_SHARE`` of the screen's
available area, centred. On close it records the geometry (``saveGeometry``
as base64), the splitter positions, the files open in editor tabs and the
one shown, the project folder and whether the project tree is shown; at the
next start it restores them. A file that is gone is skipped with one line in
the status bar.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from app.core.settings import Settings

if TYPE_CHECKING:
    from app.ui.editor_pane import EditorPane

# A first start takes this share of the screen's available width and height.
FIRST_START_SHARE = 0.8
MISSING_NAMES_SHOWN = 3


def first_start_rect(available: QRect, share: float = FIRST_START_SHARE) -> QRect:
    """A rectangle ``share`` of ``available`` in each direction, centred in it."""
    rect = QRect(0, 0, round(available.width() * share), round(available.height() * share))
    rect.moveCenter(available.center())
    return rect


class WindowState:
    """Saves and restores one main window's geometry, splitters, tabs and project folder."""

    def __init__(self, window: QMainWindow, splitters: dict[str, QSplitter], editor_pane: EditorPane) -> None:
        self.window = window
        self.splitters = splitters
        self.editor_pane = editor_pane
        self.open_files: list[str] = []
        self.current_file: str | None = None

    # ---- at start ---------------------------------------------------------------------

    def restore_geometry(self, settings: Settings) -> bool:
        """Put the window where it was, or size a first start; return True if a saved geometry was used."""
        saved = _decoded(settings.window_geometry)
        if saved is not None and self.window.restoreGeometry(QByteArray(saved)):
            return True
        screen = self.window.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            self.window.setGeometry(first_start_rect(screen.availableGeometry()))
        return False

    def restore_layout(self, settings: Settings) -> None:
        """Splitter positions, the project folder and whether the tree is shown."""
        for name, sizes in settings.splitter_sizes.items():
            splitter = self.splitters.get(name)
            if splitter is not None and len(sizes) == splitter.count() and all(sizes):
                splitter.setSizes(sizes)
        self.editor_pane.tree_wanted = settings.project_tree
        folder = settings.project_folder
        if folder and Path(folder).is_dir():
            self.editor_pane.open_folder(folder)
        self.editor_pane.show_tree(settings.project_tree)

    def restore_tabs(self, settings: Settings) -> str | None:
        """Reopen the files that were open and show the one that was; return a line about files now gone."""
        tabs = self.editor_pane.tabs
        missing = []
        for path in settings.open_files:
            if Path(path).is_file():
                tabs.open_path(path)  # a file it refuses (too big, binary) is reported by the tabs
            else:
                missing.append(path)
        shown = tabs.tab_for(settings.current_file) if settings.current_file else None
        if shown is not None:
            tabs.setCurrentWidget(shown)
        if not missing:
            return None
        names = ", ".join(Path(path).name for path in missing[:MISSING_NAMES_SHOWN])
        more = f" and {len(missing) - MISSING_NAMES_SHOWN} more" if len(missing) > MISSING_NAMES_SHOWN else ""
        return f"Not reopened, no longer there: {names}{more}"

    # ---- at close ---------------------------------------------------------------------

    def note_tabs(self) -> None:
        """Remember the open files now, before closing asks about (and closes) unsaved tabs."""
        tabs = self.editor_pane.tabs
        self.open_files = [tab.path for tab in tabs.tabs() if tab.path]
        current = tabs.current_tab()
        self.current_file = current.path if current is not None else None

    def store(self, settings: Settings) -> None:
        """Write the window's state into ``settings`` (the caller saves them)."""
        settings.window_geometry = base64.b64encode(bytes(self.window.saveGeometry().data())).decode("ascii")
        sizes = dict(settings.splitter_sizes)
        for name, splitter in self.splitters.items():
            # A hidden or squeezed-shut pane (the project tree) has no size to keep: its last one stays.
            panes = [splitter.widget(i) for i in range(splitter.count())]
            now = list(splitter.sizes())
            if not any(pane is None or pane.isHidden() for pane in panes) and all(now):
                sizes[name] = now
        settings.splitter_sizes = sizes
        settings.open_files = list(self.open_files)
        settings.current_file = self.current_file
        root = self.editor_pane.project_root
        settings.project_folder = str(root) if root is not None else None
        settings.project_tree = self.editor_pane.tree_wanted


def _decoded(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
