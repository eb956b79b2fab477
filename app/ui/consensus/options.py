"""The consensus switch beside the Ask button: on/off, how many samples, early stop."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSizePolicy, QSpinBox, QWidget

from app.core.consensus.runner import MAX_SAMPLES, MIN_SAMPLES

DEFAULT_SAMPLES = 8
EARLY_STOP_CHOICES = (
    ("off", "Early stop: off", "Run every sample"),
    ("cannot_lose", "Early stop: leader can't lose",
     "Early stop: once the remaining samples could not change which answer leads"),
    ("settled", "Early stop: lead settled",
     "Early stop: also once the leader's 95% interval is clear of the runner-up's "
     "(after 8 samples or more)"),
    ("beta", "Early stop: Beta rule (fewest samples)",
     "Early stop: once the leader beats the runner-up with 95% posterior probability "
     "(Adaptive-Consistency), decided on samples 1..k in order"),
)  # fmt: skip


class ConsensusOptions(QWidget):
    """The consensus switch beside Ask: on or off, how many samples, which early stop.

    Signals:
        toggled(bool): consensus was switched on (True) or off (False).
    """

    toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.enabled_box = QCheckBox("Co&nsensus")
        self.enabled_box.setToolTip(
            "Ask the same question several times and show how much the answers agree"
        )
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(MIN_SAMPLES, MAX_SAMPLES)
        self.samples_spin.setValue(DEFAULT_SAMPLES)
        self.samples_spin.setSuffix(" samples")
        self.samples_spin.setAccessibleName("Number of samples")
        self.samples_spin.setToolTip(f"How many times to ask ({MIN_SAMPLES} to {MAX_SAMPLES})")
        self.early_stop_combo = QComboBox()
        self.early_stop_combo.setAccessibleName("Early stop")
        for row, (mode, text, tip) in enumerate(EARLY_STOP_CHOICES):
            self.early_stop_combo.addItem(text, mode)
            self.early_stop_combo.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.enabled_box, self.samples_spin, self.early_stop_combo):
            # Never squeezed below their text: "512 samples" must stay readable.
            widget.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            layout.addWidget(widget)
        self.enabled_box.toggled.connect(self._on_enabled_toggled)
        self._on_enabled_toggled(False)

    def enabled(self) -> bool:
        return self.enabled_box.isChecked()

    def samples(self) -> int:
        return self.samples_spin.value()

    def early_stop(self) -> str:
        return str(self.early_stop_combo.currentData())

    def set_enabled(self, on: bool) -> None:
        self.enabled_box.setChecked(on)

    def set_early_stop(self, mode: str) -> bool:
        row = self.early_stop_combo.findData(mode)
        if row >= 0:
            self.early_stop_combo.setCurrentIndex(row)
        return row >= 0

    def state(self) -> dict[str, Any]:
        return {"enabled": self.enabled(), "samples": self.samples(),
                "early_stop": self.early_stop()}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        samples = state.get("samples")
        if isinstance(samples, int) and not isinstance(samples, bool):
            self.samples_spin.setValue(samples)  # clamped to the range by the spin box
        self.set_early_stop(str(state.get("early_stop", "off")))
        self.set_enabled(bool(state.get("enabled", False)))

    def _on_enabled_toggled(self, on: bool) -> None:
        self.samples_spin.setEnabled(on)
        self.early_stop_combo.setEnabled(on)
        self.toggled.emit(on)
