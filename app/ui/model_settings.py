"""The runtime settings of one model: a form over ``LoadParams``.

They apply on the model's next load; the caller reloads it when the model is
in use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.models.load_params import (
    CACHE_TYPES,
    GPU_LAYERS_ALL,
    GPU_LAYERS_AUTO,
    WARM_PLACES_AUTO,
    LoadParams,
)
from app.core.settings import WINDOW_MAX_TOKENS, WINDOW_MIN_TOKENS

_GPU_MODES = (
    ("Auto (as many as fit)", GPU_LAYERS_AUTO),
    ("All layers", GPU_LAYERS_ALL),
    ("CPU only", 0),
    ("A number of layers", 1),
)

_WINDOW_AUTO = WINDOW_MIN_TOKENS - 1  # the spin box's lowest value stands for "auto"


@dataclass(frozen=True)
class WindowChoice:
    """The completion model's window: the pinned size (None: sized to the machine) and what is used now."""

    pinned: int | None
    now: str = ""


class ModelSettingsDialog(QDialog):
    """Edit the load settings of one model; ``params()`` gives the result."""

    def __init__(
        self,
        title: str,
        params: LoadParams,
        *,
        n_layers: int | None = None,
        note: str = "",
        window: WindowChoice | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._given = params  # fields the form does not show are kept as they were
        self.setWindowTitle(f"Runtime Settings — {title}")
        help_text = LoadParams.help()
        form = QFormLayout()
        self.n_ctx = self._spin(0, 1 << 20, params.n_ctx, help_text["n_ctx"], step=1024)
        self.n_ctx.setSpecialValueText("the model's own")
        form.addRow("Context length", self.n_ctx)

        self.gpu_mode = QComboBox()
        for label, value in _GPU_MODES:
            self.gpu_mode.addItem(label, value)
        self.gpu_layers = self._spin(
            1, max(n_layers or 0, 1000), max(params.n_gpu_layers, 1), help_text["n_gpu_layers"]
        )
        mode = params.n_gpu_layers if params.n_gpu_layers <= 0 else 1
        self.gpu_mode.setCurrentIndex(next(i for i, (_, v) in enumerate(_GPU_MODES) if v == mode))
        self.gpu_mode.currentIndexChanged.connect(self._sync_gpu)
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.gpu_mode, 1)
        gpu_row.addWidget(self.gpu_layers)
        if n_layers:
            gpu_row.addWidget(QLabel(f"of {n_layers + 1}"))
        form.addRow("GPU layers", gpu_row)
        self._sync_gpu()

        self.n_threads = self._spin(0, 512, params.n_threads or 0, help_text["n_threads"])
        self.n_threads.setSpecialValueText("automatic")
        form.addRow("Threads", self.n_threads)
        self.n_batch = self._spin(1, 8192, params.n_batch, help_text["n_batch"], step=64)
        form.addRow("Batch size", self.n_batch)
        self.rope_base = self._double(params.rope_freq_base, help_text["rope_freq_base"], 0, 1e8, 0)
        self.rope_base.setSpecialValueText("from the model")
        form.addRow("RoPE base", self.rope_base)
        self.rope_scale = self._double(params.rope_freq_scale, help_text["rope_freq_scale"], 0, 100, 4)
        self.rope_scale.setSpecialValueText("from the model")
        form.addRow("RoPE scale", self.rope_scale)
        self.offload_kqv = self._check("Keep the KV cache on the GPU", params.offload_kqv, help_text["offload_kqv"])
        form.addRow("", self.offload_kqv)
        self.use_mlock = self._check("Lock the model in RAM (mlock)", params.use_mlock, help_text["use_mlock"])
        form.addRow("", self.use_mlock)
        self.use_mmap = self._check("Memory-map the file (mmap)", params.use_mmap, help_text["use_mmap"])
        form.addRow("", self.use_mmap)
        self.flash_attn = self._check("Flash attention", params.flash_attn, help_text["flash_attn"])
        form.addRow("", self.flash_attn)
        self.seed = self._spin(-1, 2**31 - 1, params.seed, help_text["seed"])
        self.seed.setSpecialValueText("random")
        form.addRow("Seed", self.seed)
        self.type_k = self._cache_combo(params.type_k, help_text["type_k"])
        form.addRow("K cache type", self.type_k)
        self.type_v = self._cache_combo(params.type_v, help_text["type_v"])
        form.addRow("V cache type", self.type_v)
        self.window_box: QSpinBox | None = None
        self.window_now: QLabel | None = None
        self.warm_box: QSpinBox | None = None
        if window is not None:  # the completion model: its FIM window
            self.window_box = self._spin(
                _WINDOW_AUTO,
                WINDOW_MAX_TOKENS,
                window.pinned or _WINDOW_AUTO,
                "Tokens of text around the cursor that completions see (before plus after)."
                " Auto sizes it so that a new place is evaluated within about a second on this"
                " machine, and grows it while you pause. Applies at once.",
                step=128,
            )
            self.window_box.setSpecialValueText("Auto (sized to this machine)")
            form.addRow("Completion window", self.window_box)
            self.window_now = QLabel(window.now)
            self.window_now.setWordWrap(True)
            form.addRow("", self.window_now)
            self.warm_box = self._spin(
                WARM_PLACES_AUTO,
                1 << 20,
                params.warm_places_mib,
                "Memory for completion prompts kept at earlier places (the previous file, the"
                " place before a jump), so that going back needs no new evaluation. Auto keeps"
                " four full windows at this model's KV size, at most a quarter of free memory.",
                step=64,
            )
            self.warm_box.setSuffix(" MiB")
            self.warm_box.setSpecialValueText("Auto (four windows)")
            form.addRow("Warm places memory", self.warm_box)

        layout = QVBoxLayout(self)
        if note:
            hint = QLabel(note)
            hint.setWordWrap(True)
            layout.addWidget(hint)
        layout.addLayout(form)
        layout.addWidget(QLabel("Changes apply when the model is next loaded."))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self._restore_defaults)
        layout.addWidget(buttons)

    def params(self) -> LoadParams:
        """The settings as edited."""
        mode = self.gpu_mode.currentData()
        return replace(
            self._given,
            n_ctx=self.n_ctx.value(),
            n_gpu_layers=self.gpu_layers.value() if mode == 1 else mode,
            n_threads=self.n_threads.value() or None,
            n_batch=self.n_batch.value(),
            rope_freq_base=self.rope_base.value(),
            rope_freq_scale=self.rope_scale.value(),
            offload_kqv=self.offload_kqv.isChecked(),
            use_mlock=self.use_mlock.isChecked(),
            use_mmap=self.use_mmap.isChecked(),
            seed=self.seed.value(),
            flash_attn=self.flash_attn.isChecked(),
            type_k=self.type_k.currentText(),
            type_v=self.type_v.currentText(),
            warm_places_mib=self._given.warm_places_mib if self.warm_box is None else self.warm_box.value(),
        )

    def completion_window(self) -> int | None:
        """The pinned completion window as edited; None for "auto" (and for other models)."""
        if self.window_box is None or self.window_box.value() == _WINDOW_AUTO:
            return None
        return self.window_box.value()

    def _restore_defaults(self) -> None:
        if self.window_box is not None:
            self.window_box.setValue(_WINDOW_AUTO)
        if self.warm_box is not None:
            self.warm_box.setValue(WARM_PLACES_AUTO)
        defaults = LoadParams()
        self.n_ctx.setValue(defaults.n_ctx)
        self.gpu_mode.setCurrentIndex(0)
        self.n_threads.setValue(0)
        self.n_batch.setValue(defaults.n_batch)
        self.rope_base.setValue(0)
        self.rope_scale.setValue(0)
        for box, value in (
            (self.offload_kqv, defaults.offload_kqv),
            (self.use_mlock, defaults.use_mlock),
            (self.use_mmap, defaults.use_mmap),
            (self.flash_attn, defaults.flash_attn),
        ):
            box.setChecked(value)
        self.seed.setValue(-1)
        self.type_k.setCurrentText(defaults.type_k)
        self.type_v.setCurrentText(defaults.type_v)

    def _sync_gpu(self) -> None:
        self.gpu_layers.setEnabled(self.gpu_mode.currentData() == 1)

    @staticmethod
    def _spin(low: int, high: int, value: int, tip: str, step: int = 1) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setValue(value)
        box.setToolTip(tip)
        return box

    @staticmethod
    def _double(value: float, tip: str, low: float, high: float, decimals: int) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setDecimals(decimals)
        box.setRange(low, high)
        box.setValue(value)
        box.setToolTip(tip)
        return box

    @staticmethod
    def _check(text: str, value: bool, tip: str) -> QCheckBox:
        box = QCheckBox(text)
        box.setChecked(value)
        box.setToolTip(tip)
        return box

    @staticmethod
    def _cache_combo(value: str, tip: str) -> QComboBox:
        box = QComboBox()
        box.addItems(CACHE_TYPES)
        box.setCurrentText(value)
        box.setToolTip(tip)
        return box
