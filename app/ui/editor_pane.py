"""The editor pane: a project tree, tabs of code editors, and completions as ghost text."""

from __future__ import annotations

import functools
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QDir, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QFileSystemModel,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.ui.code_editor import CodeEditor
from app.ui.editor_tabs import EditorTabs
from app.ui.labels import no_wider_than_given

if TYPE_CHECKING:
    from app.core.editor.recovery import RecoveryStore
    from app.core.generation.contracts import GenerationStats
    from app.services.completion_service import CompletionService, EditorSnapshot

IMPORTED_FILE_LIMIT = 64 * 1024
TREE_WIDTH = 200  # px the project tree opens with
# The status while a requested suggestion is on its way.
COMPLETING = "completing…"


class EditorPane(QWidget):
    """Files on the left, tabs on the right; Ctrl+Space asks for a completion."""

    ask = Signal(str, dict)  # template key, {path, language, start_line, end_line, code}

    def __init__(self, service: CompletionService | None, recovery: RecoveryStore, parent=None) -> None:
        super().__init__(parent)
        self._service: CompletionService | None = None
        self.project_root: Path | None = None
        self.tree_wanted = True  # the user's View → Project Tree choice; shown only with a folder open
        self.tabs = EditorTabs(recovery)
        self.tree = QTreeView()
        self.tree.setHeaderHidden(True)
        self.tree.hide()
        self.model = QFileSystemModel(self)  # scans folders on its own thread
        self.model.setFilter(QDir.Filter.AllDirs | QDir.Filter.Files | QDir.Filter.NoDotAndDotDot)
        self.tree.setModel(self.model)
        for column in (1, 2, 3):
            self.tree.hideColumn(column)
        self.tree.activated.connect(self._open_from_tree)
        self.status = QLabel("Ctrl+Space: complete · Tab: accept · Ctrl+→: word · Ctrl+↓: line · Esc: dismiss")
        no_wider_than_given(self.status)  # a long status is cut at the pane's edge
        self.auto_box = QCheckBox("Auto suggestions")
        self.auto_box.setChecked(True)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.tabs)
        splitter.setSizes([TREE_WIDTH, 800])
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.auto_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)
        self._request: tuple[CodeEditor, int, int, int] | None = None  # editor, job, revision, position
        self._wired: weakref.WeakSet[CodeEditor] = weakref.WeakSet()
        self._unnoted: list[tuple[str, str]] = []  # files opened before the service was bound
        self.tabs.message.connect(self.status.setText)
        self.tabs.file_opened.connect(self._on_file_opened)
        self.tabs.new_tab()
        if service is not None:
            self.bind(service)

    @property
    def service(self) -> CompletionService:
        """The completion service behind the ghost text (``bind`` gave it)."""
        if self._service is None:
            raise RuntimeError("the editor pane has no completion service yet")
        return self._service

    def bind(self, service: CompletionService) -> None:
        """Connect the pane to ``service``; the files already open become its context.

        Until then the editors work, and nothing asks for completions.
        """
        self._service = service
        QShortcut(QKeySequence("Ctrl+Space"), self, self.request_completion)
        service.suggestion.connect(self._on_suggestion)
        service.partial.connect(self._on_partial)
        service.failed.connect(self.status.setText)
        self.auto_box.toggled.connect(self._toggle_auto)
        self.tabs.current_editor_changed.connect(self._on_editor_changed)
        unnoted, self._unnoted = self._unnoted, []
        for path, text in unnoted:
            self._on_file_opened(path, text)
        self._on_editor_changed(self.tabs.current_editor())

    # ---- convenience --------------------------------------------------------------------

    @property
    def editor(self) -> CodeEditor:
        """The current editor (a new tab is made if none is open)."""
        editor = self.tabs.current_editor()
        return editor if editor is not None else self.tabs.new_tab().editor

    @property
    def path(self) -> str:
        """The current tab's file path, or ""."""
        tab = self.tabs.current_tab()
        return tab.path or "" if tab else ""

    def open_folder(self, folder: str) -> None:
        """Show ``folder`` as the project in the file tree."""
        self.project_root = Path(folder)
        self.tree.setRootIndex(self.model.setRootPath(folder))
        self.show_tree(self.tree_wanted)

    def show_tree(self, shown: bool) -> None:
        """Show or hide the project tree (it stays hidden while no folder is open)."""
        self.tree_wanted = shown
        self.tree.setVisible(shown and self.project_root is not None)
        sizes = self.splitter.sizes()
        if self.tree.isVisibleTo(self) and sizes[0] == 0 and sizes[1] > 2 * TREE_WIDTH:
            self.splitter.setSizes([TREE_WIDTH, sizes[1] - TREE_WIDTH])  # it was squeezed shut

    @Slot()
    def _open_from_tree(self, index) -> None:
        if not self.model.isDir(index):
            self.tabs.open_path(self.model.filePath(index))

    # ---- completion ---------------------------------------------------------------------

    def snapshot(self, editor: CodeEditor) -> EditorSnapshot:
        """Prefix and suffix at the cursor, as plain strings."""
        from app.services.completion_service import EditorSnapshot  # loaded with the service

        text = editor.toPlainText()
        at = editor.textCursor().position()
        return EditorSnapshot(self.path, text[:at], text[at:], editor.language.id)

    @Slot()
    def request_completion(self) -> int:
        """Ask for a suggestion now (Ctrl+Space)."""
        editor = self.editor
        editor.ghost.clear()
        self.status.setText(COMPLETING)
        job = self.service.request(self.snapshot(editor))
        self._remember(editor, job)
        return job

    def _remember(self, editor: CodeEditor, job: int) -> None:
        self._request = (editor, job, editor.document().revision(), editor.textCursor().position())

    @Slot()
    def _on_typed(self) -> None:
        editor = self.tabs.current_editor()
        if editor is None:
            return
        self.service.schedule(editor.language.id, functools.partial(_snapshot_of, self, editor))
        self._request = (editor, -1, editor.document().revision(), editor.textCursor().position())

    @Slot()
    def _on_moved(self) -> None:
        """The cursor moved or the view scrolled without an edit: warm the window once it rests."""
        editor = self.tabs.current_editor()
        if editor is not None and self.sender() is editor:
            if self.status.text() == COMPLETING:
                self.status.clear()  # the cursor left the place asked about: that answer is dropped
            self.service.settle(editor.language.id, functools.partial(_snapshot_of, self, editor))

    @Slot()
    def _on_accepted(self) -> None:
        """Tab took a whole suggestion: ask for the next one at once."""
        editor = self.tabs.current_editor()
        if editor is None or self.sender() is not editor:
            return
        job = self.service.after_accept(editor.language.id, self.snapshot(editor))
        if job is not None:
            self._remember(editor, job)

    def _fresh_editor(self, job: int) -> CodeEditor | None:
        """The editor an answer for ``job`` belongs to, if nothing moved since the request."""
        if self._request is None:
            return None
        editor, wanted, revision, position = self._request
        if wanted not in (-1, job) or editor is not self.tabs.current_editor():
            return None
        if editor.document().revision() != revision or editor.textCursor().position() != position:
            return None  # the text or cursor moved on: this answer is stale
        return editor

    @Slot(int, str)
    def _on_partial(self, job: int, text: str) -> None:
        editor = self._fresh_editor(job)
        if editor is not None:
            editor.ghost.show(text)

    @Slot(int, str, object)
    def _on_suggestion(self, job: int, text: str, stats: GenerationStats | None) -> None:
        editor = self._fresh_editor(job)
        if editor is None:
            return
        self.status.setToolTip(self.service.window_text())
        if not text:
            editor.ghost.clear()
            self.status.setText("no suggestion")
            return
        editor.ghost.show(text)
        if stats is None:
            self.status.setText("suggestion from cache · Tab to accept")
        else:
            self.status.setText(
                f"suggestion in {stats.total_ms:.0f} ms · {stats.prompt_tokens - stats.reused_tokens}"
                f"/{stats.prompt_tokens} prompt tokens evaluated · Tab to accept"
            )

    # ---- context --------------------------------------------------------------------------

    @Slot(str, str)
    def _on_file_opened(self, path: str, text: str) -> None:
        if self._service is None:
            self._unnoted.append((path, text))
            return
        from app.core.fim.context import imported_paths

        self.service.note_file(path, text)
        root = self.project_root or Path(path).parent
        for imported in imported_paths(Path(path), text, root):
            try:
                if imported.stat().st_size <= IMPORTED_FILE_LIMIT:
                    self.service.note_file(str(imported), imported.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue

    @Slot(object)
    def _on_editor_changed(self, editor: CodeEditor | None) -> None:
        previous = self._request[0] if self._request else None
        if previous is not None and not shiboken6.isValid(previous):
            previous = None  # its tab was closed and deleted: nothing to remember from it
        if previous is not None and previous is not editor:
            cursor = previous.textCursor()
            tab = previous.parent()
            path = getattr(tab, "path", None) or "untitled"
            from app.core.fim.context import region_around

            self.service.note_file(path, region_around(previous.toPlainText(), cursor.blockNumber()))
        self.service.dismiss()
        if editor is not None:
            if editor not in self._wired:
                self._wired.add(editor)
                editor.typed.connect(self._on_typed)
                editor.moved.connect(self._on_moved)
                editor.accepted.connect(self._on_accepted)
                editor.ask.connect(self._on_ask)
            self.auto_box.setChecked(self.service.auto_enabled(editor.language.id))
            self._request = (editor, -1, editor.document().revision(), editor.textCursor().position())
            # A file opened or switched to is a new place for the cursor.
            self.service.settle(editor.language.id, functools.partial(_snapshot_of, self, editor))

    @Slot(bool)
    def _toggle_auto(self, enabled: bool) -> None:
        editor = self.tabs.current_editor()
        if editor is not None:
            self.service.set_auto_enabled(editor.language.id, enabled)

    @Slot(str)
    def _on_ask(self, key: str) -> None:
        editor = self.tabs.current_editor()
        if editor is None or not editor.textCursor().hasSelection():
            return
        cursor = editor.textCursor()
        document = editor.document()
        start = document.findBlock(cursor.selectionStart()).blockNumber() + 1
        end = document.findBlock(cursor.selectionEnd()).blockNumber() + 1
        code = cursor.selection().toPlainText()
        self.ask.emit(
            key,
            {
                "path": self.path or "untitled",
                "language": editor.language.id,
                "start_line": start,
                "end_line": end,
                "code": code,
            },
        )

    def insert_at_cursor(self, code: str) -> None:
        """Insert code from the chat at the editor's cursor (one undo step)."""
        self.editor.finish_loading()  # undo is off while a text goes in
        self.editor.textCursor().insertText(code)

    def open_in_new_tab(self, language: str, code: str) -> None:
        """Open code from the chat in a new, unsaved tab."""
        from app.core.editor.languages import language_by_id

        tab = self.tabs.new_tab(code)
        tab.editor.set_language(language_by_id(language or "plaintext"))
        tab.editor.document().setModified(True)


def _snapshot_of(pane: EditorPane, editor: CodeEditor) -> EditorSnapshot | None:
    """``pane.snapshot(editor)``, or None when the editor was closed while the service waited.

    None too while a long text is still going in: reading it would finish the load at once, and
    the editor says ``moved`` when the load ends.
    """
    if not (shiboken6.isValid(editor) and shiboken6.isValid(pane)) or editor.loading:
        return None
    return pane.snapshot(editor)
