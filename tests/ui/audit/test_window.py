"""The Audit window, offscreen, on the real SmolLM2 model through llama.cpp.

Runs are tiny (2 questions, N = 2, 8 tokens) so the whole file stays fast on 2 cores.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.inference.sampling import RuntimeParams
from app.ui.audit.export import HTML, JSON, MARKDOWN
from app.ui.audit.table import (
    AGREEMENT_COLUMN,
    BUDGET_COLUMN,
    GREEDY_COLUMN,
    MATCH_COLUMN,
    MODEL_COLUMN,
    QUESTION_COLUMN,
    T_COLUMN,
)
from app.ui.audit.window import AuditWindow

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.slow]

RUN_TIMEOUT_MS = 240_000  # a loaded 2-core machine; the watchdog still ends a hang
TINY = (
    '{"id": "mul", "question": "What is 7 * 8? Answer with a number, nothing else, '
    'and do not explain.", "answer": "56"}\n'
    '{"id": "add", "question": "What is 2 + 3? Answer with a number.", "answer": "5"}\n'
)


def _runtime() -> RuntimeParams:
    return RuntimeParams(n_ctx=512, n_threads=2)


def _window(qtbot: QtBot, tmp_path: Path, model: Path, *, samples: int = 2,
            greedy: bool = False) -> AuditWindow:  # fmt: skip
    window = AuditWindow(_runtime, lambda: model, folder=tmp_path / "audits")
    qtbot.addWidget(window)
    question_set = tmp_path / "tiny.jsonl"
    question_set.write_text(TINY, encoding="utf-8")
    form = window.form
    form.set_question_file(question_set)
    form.samples_spin.setValue(samples)
    form.temperatures_edit.setText("0.8")
    form.max_tokens_spin.setValue(8)
    form.greedy_box.setChecked(greedy)
    window.show()
    return window


def _run(qtbot: QtBot, window: AuditWindow, outcome: str = "finished") -> None:
    with qtbot.waitSignal(window.audit_ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert window.start()
    assert ended.args == [outcome]
    qtbot.waitUntil(lambda: not window.running, timeout=10_000)


def test_a_real_audit_fills_the_table_row_by_row_then_shows_the_summary(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    window = _window(qtbot, tmp_path, test_model_path, greedy=True)
    window.form.claim_edit.setText("100% self-consistency at 512 samples, 0 bits")
    assert window.form.model_paths() == (test_model_path,), "the current model is preselected"
    seen: list[tuple[int, int, bool]] = []  # rows, samples saved, summary shown: per new row
    window.table.model().rowsInserted.connect(
        lambda *_: seen.append(
            (window.table.rowCount(), window.progress.value(), bool(window.summary.toPlainText()))
        )
    )
    statuses: list[str] = []
    with qtbot.waitSignal(window.audit_ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert window.start()
        assert window.worker is not None and not window.start(), "one audit at a time"
        # Connected after the window's own slot: it reads the line that slot just wrote.
        window.worker.progressed.connect(lambda _: statuses.append(window.status_label.text()))
        assert not window.form.isEnabled() and window.cancel_button.isEnabled()
    assert ended.args == ["finished"]
    qtbot.waitUntil(lambda: not window.running, timeout=10_000)
    assert any(" left" in line for line in statuses), f"an ETA while it runs: {statuses}"
    total = 2 * (2 + 1)  # two questions, two samples and the greedy baseline each
    assert [rows for rows, _, _ in seen] == [1, 2]
    assert seen[0][1] < total, "the first row came while the audit was still running"
    assert not any(summary for _, _, summary in seen), "the summary waits for the end"
    assert window.progress.value() == window.progress.maximum() == total
    table = window.table
    assert all(table.isColumnHidden(c) for c in (MODEL_COLUMN, T_COLUMN, BUDGET_COLUMN)), (
        "one model, one temperature, one budget: no columns that never change"
    )
    assert [table.cell_text(r, 0) for r in range(2)] == ["mul", "add"]
    long_question = table.item(0, QUESTION_COLUMN)
    assert long_question is not None and long_question.toolTip() == long_question.text()
    assert "7 * 8" in long_question.toolTip()
    for row in range(2):
        assert table.cell_text(row, MATCH_COLUMN) in ("✓", "✗")
        agreement = table.cell_text(row, AGREEMENT_COLUMN)
        assert agreement.split(" = ")[0] in ("1/2", "2/2") and "[" in agreement
        assert table.cell_text(row, GREEDY_COLUMN), "the greedy baseline's answer, or 'no answer'"
    # The report's charts: agreement per question and the reliability diagram.
    assert len(window.charts.charts) == 2
    assert all(chart.renderer().isValid() for chart in window.charts.charts)
    summary = window.summary.toPlainText()
    assert "Mean agreement" in summary and "Majority accuracy" in summary
    assert "Questions at 100% agreement" in summary and "Claim card" in summary
    assert "collapse" in summary.lower()
    data = window.report_data
    assert data is not None and [q["n"] for q in data["conditions"][0]["questions"]] == [2, 2]
    # Every export writes the core's report of that kind.
    html = window.export(HTML, tmp_path / "out" / "report")
    assert html == tmp_path / "out" / "report.html"
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    js = window.export(JSON, tmp_path / "out" / "report.json")
    assert js is not None and json.loads(js.read_text(encoding="utf-8")) == data
    md = window.export(MARKDOWN, tmp_path / "out" / "report.md")
    assert md is not None and md.read_text(encoding="utf-8").startswith("# Quorum audit: tiny")
    assert window.start_button.text() == "&Show saved results"
    window.close()


def test_cancel_keeps_the_finished_rows_and_resume_draws_only_the_rest(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    window = _window(qtbot, tmp_path, test_model_path)
    assert window.start_button.text() == "&Start"
    with qtbot.waitSignal(window.audit_ended, timeout=RUN_TIMEOUT_MS) as ended:
        assert window.start()
        worker = window.worker
        assert worker is not None
        # Cancelled on the audit's thread as the first question is done: no race with
        # the next question, which would otherwise start before a queued cancel lands.
        worker.question_done.connect(worker.cancel, Qt.ConnectionType.DirectConnection)
    assert ended.args == ["cancelled"]
    qtbot.waitUntil(lambda: not window.running, timeout=10_000)
    assert window.table.rowCount() == 1 and window.table.cell_text(0, 0) == "mul"
    assert "2 of 4 samples are saved" in window.status_label.text()
    assert window.start_button.text() == "&Resume (2 of 4 saved)"
    assert window.report_data is None and not window.export_buttons[HTML].isEnabled()
    (samples_file,) = (tmp_path / "audits").iterdir()
    before = samples_file.read_text(encoding="utf-8").splitlines()
    assert len(before) == 1 + 2
    # Another window (Quorum started again) with the same settings and folder offers it too;
    # other settings are another audit.
    again = _window(qtbot, tmp_path, test_model_path)
    qtbot.waitUntil(lambda: again.start_button.text() == "&Resume (2 of 4 saved)")
    again.form.samples_spin.setValue(3)
    qtbot.waitUntil(lambda: again.start_button.text() == "&Start")
    again.close()
    _run(qtbot, window)
    assert [window.table.cell_text(r, 0) for r in range(2)] == ["mul", "add"]
    after = samples_file.read_text(encoding="utf-8").splitlines()
    assert after[:3] == before and len(after) == 1 + 4, "only the missing samples were drawn"
    assert window.export_buttons[HTML].isEnabled()
    window.close()


def test_two_models_side_by_side(qtbot: QtBot, tmp_path: Path, test_model_path: Path) -> None:
    from tests.core.inference.test_chat_template import HYBRID_TEMPLATE
    from tests.gguf_edit import copy_with_string

    thinking = copy_with_string(
        test_model_path, tmp_path / "smol-think.gguf", "tokenizer.chat_template", HYBRID_TEMPLATE
    )
    window = _window(qtbot, tmp_path, test_model_path)
    window.form.set_models([(test_model_path, "smol"), (thinking, "smol-think")], test_model_path)
    window.form.second_combo.setCurrentIndex(window.form.second_combo.findText("smol-think"))
    assert window.form.model_paths() == (test_model_path, thinking)
    _run(qtbot, window)
    table = window.table
    assert not table.isColumnHidden(MODEL_COLUMN), "two models: the Model column shows which"
    rows = [
        (table.cell_text(r, 0), table.cell_text(r, MODEL_COLUMN)) for r in range(table.rowCount())
    ]
    names = list(dict.fromkeys(model for _, model in rows))  # in the order they ran
    assert len(names) == 2, "the copy has the same GGUF name: the file name tells them apart"
    assert names[1].endswith("(smol-think.gguf)")
    assert rows == [(q, m) for m in (names[0], names[1]) for q in ("mul", "add")]
    data = window.report_data
    assert data is not None and len(data["models"]) == 2 and len(data["conditions"]) == 2
    window.close()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("budgets", "0, lots", "'lots' is not a thinking budget"),
        ("budgets", "-3", "0 or more tokens"),
        ("temperatures", "hot", "'hot' is not a temperature"),
        ("temperatures", "0.6 0.6", "one temperature twice"),
        ("claim", "very consistent", "Claim: could not find an agreement share"),
    ],
)
def test_bad_entries_are_refused_with_one_sentence(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path, field: str, value: str, message: str
) -> None:
    window = _window(qtbot, tmp_path, test_model_path)
    edit = {"budgets": window.form.budgets_edit, "temperatures": window.form.temperatures_edit,
            "claim": window.form.claim_edit}[field]  # fmt: skip
    edit.setText(value)
    assert not window.start() and not window.running
    error = window.form.error_label
    assert error.isVisible() and message in error.text() and "Traceback" not in error.text()
    edit.setText({"budgets": "unlimited", "temperatures": "0.8", "claim": ""}[field])
    window.close()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.jsonl", b"\n\n", "empty.jsonl is empty"),
        ("bad.csv", b"prompt\nx\n", "needs a 'question' column"),
        ("latin.jsonl", b'{"question": "caf\xe9"}\n', "not valid UTF-8"),
        ("broken.jsonl", b'{"question": "a"\n', "line 1 is not JSON"),
    ],
)
def test_a_bad_question_set_is_explained_inline(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path, name: str, content: bytes, message: str
) -> None:
    window = _window(qtbot, tmp_path, test_model_path)
    bad = tmp_path / name
    bad.write_bytes(content)
    window.form.set_question_file(bad)
    error = window.form.error_label
    assert error.isVisible() and message in error.text(), "said as soon as it is chosen"
    assert not window.start() and message in error.text()
    window.form.set_combo.setCurrentIndex(0)  # a bundled set: the line clears
    assert not error.isVisible()
    assert (
        window.status_label.text() == "arithmetic.jsonl: 20 questions, 20 with a reference answer."
    )
    window.close()


def test_no_model_and_one_model_twice_are_refused(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    window = _window(qtbot, tmp_path, test_model_path)
    window.form.set_models([])
    assert not window.start()
    assert "Choose a model to audit" in window.form.error_label.text()
    window.form.set_models([(test_model_path, "smol")])
    window.form.second_combo.setCurrentIndex(1)  # the same file as the first
    assert not window.start() and "the same file" in window.form.error_label.text()
    window.close()


def test_closing_the_window_stops_the_audit_and_keeps_its_samples(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    window = _window(qtbot, tmp_path, test_model_path, samples=4)
    with qtbot.waitSignal(window.table.model().rowsInserted, timeout=RUN_TIMEOUT_MS):
        assert window.start()
        hold_until_cancelled(window)
    window.close()  # cancels, and waits for the audit's thread: none is left running
    assert not window.running
    (samples_file,) = (tmp_path / "audits").iterdir()
    lines = samples_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 4, "the first question's samples stay, the second never ran"


def hold_until_cancelled(window: AuditWindow) -> None:
    """Make the audit's thread wait, once its first question is done, until the test
    cancels it (by closing a window), so the close always lands mid-audit."""
    worker = window.worker
    assert worker is not None

    def hold(_result: object) -> None:
        deadline = time.monotonic() + 60
        while not worker.cancel_requested and time.monotonic() < deadline:
            time.sleep(0.01)

    worker.question_done.connect(hold, Qt.ConnectionType.DirectConnection)


def test_from_the_main_window_with_its_model_and_closed_with_it(
    qtbot: QtBot, tmp_path: Path, test_model_path: Path
) -> None:
    from app.ui.main_window import MainWindow

    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    main.settings_panel.threads_spin.setValue(1)  # the audit takes the Settings runtime
    with qtbot.waitSignal(main.session.model_loaded, timeout=RUN_TIMEOUT_MS):
        main.open_model(test_model_path)
    audit = main.show_audit()
    assert audit.form.model_paths() == (test_model_path,), "the conversation's model"
    assert audit.runtime().n_threads == 1
    audit.folder = tmp_path / "audits"
    question_set = tmp_path / "tiny.jsonl"
    question_set.write_text(TINY, encoding="utf-8")
    audit.form.set_question_file(question_set)
    audit.form.samples_spin.setValue(4)
    audit.form.max_tokens_spin.setValue(8)
    with qtbot.waitSignal(audit.table.model().rowsInserted, timeout=RUN_TIMEOUT_MS):
        assert audit.start()
        hold_until_cancelled(audit)
    main.close()  # the audit is cancelled and its thread ended with the window
    assert not audit.running and not main.session.inference.qthread.isRunning()
    (samples_file,) = (tmp_path / "audits").iterdir()
    lines = samples_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 5, "the first question (4 samples and the greedy one) only"


def test_a_model_that_cannot_load_is_a_message(qtbot: QtBot, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all" * 10)
    window = _window(qtbot, tmp_path, broken)
    _run(qtbot, window, "failed")
    error = window.form.error_label.text()
    assert window.form.error_label.isVisible() and "broken.gguf" in error
    assert "Traceback" not in error and window.table.rowCount() == 0
    assert window.start_button.isEnabled() and not window.cancel_button.isEnabled()
    window.close()
