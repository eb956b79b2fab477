"""Choosing the model: the library's models on disk, plus any .gguf file the user opens.

Seam for the model manager and first-run panel (a later step): they download or import
into the library and then call `ModelPicker.refresh`; catalog models not downloaded yet
are already listed, greyed out, so the manager only has to make them available.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from app.core.models import library
from app.core.models.entry import ModelEntry
from app.core.units import size_text
from app.ui.models.model_name import entry_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    """A model the picker offers: its path, the name shown, its recorded sha256."""

    path: Path
    name: str
    sha256: str | None = None


def describe_entry(entry: ModelEntry) -> str:
    parts = [entry_name(entry)]  # the window title's name, not a GGUF's training recipe
    if entry.quantization:
        parts.append(entry.quantization)
    if entry.size:
        parts.append(size_text(entry.size))
    text = " · ".join(parts)
    return text if entry.available else f"{text} (not downloaded)"


def _file_label(choice: ModelChoice) -> str:
    if choice.name in ("", choice.path.stem):
        return choice.path.name
    return f"{choice.name} · {choice.path.name}"


class ModelPicker(QWidget):
    """The model box above the question: the library's models and Open….

    Signals:
        model_chosen(ModelChoice): the user picked a model to load.
        message_posted(str): a line for the banner (a file that could not be added).
    """

    model_chosen = Signal(object)  # ModelChoice
    message_posted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(24)
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setAccessibleName("Model")
        label = QLabel("&Model:")
        label.setBuddy(self.combo)
        self.open_button = QPushButton("Open .gguf…")
        self.open_button.setToolTip("Use a GGUF model file from your disk (Ctrl+O)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.open_button)
        self.combo.activated.connect(self._on_activated)
        self.open_button.clicked.connect(self.open_file)
        self.refresh()

    def refresh(self, current: Path | None = None) -> None:
        """List the library again (after a download or import), keeping the selection."""
        current = current or self.current_path()
        extra = [c for c in self._choices() if not self._from_library(c)]
        self.combo.clear()
        try:
            entries = library.list_models()
        except Exception as exc:  # a damaged model index must not stop the window
            log.exception("could not list models")
            self.message_posted.emit(f"Could not list your models: {exc}")
            entries = []
        available = [e for e in entries if e.available and e.path is not None]
        for entry in available:
            assert entry.path is not None
            choice = ModelChoice(Path(entry.path), entry.display_name, entry.sha256)
            self._add(describe_entry(entry), choice, library_entry=True)
        for choice in extra:
            if choice.path not in {c.path for c in self._choices()}:
                self._add(_file_label(choice), choice, library_entry=False)
        for entry in entries:
            if not entry.available:
                self._add(describe_entry(entry), None, library_entry=True)
        if current is not None:
            self.set_current(current)

    def add_file(self, path: Path, name: str | None = None) -> None:
        """Show a model file that is not in the library, and select it."""
        path = Path(path)
        if path not in {c.path for c in self._choices()}:
            choice = ModelChoice(path, name or path.stem)
            self._add(_file_label(choice), choice, library_entry=False, index=0)
        self.set_current(path)

    def set_current(self, path: Path) -> bool:
        for index in range(self.combo.count()):
            choice = self.combo.itemData(index)
            if isinstance(choice, ModelChoice) and choice.path == Path(path):
                self.combo.setCurrentIndex(index)
                return True
        return False

    def current_path(self) -> Path | None:
        choice = self.combo.currentData()
        return choice.path if isinstance(choice, ModelChoice) else None

    def open_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if chosen:
            path = Path(chosen)
            self.add_file(path)
            self.model_chosen.emit(ModelChoice(path, path.stem))

    def _on_activated(self, index: int) -> None:
        choice = self.combo.itemData(index)
        if isinstance(choice, ModelChoice):
            self.model_chosen.emit(choice)

    def _choices(self) -> list[ModelChoice]:
        found = [self.combo.itemData(i) for i in range(self.combo.count())]
        return [c for c in found if isinstance(c, ModelChoice)]

    def _from_library(self, choice: ModelChoice) -> bool:
        for index in range(self.combo.count()):
            if self.combo.itemData(index) == choice:
                return bool(self.combo.itemData(index, Qt.ItemDataRole.UserRole + 1))
        return False

    def _add(self, text: str, choice: ModelChoice | None, library_entry: bool,
             index: int | None = None) -> None:  # fmt: skip
        position = self.combo.count() if index is None else index
        self.combo.insertItem(position, text, choice)
        self.combo.setItemData(position, library_entry, Qt.ItemDataRole.UserRole + 1)
        self.combo.setItemData(position, text, Qt.ItemDataRole.ToolTipRole)
        if choice is None:  # not on disk: shown so the user knows it exists, not choosable
            model = self.combo.model()
            if isinstance(model, QStandardItemModel):
                item = model.item(position)
                item.setEnabled(False)
