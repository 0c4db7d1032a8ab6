"""The Get Models tab: the curated catalog, Hub search, and a repository's GGUF files."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import ErrorKind, one_line
from app.core.machine import human_bytes
from app.core.models import quant_types
from app.core.models.catalog import CATALOG
from app.ui.background import run_in_background

if TYPE_CHECKING:
    from app.core.hub.client import HubClient, HubFile, RepoDetails, RepoSummary
    from app.core.hub.pull_plan import PullPlan

REPO_COLUMNS = ("Repository", "Downloads", "Likes", "Updated", "License")
FILE_COLUMNS = ("File", "Type", "Size")
AS_IS = "as published"


class HubPanel(QWidget):
    """Browse the catalog or search the Hub, then queue a pull."""

    pull_requested = Signal(object)  # PullPlan
    status = Signal(str)
    hub_unreachable = Signal(str)

    def __init__(self, client_factory: Callable[[], HubClient], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client_factory = client_factory
        self.details: RepoDetails | None = None  # of the selected repository
        self._repos: list = []  # RepoSummary or repo id strings
        self._request = 0

        self.catalog = QListWidget()
        for entry in CATALOG:
            item = QListWidgetItem(f"{entry.title}  ·  {' + '.join(entry.roles)}")
            item.setData(Qt.ItemDataRole.UserRole, entry)
            item.setToolTip(entry.note or entry.title)
            self.catalog.addItem(item)
        self.catalog.currentItemChanged.connect(self._show_entry)

        self.query = QLineEdit()
        self.query.setPlaceholderText("Search the Hugging Face Hub for GGUF models, e.g. codegemma")
        self.query.returnPressed.connect(self.search)
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.search)

        self.repos = self._table(REPO_COLUMNS)
        self.repos.itemSelectionChanged.connect(self._open_repo)
        self.files = self._table(FILE_COLUMNS)
        self.files.itemSelectionChanged.connect(self._sync)
        self.gated = QLabel("")
        self.gated.setWordWrap(True)
        self.gated.setOpenExternalLinks(True)
        self.gated.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.quant = QComboBox()
        self.quant.addItem(AS_IS)
        self.quant.addItems(quant_types.quantize_targets())
        self.quant.setToolTip(
            "When the repository has no file of this type, Fimble downloads its "
            "full-precision GGUF and quantizes it locally."
        )
        self.quant.currentIndexChanged.connect(self._sync)
        self.plan_label = QLabel("")
        self.plan_label.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.download)

        search_row = QHBoxLayout()
        search_row.addWidget(self.query, 1)
        search_row.addWidget(self.search_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(search_row)
        right_layout.addWidget(self.repos, 3)
        right_layout.addWidget(self.gated)
        right_layout.addWidget(self.files, 2)
        action_row = QHBoxLayout()
        action_row.addWidget(QLabel("Quantize to"))
        action_row.addWidget(self.quant)
        action_row.addWidget(self.plan_label, 1)
        action_row.addWidget(self.download_button)
        right_layout.addLayout(action_row)
        splitter = QSplitter()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Catalog"))
        left_layout.addWidget(self.catalog)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([300, 700])  # the catalog entries fit on one line
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self._sync()

    @staticmethod
    def _table(columns) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(columns)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        return table

    # ---- catalog and search ----------------------------------------------------------

    def _show_entry(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        entry = item.data(Qt.ItemDataRole.UserRole)
        repos = [r for r in (entry.official_repo, *entry.community_repos) if r]
        self._fill_repos(repos)
        note = f" {entry.note}" if entry.note else ""
        self.status.emit(f"{entry.title}: {len(repos)} source(s) on the Hub.{note}")
        if repos:
            self.repos.selectRow(0)

    def search(self) -> None:
        """Search the Hub for GGUF repositories (off the GUI thread)."""
        query = self.query.text().strip()
        if not query:
            self.status.emit("Type what to search for, e.g. codegemma.")
            return
        self.status.emit(f"Searching the Hub for {query!r}…")
        self.search_button.setEnabled(False)
        factory = self._client_factory
        run_in_background(self, lambda: factory().search(query, limit=50), self._show_results, self._failed_search)

    def _failed_search(self, exc: BaseException) -> None:
        self.search_button.setEnabled(True)
        self._report(exc)

    def _show_results(self, results: list[RepoSummary]) -> None:
        self.search_button.setEnabled(True)
        self.catalog.clearSelection()
        self._fill_repos(results)
        self.status.emit(f"{len(results)} GGUF repositories found." if results else "No GGUF repositories found.")

    def _fill_repos(self, repos: list) -> None:
        self._repos = list(repos)
        self.repos.setRowCount(len(repos))
        for index, repo in enumerate(repos):
            if isinstance(repo, str):
                cells = [repo, "", "", "", ""]
            else:
                cells = _repo_cells(repo, repo.gated)
            for column, text in enumerate(cells):
                self.repos.setItem(index, column, QTableWidgetItem(text))
        self.files.setRowCount(0)
        self.details = None
        self.gated.setText("")
        self._sync()

    # ---- one repository ----------------------------------------------------------------

    def _open_repo(self) -> None:
        rows = self.repos.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._repos):
            return
        repo = self._repos[rows[0].row()]
        repo_id = repo if isinstance(repo, str) else repo.repo_id
        self._request += 1
        request = self._request
        self.files.setRowCount(0)
        self.details = None
        self._sync()
        self.status.emit(f"Listing the files of {repo_id}…")
        factory = self._client_factory
        run_in_background(
            self,
            lambda: factory().repo(repo_id),
            lambda details: self._show_files(request, details),
            lambda exc: self._report_files_error(request, exc),
        )

    def _report_files_error(self, request: int, exc: BaseException) -> None:
        if request == self._request:  # else the user moved on to another repository
            self._report(exc)

    def _show_files(self, request: int, details: RepoDetails) -> None:
        if request != self._request:
            return  # the user moved on to another repository
        self.details = details
        summary = details.summary
        ids = self._repo_ids()
        row = ids.index(summary.repo_id) if summary.repo_id in ids else -1
        if row >= 0:
            for column, text in enumerate(_repo_cells(summary, details.gated)):
                item = self.repos.item(row, column)
                if item is not None:
                    item.setText(text)
        self.files.setRowCount(len(details.files))
        for index, file in enumerate(details.files):
            kind = file.quant or "full precision"
            for column, text in enumerate((file.filename, kind, human_bytes(file.size))):
                self.files.setItem(index, column, QTableWidgetItem(text))
        if details.gated:
            self.gated.setText(
                f"This repository is gated. Accept its license at "
                f"<a href='{details.license_url}'>{details.license_url}</a>, then add your "
                f"Hugging Face token (Token… above)."
            )
        else:
            self.gated.setText("")
        self.status.emit(f"{summary.repo_id}: {len(details.files)} GGUF file(s).")
        self._sync()

    def _repo_ids(self) -> list[str]:
        return [r if isinstance(r, str) else r.repo_id for r in self._repos]

    def selected_file(self) -> HubFile | None:
        """The selected HubFile, if any."""
        if self.details is None:
            return None
        rows = self.files.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.details.files):
            return None
        return self.details.files[rows[0].row()]

    def plan(self) -> PullPlan | None:
        """The pull the Download button would queue, or None with the reason in the label."""
        from app.core.hub.pull_plan import PullError, plan_pull

        if self.details is None:
            return None
        file = self.selected_file()
        quant = None if self.quant.currentText() == AS_IS else self.quant.currentText()
        if file is None and quant is None:
            return None
        try:
            return plan_pull(self.details, filename=file.filename if file else None, quant=quant)
        except PullError as exc:
            self.plan_label.setText(str(exc))
            return None

    def _sync(self) -> None:
        self.plan_label.setText("")
        plan = self.plan()
        self.download_button.setEnabled(plan is not None)
        if plan is not None:
            self.plan_label.setText(f"Will {plan.describe()} ({human_bytes(plan.file.size)}).")
            self.download_button.setText("Download and Quantize" if plan.quantize_to else "Download")
        elif self.details is not None and not self.plan_label.text():
            self.plan_label.setText("Pick a file, or a type to download or make.")

    def download(self) -> None:
        """Queue the planned pull."""
        plan = self.plan()
        if plan is not None:
            self.pull_requested.emit(plan)

    def _report(self, exc: BaseException) -> None:
        from app.core.hub.client import HubError

        message = one_line(exc)
        if isinstance(exc, HubError) and exc.kind == ErrorKind.OFFLINE:
            self.hub_unreachable.emit(message)
        self.status.emit(message)
        return None


def _repo_cells(repo: RepoSummary, gated: bool) -> list[str]:
    """One repository's row: name (with a lock when gated), downloads, likes, date, license."""
    return [
        repo.repo_id + ("  🔒 gated" if gated else ""),
        f"{repo.downloads:,}",
        f"{repo.likes:,}",
        (repo.last_modified or "")[:10],
        repo.license or "?",
    ]
