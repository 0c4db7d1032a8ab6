"""Labels that never make the window wider than the screen."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy


def no_wider_than_given(label: QLabel) -> None:
    """Let a label take the width its layout gives it, never more: its text is cut, the window keeps its size."""
    label.setSizePolicy(QSizePolicy.Policy.Ignored, label.sizePolicy().verticalPolicy())
    label.setMinimumWidth(0)
