"""Help → About: the versions of Fimble, llama.cpp and Qt."""

from __future__ import annotations

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from app import __version__
from app.core.generation.backend_info import BackendInfo


def about_text(backend: BackendInfo | None) -> str:
    """Return the About box's rich text for a backend description (None: no engine started yet)."""
    llama = backend.llama_cpp_python if backend else "not started yet"
    return (
        f"<h3>Fimble {__version__}</h3>"
        "<p>An offline coding assistant: nothing leaves this machine.</p>"
        "<table>"
        f"<tr><td>Fimble</td><td>{__version__}</td></tr>"
        f"<tr><td>llama.cpp (llama-cpp-python)</td><td>{llama}</td></tr>"
        f"<tr><td>Backend</td><td>{backend.describe() if backend else 'not started yet'}</td></tr>"
        f"<tr><td>Qt</td><td>{qVersion()}</td></tr>"
        f"<tr><td>PySide6</td><td>{PySide6.__version__}</td></tr>"
        "</table>"
    )


def show_about(parent: QWidget, backend: BackendInfo | None) -> QMessageBox:
    """Open the About box (non-blocking) and return it."""
    box = QMessageBox(parent)
    box.setWindowTitle("About Fimble")
    box.setText(about_text(backend))
    box.setModal(False)
    box.show()
    return box
