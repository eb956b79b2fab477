"""The Audit window's inputs, the same as `quorum audit`'s: set, one or two models, N,
temperatures, thinking budgets, max tokens, claim, greedy baseline and thinking.

The form holds no logic beyond collecting entries (AuditInputs); app.ui.audit.inputs
checks them. Its error line shows the checker's sentence under the entries.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from app.core.audit.questions import BUNDLED_SETS
from app.core.consensus.runner import MAX_SAMPLES, MIN_SAMPLES
from app.ui.audit.inputs import AuditInputs
from app.ui.widgets.form_label import shortcut_label

DEFAULT_SAMPLES = 8
MAX_TOKENS_LIMIT = 131_072
NO_SECOND_MODEL = "None (one model)"
SET_DESCRIPTIONS = {
    "arithmetic": "arithmetic (bundled, computed answers)",
    "choice": "choice (bundled, multiple choice)",
}


class AuditForm(QWidget):
    """The audit's entries in a two-column grid, and a line for what is wrong with them.

    Signals:
        changed(): an entry changed (the window checks for saved samples to resume).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.set_combo = QComboBox()
        self.set_combo.setAccessibleName("Question set")
        for name in BUNDLED_SETS:
            self.set_combo.addItem(SET_DESCRIPTIONS.get(name, name), name)
        self.browse_button = QPushButton("Choose &file…")
        self.browse_button.setToolTip("A JSONL or CSV file: question, optional answer and id")
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Model")
        self.second_combo = QComboBox()
        self.second_combo.setAccessibleName("Second model")
        self.second_combo.setToolTip("Audit a second model on the same questions, side by side")
        for combo in (self.set_combo, self.model_combo, self.second_combo):
            combo.setMinimumContentsLength(16)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(MIN_SAMPLES, MAX_SAMPLES)
        self.samples_spin.setValue(DEFAULT_SAMPLES)
        self.samples_spin.setAccessibleName("Samples per question")
        self.samples_spin.setToolTip(f"How many times each question is asked ({MIN_SAMPLES}–"
                                     f"{MAX_SAMPLES}), per temperature and budget")  # fmt: skip
        self.temperatures_edit = QLineEdit("0.6")
        self.temperatures_edit.setAccessibleName("Temperatures")
        self.temperatures_edit.setToolTip("One or more, e.g. 0.3, 0.6, 1.0 (a temperature sweep)")
        self.budgets_edit = QLineEdit("unlimited")
        self.budgets_edit.setAccessibleName("Thinking budgets")
        self.budgets_edit.setToolTip(
            "Tokens of thinking before the answer is asked for: e.g. 0, 256, 1024, unlimited"
        )
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, MAX_TOKENS_LIMIT)
        self.max_tokens_spin.setValue(512)
        self.max_tokens_spin.setAccessibleName("Max tokens per sample")
        self.claim_edit = QLineEdit()
        self.claim_edit.setAccessibleName("Claim")
        self.claim_edit.setPlaceholderText("e.g. 100% self-consistency at 512 samples, 0 bits")
        self.greedy_box = QCheckBox("&Greedy baseline (T 0)")
        self.greedy_box.setChecked(True)
        self.greedy_box.setToolTip("Also decode one temperature-0 answer per question")
        self.thinking_box = QCheckBox("&Thinking")
        self.thinking_box.setChecked(True)
        self.thinking_box.setToolTip("Let a thinking model think (where its template allows)")
        self.error_label = QLabel("")
        self.error_label.setObjectName("auditInputError")
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # it may quote a file's text
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.hide()
        self._build_layout()
        self.browse_button.clicked.connect(self.choose_file)
        for combo in (self.set_combo, self.model_combo, self.second_combo):
            combo.currentIndexChanged.connect(self._on_changed)
        for spin in (self.samples_spin, self.max_tokens_spin):
            spin.valueChanged.connect(self._on_changed)
        for edit in (self.temperatures_edit, self.budgets_edit, self.claim_edit):
            edit.textChanged.connect(self._on_changed)
        for box in (self.greedy_box, self.thinking_box):
            box.toggled.connect(self._on_changed)

    def _build_layout(self) -> None:
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        set_row = QHBoxLayout()
        set_row.addWidget(self.set_combo, 1)
        set_row.addWidget(self.browse_button)
        boxes = QHBoxLayout()
        boxes.addWidget(self.greedy_box)
        boxes.addWidget(self.thinking_box)
        boxes.addStretch(1)
        Part = QWidget | QHBoxLayout
        left: list[tuple[str, Part]] = [
            ("Question &set:", set_row),
            ("&Model:", self.model_combo),
            ("&Compare with:", self.second_combo),
            ("C&laim:", self.claim_edit),
        ]
        right: list[tuple[str, Part]] = [
            ("Sam&ples:", self.samples_spin),
            ("T&emperatures:", self.temperatures_edit),
            ("Thinking &budgets:", self.budgets_edit),
            ("Max to&kens:", self.max_tokens_spin),
        ]
        for row, ((left_text, left_part), (right_text, right_part)) in enumerate(
            zip(left, right, strict=True)
        ):
            for column, text, part in ((0, left_text, left_part), (2, right_text, right_part)):
                label = shortcut_label(text)
                grid.addWidget(label, row, column)
                if isinstance(part, QWidget):
                    label.setBuddy(part)
                    grid.addWidget(part, row, column + 1)
                elif isinstance(part, QHBoxLayout):
                    label.setBuddy(self.set_combo)
                    grid.addLayout(part, row, column + 1)
        grid.addLayout(boxes, len(left), 1, 1, 3)
        grid.addWidget(self.error_label, len(left) + 1, 0, 1, 4)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(3, 1)

    # -- entries --------------------------------------------------------------------------
    def set_models(self, models: list[tuple[Path, str]], current: Path | None = None) -> None:
        """The models on disk (path, name shown); `current` (the conversation's model, which
        may be a file opened from disk rather than one of the library's) is preselected."""
        if current is not None and current not in [path for path, _ in models]:
            models = [(current, current.stem), *models]
        chosen = self.model_paths()
        first = chosen[0] if chosen else current
        second = chosen[1] if len(chosen) > 1 else None
        for combo in (self.model_combo, self.second_combo):
            combo.blockSignals(True)
            combo.clear()
        self.second_combo.addItem(NO_SECOND_MODEL, None)
        for path, name in models:
            label = name if name else path.name
            for combo in (self.model_combo, self.second_combo):
                combo.addItem(label, path)
                combo.setItemData(combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        for combo, wanted in ((self.model_combo, current or first), (self.second_combo, second)):
            index = _find(combo, wanted)
            if index >= 0:
                combo.setCurrentIndex(index)
            combo.blockSignals(False)
        self.changed.emit()

    def model_paths(self) -> tuple[Path, ...]:
        paths = [c.currentData() for c in (self.model_combo, self.second_combo)]
        return tuple(p for p in paths if isinstance(p, Path))

    def set_question_file(self, path: Path) -> None:
        """Use a set from disk (added to the list and selected)."""
        index = _find(self.set_combo, path)
        if index < 0:
            self.set_combo.addItem(path.name, path)
            index = self.set_combo.count() - 1
            self.set_combo.setItemData(index, str(path), Qt.ItemDataRole.ToolTipRole)
        self.set_combo.setCurrentIndex(index)

    def choose_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Choose a question set", str(Path.home()),
            "Question sets (*.jsonl *.csv);;All files (*)",
        )  # fmt: skip
        if chosen:
            self.set_question_file(Path(chosen))

    def inputs(self) -> AuditInputs:
        question_set = self.set_combo.currentData()
        return AuditInputs(
            question_set=question_set if question_set is not None else "",
            models=self.model_paths(),
            samples=self.samples_spin.value(),
            temperatures=self.temperatures_edit.text(),
            think_budgets=self.budgets_edit.text(),
            max_tokens=self.max_tokens_spin.value(),
            claim=self.claim_edit.text(),
            greedy=self.greedy_box.isChecked(),
            thinking=self.thinking_box.isChecked(),
        )

    def show_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

    def _on_changed(self, *_args: object) -> None:
        self.changed.emit()


def _find(combo: QComboBox, data: object) -> int:
    """The row holding `data` (compared in Python: a Path is no Qt type), or -1."""
    if data is None:
        return -1
    return next((i for i in range(combo.count()) if combo.itemData(i) == data), -1)
