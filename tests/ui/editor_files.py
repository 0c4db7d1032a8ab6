"""Opening a file in real, shown editor tabs, for the editor's tests."""

from __future__ import annotations

from pathlib import Path

from app.core.editor.recovery import RecoveryStore
from app.ui.editor_tabs import EditorTab, EditorTabs


def open_in_tabs(qtbot, tmp_path: Path, text: str, name: str = "big_module.py") -> tuple[EditorTabs, EditorTab]:
    """Write ``text`` to ``tmp_path / name``, open it in fresh shown tabs, and return the tabs and its tab."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    tabs = EditorTabs(RecoveryStore(tmp_path / "recovery"))
    qtbot.addWidget(tabs)
    tabs.resize(900, 600)
    tabs.show()
    tab = tabs.open_path(str(path))
    assert tab is not None
    return tabs, tab
