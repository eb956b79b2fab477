"""Sampling and runtime settings, beside the model's own defaults.

Only the values a user changed are remembered (as overrides of the loaded model's
defaults), so opening another model starts from that model's recommended sampling
rather than from numbers chosen for a different one. Runtime values (context size,
threads, GPU layers) apply when the model is loaded, hence the reload button.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import fields, replace
from typing import Any

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import RuntimeParams, SamplingParams, default_threads
from app.ui.settings.engine_choice import EngineChoice
from app.ui.widgets.form_label import shortcut_label

# name -> (label with mnemonic, minimum, maximum, step, decimals or None for ints, tooltip)
_SAMPLING_FIELDS: dict[str, tuple[str, float, float, float, int | None, str]] = {
    "temperature": ("&Temperature", 0.0, 2.0, 0.05, 2, "0 is greedy: every run gives the same"),
    "top_p": ("Top-&p", 0.01, 1.0, 0.05, 2, "Keep the most likely tokens up to this mass"),
    "top_k": ("Top-&k", 0, 1000, 1, None, "Keep this many most likely tokens (0: off)"),
    "min_p": ("M&in-p", 0.0, 0.99, 0.01, 2, "Drop tokens less likely than this × the best"),
    "repeat_penalty": ("Repeat penalt&y", 0.5, 2.0, 0.05, 2, "1.0 is off"),
    "presence_penalty": ("Pr&esence penalty", -2.0, 2.0, 0.1, 2, "0 is off"),
    "max_tokens": ("Ma&x tokens", 1, 131072, 256, None, "Stop after this many tokens"),
}
_DEFAULT_RUNTIME = {"n_ctx": 4096, "n_gpu_layers": 0}
_LABEL_GAP = 8  # px between a row's label and its box


class SettingsPanel(QWidget):
    """Every sampling and runtime setting, with the loaded model's defaults and a reset.

    Signals:
        reload_requested(): a runtime setting changed that needs the model reloaded.
    """

    reload_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model: ModelDescription | None = None
        self._overrides: dict[str, Any] = {}
        self._showing = False  # True while values are set by code, not by the user
        form = QFormLayout()
        # A label flush against its box reads as one word with it; the style's spacing
        # (6 px in Fusion) is the least, not the norm.
        form.setHorizontalSpacing(max(form.horizontalSpacing(), _LABEL_GAP))
        self.thinking_box = QCheckBox("T&hink before answering")
        self.thinking_box.setChecked(True)
        form.addRow(self.thinking_box)
        self.spins: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self.default_labels: dict[str, QLabel] = {}
        for name, (label, low, high, step, decimals, tip) in _SAMPLING_FIELDS.items():
            spin = _spin_box(low, high, step, decimals)
            spin.setToolTip(tip)
            spin.valueChanged.connect(self._on_value_edited)
            self.spins[name] = spin
            form.addRow(*self._row(label, spin, name))
        self.seed_edit = QLineEdit(placeholderText="random")
        self.seed_edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
        self.seed_edit.setToolTip("Blank: a fresh seed each run (it is saved with the run)")
        self.seed_edit.textEdited.connect(self._on_value_edited)
        form.addRow(*self._row("See&d", self.seed_edit, "seed"))
        self.context_spin = _int_spin_box(256, 262144, 1024)
        self.threads_spin = _int_spin_box(1, max(256, default_threads()), 1)
        self.gpu_spin = _int_spin_box(-1, 999, 1)
        self.gpu_spin.setSpecialValueText("all")
        form.addRow(*self._row("Context si&ze", self.context_spin, "n_ctx"))
        form.addRow(*self._row("CP&U threads", self.threads_spin, "n_threads"))
        form.addRow(*self._row("&GPU layers", self.gpu_spin, "n_gpu_layers"))
        # Said where the numbers are set: a request beyond the context cannot be met.
        self.context_warning = QLabel("")
        self.context_warning.setWordWrap(True)
        self.context_warning.setStyleSheet("color: #c0392b;")
        self.context_warning.hide()
        form.addRow(self.context_warning)
        self.reset_button = QPushButton("Reset to model defaults")
        self.reload_button = QPushButton("Re&load model with these settings")
        self.reload_button.setToolTip("Context size, threads and GPU layers apply on load")
        layout = QVBoxLayout(self)
        self.engine_choice = EngineChoice()  # where questions go: this computer or a server
        layout.addWidget(self.engine_choice)
        layout.addLayout(form)
        layout.addWidget(self.reset_button)
        layout.addWidget(self.reload_button)
        layout.addStretch(1)
        self.thinking_box.toggled.connect(self._on_thinking_toggled)
        for spin in (self.spins["max_tokens"], self.context_spin):
            spin.valueChanged.connect(self._check_context)
        self.reset_button.clicked.connect(self._on_reset_clicked)
        self.reload_button.clicked.connect(self.reload_requested)
        self.set_runtime(RuntimeParams(**_DEFAULT_RUNTIME))
        self.show_model(None)

    def show_model(self, model: ModelDescription | None) -> None:
        """Show the loaded model's defaults (and thinking support) under the user's edits."""
        self._model = model
        supports = model is not None and model.supports_thinking
        self.thinking_box.setEnabled(supports)
        self.thinking_box.setToolTip(
            "" if supports else "This model has no thinking switch in its chat template"
        )
        if model is not None and model.info.context_length:
            self.context_spin.setMaximum(max(256, model.info.context_length))
        self._show_values()

    def thinking(self) -> bool:
        """True when the model should think (always True for models without a switch)."""
        return self.thinking_box.isChecked() or not self.thinking_box.isEnabled()

    def defaults(self) -> SamplingParams:
        if self._model is None:
            return SamplingParams()
        return self._model.defaults(self.thinking_box.isChecked())

    def sampling(self) -> SamplingParams:
        """The values shown; raises ValueError with a readable message if one is invalid."""
        values: dict[str, Any] = {name: spin.value() for name, spin in self.spins.items()}
        seed = self.seed_edit.text().strip()
        values["seed"] = int(seed) if seed else None
        return SamplingParams(**values).validated()

    def runtime(self) -> RuntimeParams:
        return RuntimeParams(
            n_ctx=self.context_spin.value(),
            n_threads=self.threads_spin.value(),
            n_gpu_layers=self.gpu_spin.value(),
        )

    def set_runtime(self, runtime: RuntimeParams) -> None:
        self.context_spin.setValue(runtime.n_ctx)
        self.threads_spin.setValue(runtime.n_threads)
        self.gpu_spin.setValue(runtime.n_gpu_layers)

    def state(self) -> dict[str, Any]:
        """What to remember between sessions."""
        return {"overrides": dict(self._overrides), "thinking": self.thinking_box.isChecked(),
                "runtime": self.runtime().to_dict()}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        known = {f.name for f in fields(SamplingParams)}
        overrides = state.get("overrides") or {}
        self._overrides = {k: v for k, v in overrides.items() if k in known}
        self.thinking_box.setChecked(bool(state.get("thinking", True)))
        runtime = state.get("runtime") or {}
        with suppress(TypeError):  # written by another version: keep the defaults
            self.set_runtime(replace(RuntimeParams(), **runtime))
        self._show_values()

    def _row(self, label: str, editor: QWidget, name: str) -> tuple[QLabel, QWidget]:
        buddy = shortcut_label(label, editor)
        hint = QLabel("")
        hint.setEnabled(False)  # drawn greyed: it is a reference, not a value
        self.default_labels[name] = hint
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(editor, 1)
        box.addWidget(hint)
        return buddy, row

    def _show_values(self) -> None:
        defaults = self.defaults()
        self._showing = True
        try:
            for name, spin in self.spins.items():
                value = self._overrides.get(name, getattr(defaults, name))
                spin.setValue(value)
                self.default_labels[name].setText(f"default {_format(getattr(defaults, name))}")
            seed = self._overrides.get("seed")
            self.seed_edit.setText("" if seed is None else str(seed))
            self.default_labels["seed"].setText("default random")
            runtime_defaults = RuntimeParams(**_DEFAULT_RUNTIME)
            for name in ("n_ctx", "n_threads", "n_gpu_layers"):
                value = getattr(runtime_defaults, name)
                text = "all" if name == "n_gpu_layers" and value < 0 else str(value)
                self.default_labels[name].setText(f"default {text}")
        finally:
            self._showing = False
        # One width for every "default …" note, so the boxes line up in a column.
        widest = max(hint.sizeHint().width() for hint in self.default_labels.values())
        for hint in self.default_labels.values():
            hint.setMinimumWidth(widest)

    def _on_value_edited(self, *_args: object) -> None:
        if self._showing:
            return
        defaults = self.defaults()
        self._overrides = {
            name: spin.value()
            for name, spin in self.spins.items()
            if abs(spin.value() - getattr(defaults, name)) > 1e-9
        }
        seed = self.seed_edit.text().strip()
        if seed:
            self._overrides["seed"] = int(seed)

    def _on_thinking_toggled(self, _checked: bool) -> None:
        self._show_values()  # thinking and non-thinking defaults differ for Qwen3

    def _on_reset_clicked(self) -> None:
        self._overrides = {}
        self.set_runtime(RuntimeParams(**_DEFAULT_RUNTIME))
        self.thinking_box.setChecked(True)  # the default, like every other value here
        self._show_values()

    def _check_context(self, *_args: object) -> None:
        max_tokens, context = self.spins["max_tokens"].value(), self.context_spin.value()
        over = max_tokens > context
        self.context_warning.setVisible(over)
        self.context_warning.setText(
            f"Max tokens ({max_tokens:,}) is more than the context size ({context:,}): "
            "the question and the answer must fit in the context, so the answer will "
            "stop before that."
            if over
            else ""
        )


def _int_spin_box(low: int, high: int, step: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setKeyboardTracking(False)
    return spin


def _spin_box(low: float, high: float, step: float,
              decimals: int | None) -> QSpinBox | QDoubleSpinBox:  # fmt: skip
    if decimals is None:
        return _int_spin_box(int(low), int(high), int(step))
    spin = QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setKeyboardTracking(False)
    return spin


def _format(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
