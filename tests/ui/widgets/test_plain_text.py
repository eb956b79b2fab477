"""Tooltips and exports from the GUI show hostile text literally: Qt reads a tooltip that
looks like HTML as rich text, and a Markdown viewer reads raw HTML."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6 import QtGui
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QTextDocument
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QToolTip, QWidget
from pytestqt.qtbot import QtBot

from app.core.conversation import open_history
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.ui.consensus.chart import PAD, ROW_HEIGHT, GroupBarChart
from app.ui.consensus.group_palette import GroupPalette
from app.ui.consensus.sample_chips import SampleChipStrip
from app.ui.conversation.session import ChatSession
from app.ui.history.panel import HistoryPanel
from app.ui.models.manager import ModelManagerDialog
from app.ui.widgets.plain_text import literal_rich_text
from tests.gguf_edit import copy_with_string
from tests.markdown_check import PAYLOAD, VIEWERS, render, visible

pytestmark = pytest.mark.gui

# One line, as a history row's question is: a tag on the first line is what makes Qt
# treat the whole tooltip as rich text.
HOSTILE = '<img src=x onerror=alert(1)> <b>bold</b> &amp; <a href="javascript:alert(1)">x</a>'


def shown_text(tooltip: str) -> str:
    """What Qt displays for a tooltip: rich text goes through a QTextDocument."""
    if not QtGui.Qt.mightBeRichText(tooltip):
        return tooltip
    document = QTextDocument()
    document.setHtml(tooltip)
    return document.toPlainText()


def test_hostile_text_would_be_rich_text_and_is_shown_literally() -> None:
    assert QtGui.Qt.mightBeRichText(HOSTILE) and shown_text(HOSTILE) != HOSTILE  # the danger
    assert shown_text(literal_rich_text(HOSTILE)) == HOSTILE
    assert shown_text(literal_rich_text("two\nlines")) == "two\nlines"
    assert literal_rich_text("") == ""


@pytest.fixture
def session(qtbot: QtBot) -> Iterator[ChatSession]:
    store, message = open_history()
    assert message is None
    chat = ChatSession(store)
    yield chat
    chat.shutdown()
    assert chat.inference.qthread.isFinished()


def _hostile_run() -> RunRecord:
    sample = SampleRecord(0, 1, f"trace {PAYLOAD}", f"answer {PAYLOAD}", f"x {PAYLOAD}",
                          "boxed", 10, 1.0, "stop")  # fmt: skip
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=time.time(),
                     question=f"{HOSTILE}\n{PAYLOAD}", model_name=f"model {PAYLOAD}",
                     model_path="/m.gguf", model_sha256=None, params={}, samples=[sample],
                     status=RunStatus.DONE)  # fmt: skip


def test_history_tooltip_and_markdown_export_show_the_question_literally(
    session: ChatSession, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _hostile_run()
    session.store.finish_run(run)
    panel = HistoryPanel(session)
    qtbot.addWidget(panel)
    assert panel.runs.count() == 1
    item = panel.runs.item(0)
    assert shown_text(item.toolTip()) == HOSTILE  # the question's first line, as written

    panel.runs.setCurrentRow(0)
    target = tmp_path / "exported"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(panel.export_md_button, Qt.MouseButton.LeftButton)
    markdown = (tmp_path / "exported.md").read_text("utf-8")
    for viewer in VIEWERS:
        shown = render(markdown, viewer)
        assert shown.problems() == []
        for value in (run.question, run.model_name, run.samples[0].answer):
            assert visible(value, shown), value


def _tooltip_at(widget: QWidget, point: QPoint, qtbot: QtBot) -> str:
    QToolTip.hideText()
    event = QHelpEvent(QEvent.Type.ToolTip, point, widget.mapToGlobal(point))
    QApplication.sendEvent(widget, event)
    qtbot.waitUntil(QToolTip.isVisible, timeout=2000)
    return QToolTip.text()


def test_chart_and_chip_tooltips_show_group_labels_literally(qtbot: QtBot) -> None:
    palette = GroupPalette()
    chart = GroupBarChart(palette)
    chips = SampleChipStrip(palette)
    for widget in (chart, chips):
        qtbot.addWidget(widget)
        widget.resize(400, 200)
        widget.show()
    chart.set_groups([(HOSTILE, 2, [0, 1])], 2)
    tip = _tooltip_at(chart, QPoint(50, PAD + ROW_HEIGHT // 2), qtbot)
    assert shown_text(tip).startswith(HOSTILE + "\n2 of 2 samples")
    chips.set_total(1)
    chips.set_sample(0, HOSTILE)
    tip = _tooltip_at(chips, chips.chip_rect(0).center(), qtbot)
    assert shown_text(tip) == f"Sample 1: answer {HOSTILE}"
    QToolTip.hideText()


def test_model_manager_shows_a_hostile_gguf_name_and_path_literally(
    qtbot: QtBot, test_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "<img src=x onerror=alert(1)>"  # a folder name may hold markup too
    folder.mkdir()
    model = copy_with_string(test_model_path, folder / "m.gguf", "general.name", HOSTILE)
    dialog = ModelManagerDialog()
    qtbot.addWidget(dialog)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(model), ""))
    with qtbot.waitSignal(dialog.library_changed, timeout=15_000):
        dialog.import_button.click()
    entry = dialog.selected_entry()
    assert entry is not None and entry.display_name == HOSTILE
    row = dialog.entries.index(entry)
    # The column shows the name the title uses (here the file's: the GGUF name is not a
    # clean one); the tooltip names the GGUF's general.name, literally.
    cell = dialog.table.item(row, 0)
    assert cell.text() == "m"
    assert f"GGUF general.name: {HOSTILE}" in shown_text(cell.toolTip())
    assert shown_text(dialog.table.item(row, 3).toolTip()) == str(model)
    asked: list[str] = []

    def answer(_parent: object, _title: str, text: str, *_rest: object) -> object:
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer)
    dialog.remove_button.click()
    assert asked and f"Forget {HOSTILE}?" in shown_text(asked[0])
