"""The history panel says which of its messages are errors; the window's banner follows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.ui.main_window import MainWindow
from tests.ui.widgets.test_plain_text import shown_text

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[MainWindow]:
    before = set(threading.enumerate())
    window = MainWindow()
    qtbot.addWidget(window)
    yield window
    window.close()
    assert not window.session.inference.qthread.isRunning()
    assert [t for t in threading.enumerate() if t not in before] == []


def _saved_run(window: MainWindow, question: str) -> int:
    sample = SampleRecord(0, 1, "", "Exported fine.", None, None, 3, 0.1, "stop")
    run = RunRecord(id=None, conversation_id=None, turn=0, created_at=0.0, question=question,
                    model_name="m", model_path="/m.gguf", model_sha256=None, params={},
                    samples=[sample], status=RunStatus.DONE)  # fmt: skip
    window.session.store.finish_run(run)
    window.history_panel.refresh()
    assert run.id is not None and window.history_panel.select_run(run.id)
    return run.id


def test_export_and_its_failure_set_the_banner_level(
    window: MainWindow, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = window.history_panel
    run_id = _saved_run(window, "Exported what?")  # a question that starts like a success
    target = tmp_path / "run.md"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(panel.exported, timeout=1000) as exported:
        panel.export_md_button.click()
    assert exported.args == [f"Exported run {run_id} to {target}"]
    assert window.banner.text() == exported.args[0] and window.banner.level == "info"

    nowhere = tmp_path / "missing" / "Exported.md"  # no such folder: the write fails
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(nowhere), ""))
    with qtbot.waitSignal(panel.failed, timeout=1000) as failed:
        panel.export_md_button.click()
    assert failed.args[0].startswith(f"Could not write {nowhere}")
    assert window.banner.text() == failed.args[0] and window.banner.level == "error"

    panel.failed.emit("Exported nothing: the disk is full")  # the text no longer decides
    assert window.banner.level == "error"


def test_rows_say_consensus_size_and_an_empty_search_says_so(window: MainWindow) -> None:
    panel = window.history_panel
    assert panel.empty_label.text() == "No runs yet." and not panel.empty_label.isHidden()
    _saved_run(window, "Single <b>question</b>?")
    samples = [SampleRecord(i, 10 + i, "", "4", "4", "last_line", 3, 0.1, "stop", group="4")
               for i in range(3)]  # fmt: skip
    consensus = RunRecord(id=None, conversation_id=None, turn=0, created_at=1.0,
                          question="Many times?", model_name="m", model_path="/m.gguf",
                          model_sha256=None, params={"samples": 3}, samples=samples,
                          status=RunStatus.DONE)  # fmt: skip
    window.session.store.finish_run(consensus)
    panel.refresh()
    rows = [panel.runs.item(i).text() for i in range(panel.runs.count())]
    assert len(rows) == 2, "one entry per run"
    assert rows[0].startswith("Many times?") and rows[0].endswith("consensus of 3")
    assert "consensus" not in rows[1]
    assert panel.empty_label.isHidden()
    panel.search.setText("nothing-like-this")
    panel.refresh()
    assert panel.runs.count() == 0
    assert panel.empty_label.text() == "No runs match “nothing-like-this”."
    assert not panel.empty_label.isHidden()


def test_delete_confirmation_names_the_run(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _saved_run(window, "Is <i>this</i> the one?")
    asked: list[str] = []

    def answer(_parent: object, _title: str, text: str) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.history_panel.delete_button.click()
    shown = [shown_text(t).strip() for t in asked]
    assert shown == ["Delete the run “Is <i>this</i> the one?” from the history?"]
    assert window.session.store.get_run(run_id).question == "Is <i>this</i> the one?"  # kept
