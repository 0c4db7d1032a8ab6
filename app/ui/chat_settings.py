"""Dialogs for a conversation's sampling and the editor's chat prompt templates."""

from __future__ import annotations

from dataclasses import asdict

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QInputDialog,
    QSpinBox,
    QWidget,
)

from app.core.chat.defaults import TEMPLATE_LABELS, TEMPLATES
from app.core.generation.contracts import Sampling

POLICIES = (
    ("drop_oldest", "Leave out the oldest turns (keep the system prompt)"),
    ("stop", "Stop and say the conversation is full"),
)


class SamplingDialog(QDialog):
    """Edit temperature, top-p, top-k, min-p, repeat penalty, max tokens, seed and overflow."""

    def __init__(self, sampling: Sampling, overflow: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Chat settings")
        form = QFormLayout(self)
        self.temperature = self._double(sampling.temperature, 0.0, 2.0, 0.05)
        self.top_p = self._double(sampling.top_p, 0.0, 1.0, 0.01)
        self.min_p = self._double(sampling.min_p, 0.0, 1.0, 0.01)
        self.repeat_penalty = self._double(sampling.repeat_penalty, 0.5, 2.0, 0.01)
        self.top_k = self._int(sampling.top_k, 0, 1000)
        self.max_tokens = self._int(sampling.max_tokens, 1, 32768)
        self.seed = self._int(-1 if sampling.seed is None else sampling.seed, -1, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        self.overflow = QComboBox()
        for key, label in POLICIES:
            self.overflow.addItem(label, key)
        self.overflow.setCurrentIndex(max(0, [k for k, _ in POLICIES].index(overflow)))
        for label, widget in (
            ("Temperature", self.temperature),
            ("Top-p", self.top_p),
            ("Top-k", self.top_k),
            ("Min-p", self.min_p),
            ("Repeat penalty", self.repeat_penalty),
            ("Max tokens", self.max_tokens),
            ("Seed", self.seed),
            ("When the context is full", self.overflow),
        ):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _double(value: float, low: float, high: float, step: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setValue(value)
        return box

    @staticmethod
    def _int(value: int, low: int, high: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setValue(value)
        return box

    def values(self) -> tuple[dict, str]:
        """The chosen sampling (as a dict for the store) and overflow policy."""
        seed = self.seed.value()
        sampling = {
            "temperature": self.temperature.value(),
            "top_p": self.top_p.value(),
            "top_k": self.top_k.value(),
            "min_p": self.min_p.value(),
            "repeat_penalty": self.repeat_penalty.value(),
            "max_tokens": self.max_tokens.value(),
            "seed": None if seed < 0 else seed,
        }
        Sampling(**{**asdict(Sampling()), **sampling})  # validates
        return sampling, self.overflow.currentData()


def edit_templates(parent: QWidget, current: dict[str, str]) -> dict[str, str] | None:
    """Let the user pick a template and edit its text; return the new overrides or None."""
    labels = [TEMPLATE_LABELS[key] for key in TEMPLATES]
    label, ok = QInputDialog.getItem(parent, "Prompt templates", "Template:", labels, 0, False)
    if not ok:
        return None
    key = list(TEMPLATES)[labels.index(label)]
    text, ok = QInputDialog.getMultiLineText(
        parent,
        TEMPLATE_LABELS[key],
        "Placeholders: {path} {language} {start_line} {end_line} {code}",
        current.get(key, TEMPLATES[key]),
    )
    if not ok:
        return None
    return {**current, key: text}
