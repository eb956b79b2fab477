"""The model manager names an imported file as the window title does; the tooltip says
which file it is and what its GGUF metadata calls it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.core.models.gguf import read_gguf_info
from app.ui.models.manager import ModelManagerDialog
from app.ui.models.model_name import clean_model_name

pytestmark = pytest.mark.gui

WAIT_MS = 30_000
COPY = "my-smollm2_copy.Q4_1.gguf"  # a name of the user's choosing


def test_an_imported_file_shows_the_title_name_with_file_and_gguf_name_as_tip(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    copy = folder / COPY
    shutil.copyfile(test_model_path, copy)
    recipe = read_gguf_info(copy).name
    assert recipe == "Smollm2 135M 8k Lc100K Mix1 Ep2"  # precondition: a training recipe
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(copy), ""))
    with qtbot.waitSignal(dialog.library_changed, timeout=WAIT_MS):
        dialog.import_button.click()
    entry = dialog.selected_entry()
    assert entry is not None and entry.path == copy.resolve()
    item = dialog.table.item(dialog.entries.index(entry), 0)
    assert item.text() == "my smollm2 copy" == clean_model_name(copy, recipe)
    tip = item.toolTip()
    assert f"File: {COPY}" in tip and f"GGUF general.name: {recipe}" in tip
    assert dialog.message() == "Added my smollm2 copy; the file stays where it is."
