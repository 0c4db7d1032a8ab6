"""EditorTabs: the open buffers, their files, dirty markers and autosave."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QMessageBox, QStackedWidget, QTabWidget, QVBoxLayout, QWidget

from app.core.editor.languages import language_for_path
from app.core.editor.recovery import RecoveredBuffer, RecoveryStore
from app.core.editor.text_files import EncodingMismatch, FileRefused, read_text_file, write_text_file
from app.ui.code_editor import CodeEditor

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

AUTOSAVE_MS = 3000


class EditorTab(QWidget):
    """One buffer: an editor, its file's encoding and newline style, and a notice bar."""

    def __init__(self, path: str | None = None, parent=None) -> None:
        super().__init__(parent)
        self.buffer_id = os.urandom(16).hex()  # random, as uuid4's hex (uuid costs ~7 ms at startup)
        self.path = path
        self.encoding, self.newline, self.bom = "utf-8", "\n", False
        self.editor = CodeEditor(language_for_path(path or "untitled.txt"))
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background:#fff3cd; color:#664d03; padding:4px;")
        self.notice.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.notice)
        layout.addWidget(self.editor, 1)

    @property
    def title(self) -> str:
        """The tab's name."""
        return Path(self.path).name if self.path else "untitled"

    @property
    def modified(self) -> bool:
        """Whether there is unsaved work."""
        return self.editor.document().isModified()

    def show_notice(self, text: str | None) -> None:
        """Show or hide the notice bar."""
        self.notice.setText(text or "")
        self.notice.setVisible(bool(text))


class EditorTabs(QTabWidget):
    """Tabs of EditorTab with open/save/close and autosave to a recovery store."""

    current_editor_changed = Signal(object)  # CodeEditor or None
    file_opened = Signal(str, str)  # path, text
    message = Signal(str)

    def __init__(self, recovery: RecoveryStore, parent=None) -> None:
        super().__init__(parent)
        self.setTabsClosable(True)
        self.setMovable(True)
        self.setDocumentMode(True)
        self.recovery = recovery
        self._writer_pool: ThreadPoolExecutor | None = None  # made at the first autosave
        self.tabCloseRequested.connect(self.close_tab)
        self.currentChanged.connect(lambda _i: self.current_editor_changed.emit(self.current_editor()))
        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()

    # ---- tabs -------------------------------------------------------------------------

    def tabs(self) -> list[EditorTab]:
        """Every open tab."""
        return [tab for i in range(self.count()) if isinstance(tab := self.widget(i), EditorTab)]

    def current_tab(self) -> EditorTab | None:
        """The visible tab."""
        widget = self.currentWidget()
        return widget if isinstance(widget, EditorTab) else None

    def current_editor(self) -> CodeEditor | None:
        """The visible tab's editor."""
        tab = self.current_tab()
        return tab.editor if tab else None

    def new_tab(self, text: str = "", path: str | None = None) -> EditorTab:
        """Open an empty (or given) buffer.

        A buffer with content (a file, restored or generated text) takes the
        place of an untouched empty untitled tab.
        """
        if text or path:
            for blank in self.tabs():
                if blank.path is None and not blank.modified and blank.editor.document().isEmpty():
                    self.removeTab(self.indexOf(blank))
                    blank.deleteLater()
        tab = EditorTab(path)
        with QSignalBlocker(self):  # listeners hear of the new current tab once its text is in
            index = self.addTab(tab, tab.title)
            self._fit_page(tab)
            self.setCurrentIndex(index)  # shows the page, and so resizes its editor, while it is empty
        tab.editor.setPlainText(text)
        tab.editor.document().setModified(False)
        tab.editor.document().modificationChanged.connect(lambda _m, t=tab: self._refresh_title(t))
        self._refresh_title(tab)
        self.currentChanged.emit(index)
        return tab

    def _fit_page(self, tab: EditorTab) -> None:
        """Give a new tab its page's geometry now, while its editor is still empty.

        Resizing an editor that already holds a long text costs milliseconds
        more, in the same event-loop turn as the text going in.
        """
        # The area every tab's page fills: QTabWidget's own stack.
        pages = self.findChild(QStackedWidget, "qt_tabwidget_stackedwidget", Qt.FindChildOption.FindDirectChildrenOnly)
        layout = tab.layout()
        if pages is not None and layout is not None:
            tab.setGeometry(pages.contentsRect())
            layout.activate()  # the editor takes its part of it now, not on the next turn

    def _refresh_title(self, tab: EditorTab) -> None:
        index = self.indexOf(tab)
        if index >= 0:
            self.setTabText(index, ("● " if tab.modified else "") + tab.title)
            self.setTabToolTip(index, tab.path or "not saved yet")

    # ---- files --------------------------------------------------------------------------

    def tab_for(self, path: str) -> EditorTab | None:
        """The tab showing the file at ``path``, if one is open."""
        return next((tab for tab in self.tabs() if tab.path and Path(tab.path) == Path(path)), None)

    def open_path(self, path: str) -> EditorTab | None:
        """Open a file (or switch to it); refusals are reported, not raised."""
        shown = self.tab_for(path)
        if shown is not None:
            self.setCurrentWidget(shown)
            return shown
        try:
            document = read_text_file(path)
        except FileRefused as exc:
            self.message.emit(str(exc))
            return None
        tab = self.new_tab(document.text, str(document.path))
        tab.encoding, tab.newline, tab.bom = document.encoding, document.newline, document.bom
        tab.show_notice(document.notice)
        self.file_opened.emit(str(document.path), document.text)
        return tab

    def save(self, tab: EditorTab | None = None, path: str | None = None) -> bool:
        """Save ``tab`` (the current one) to its file or ``path``; return success."""
        tab = tab or self.current_tab()
        if tab is None:
            return False
        target = path or tab.path
        if target is None:
            return False
        try:
            write_text_file(target, tab.editor.toPlainText(), encoding=tab.encoding, newline=tab.newline, bom=tab.bom)
        except (EncodingMismatch, FileRefused, OSError) as exc:
            self.message.emit(f"not saved: {exc}")
            return False
        tab.path = str(target)
        tab.editor.set_language(language_for_path(target))
        tab.editor.document().setModified(False)
        self._refresh_title(tab)
        self.recovery.discard(tab.buffer_id)
        return True

    # ---- closing ------------------------------------------------------------------------

    def ask_save(self, tab: EditorTab) -> str:
        """Ask about unsaved work: "save", "discard" or "cancel"."""
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {tab.title}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            answer, "cancel"
        )

    @Slot(int)
    def close_tab(self, index: int) -> bool:
        """Close a tab, asking first when it has unsaved work; return False if kept."""
        tab = self.widget(index)
        if not isinstance(tab, EditorTab):
            return False
        if tab.modified:
            answer = self.ask_save(tab)
            if answer == "cancel" or (answer == "save" and not self._save_interactive(tab)):
                return False
        self.recovery.discard(tab.buffer_id)
        self.removeTab(index)
        tab.deleteLater()
        return True

    def _save_interactive(self, tab: EditorTab) -> bool:
        if tab.path is None:
            from PySide6.QtWidgets import QFileDialog

            path, _ = QFileDialog.getSaveFileName(self, "Save as", tab.title)
            if not path:
                return False
            return self.save(tab, path)
        return self.save(tab)

    def close_all(self) -> bool:
        """Close every tab (asking about unsaved work); False if the user kept one."""
        while self.count():
            if not self.close_tab(self.count() - 1):
                return False
        return True

    # ---- autosave and recovery ----------------------------------------------------------

    @Slot()
    def autosave(self) -> None:
        """Write modified buffers to the recovery folder, off the GUI thread."""
        for tab in self.tabs():
            if tab.modified:
                text = tab.editor.toPlainText()
                self._writer.submit(
                    self.recovery.save, tab.buffer_id, text, path=tab.path, encoding=tab.encoding, title=tab.title
                )

    @property
    def _writer(self) -> ThreadPoolExecutor:
        """The one thread that writes autosaves (made on first use: not needed to paint the window)."""
        if self._writer_pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fimble-autosave")
        return self._writer_pool

    def flush_autosave(self) -> None:
        """Wait for pending autosave writes (tests, shutdown)."""
        self._writer.submit(lambda: None).result(timeout=10)

    def restore(self, buffers: list[RecoveredBuffer]) -> list[EditorTab]:
        """Reopen autosaved buffers as modified tabs."""
        restored = []
        for buffer in buffers:
            tab = self.new_tab(buffer.text, buffer.path)
            tab.buffer_id = buffer.buffer_id
            tab.encoding = buffer.encoding
            tab.editor.document().setModified(True)
            tab.show_notice("restored from an autosave after Fimble did not close cleanly")
            restored.append(tab)
        return restored

    def shutdown(self) -> None:
        """Stop autosaving; modified buffers stay in the store for next time."""
        self._autosave.stop()
        self.autosave()
        if self._writer_pool is not None:
            self._writer_pool.shutdown(wait=True)
