"""The consensus panel, fed the events of a real consensus run on the test model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from app.core.answers.grouping import NO_ANSWER, AnswerGroup
from app.core.consensus.figure_lines import figure_lines
from app.core.consensus.record import consensus_to_record
from app.core.consensus.report import build_report
from app.core.consensus.runner import (
    ConsensusEvent,
    ConsensusFinished,
    ConsensusProgress,
    ConsensusReport,
    ConsensusRequest,
    ConsensusRunner,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.consensus.stats import compute_stats
from app.core.history.records import RunRecord, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.ui.consensus.chart import LABEL_FRACTION, PAD, PNG_WIDTH, ROW_HEIGHT, render_chart_png
from app.ui.consensus.group_palette import BASE_COLOURS, NO_ANSWER_COLOUR, GroupPalette
from app.ui.consensus.view import ConsensusView

pytestmark = pytest.mark.gui

QUESTION = "What is 7 * 8? Answer with a number."
SAMPLING = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05, max_tokens=24, seed=5)
RUNTIME = RuntimeParams(n_ctx=2048)
WAIT_MS = 2000


@dataclass(frozen=True)
class Run:
    events: list[ConsensusEvent]
    report: ConsensusReport
    data: dict[str, Any]

    @property
    def samples(self) -> list[ConsensusSample]:
        return [e for e in self.events if isinstance(e, ConsensusSample)]


def _run(engine: Engine, sampling: SamplingParams, n: int) -> Run:
    messages = [{"role": "user", "content": QUESTION}]
    events = list(ConsensusRunner(engine).run(ConsensusRequest(messages, sampling, n)))
    final = events[-1]
    assert isinstance(final, ConsensusFinished)
    data = build_report(final.report, question=QUESTION, model_path=engine.path,
                        model_info=engine.info, runtime=RUNTIME)  # fmt: skip
    return Run(events, final.report, data)


@pytest.fixture(scope="module")
def runs(test_model_path: Path) -> Iterator[tuple[Run, Run]]:
    """A sampled run of 6 (several answers and a no-answer) and a greedy run of 3."""
    with Engine(test_model_path, RUNTIME) as engine:
        sampled = _run(engine, SAMPLING, 6)
        greedy = _run(engine, replace(SAMPLING, temperature=0.0), 3)
    assert len(sampled.report.stats.groups) >= 3, "precondition: the answers disagree"
    yield sampled, greedy


@pytest.fixture(autouse=True)
def no_message_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal message box would hang the test; fail with its text instead."""

    def fail(_parent: object, title: str, text: str, *args: object) -> None:
        raise AssertionError(f"message box {title!r}: {text}")

    monkeypatch.setattr("app.ui.consensus.export.QMessageBox.warning", fail)


@pytest.fixture
def view(qtbot: QtBot) -> ConsensusView:
    widget = ConsensusView()
    qtbot.addWidget(widget)
    widget.resize(1000, 800)
    widget.show()
    qtbot.waitExposed(widget, timeout=WAIT_MS)
    return widget


def _feed(view: ConsensusView, run: Run) -> None:
    for event in run.events:
        if isinstance(event, ConsensusStarted):
            view.on_started(event)
        elif isinstance(event, ConsensusSample):
            view.on_sample(event)
        elif isinstance(event, ConsensusProgress):
            view.on_progress(event)
        else:
            view.on_finished(event, run.data)


def _colour(view: ConsensusView, index: int) -> str:
    colour = view.chips.chip_colour(index)
    assert colour is not None, f"sample {index} has no colour"
    return colour.name()


def _first_bar(width: int) -> tuple[int, int]:
    """A pixel inside the first bar of a PNG chart: just right of where bars start, in the
    middle of the first row under the title line."""
    x = PAD + (width - 2 * PAD) * LABEL_FRACTION + PAD
    return int(x) + 1, PAD + ROW_HEIGHT + PAD + ROW_HEIGHT // 2


def _figures(view: ConsensusView) -> list[str]:
    f = view.figures
    labels = (f.majority_label, f.agreement_label, f.entropy_label, f.distinct_label,
              f.answered_label, f.note_label, f.plan_label)  # fmt: skip
    return [label.text() for label in labels]


@pytest.mark.model
def test_live_samples_fill_chart_figures_and_chips(view: ConsensusView, runs: Any) -> None:
    sampled, _ = runs
    started = sampled.events[0]
    assert isinstance(started, ConsensusStarted)
    view.on_started(started)
    assert view.figures.plan_label.text() == f"Plan: {started.plan.describe()}"
    assert "6 samples" in view.figures.plan_label.text() and "MiB" in view.figures.plan_label.text()
    assert view.chips.total == 6 and all(view.chips.chip_colour(i) is None for i in range(6))
    assert view.chart.groups == [] and not view.export_button.isEnabled()
    first_colour: dict[int, str] = {}
    for event in sampled.events[1:-1]:
        if isinstance(event, ConsensusProgress):
            view.on_progress(event)
            assert f"{event.finished} of {event.total} samples finished" in (
                view.figures.progress_label.text()
            )
            continue
        assert isinstance(event, ConsensusSample)
        view.on_sample(event)
        assert view.chart.groups == event.stats.groups, "the chart follows every sample"
        assert view.figures.distinct_label.text().startswith(f"{event.stats.distinct} among ")
        first_colour[event.index] = _colour(view, event.index)
        assert not view.grab().isNull()  # paints without error at every step
        # While the run goes, a chip keeps the colour it got when its sample arrived.
        assert {i: _colour(view, i) for i in first_colour} == first_colour
    view.on_finished(sampled.events[-1], sampled.data)
    stats = sampled.report.stats
    assert view.stats == stats
    lines = figure_lines(stats)
    assert view.figures.majority_label.text() == lines.majority
    assert view.figures.agreement_label.text() == lines.agreement
    assert f"Miller–Madow {stats.entropy_bits_mm:.2f} bits" in view.figures.entropy_label.text()
    assert view.figures.answered_label.text() == lines.answered
    assert f"of {stats.n} answered" in lines.answered
    assert view.figures.outcome_label.text().startswith("Finished: 6 of 6 samples")
    assert view.export_button.isEnabled()
    # Chips: one colour per group; finished, by rank (largest first); no answer grey.
    by_group = {label: {_colour(view, i) for i in members} for label, _, members in stats.groups}
    assert all(len(colours) == 1 for colours in by_group.values())
    assert len({next(iter(c)) for c in by_group.values()}) == len(stats.groups)
    answers = [label for label, _, _ in stats.groups if label != NO_ANSWER]
    assert [by_group[label] for label in answers] == [
        {QColor(colour).name()} for colour in BASE_COLOURS[: len(answers)]
    ]
    if NO_ANSWER in by_group:
        assert by_group[NO_ANSWER] == {QColor(NO_ANSWER_COLOUR).name()}


@pytest.mark.model
def test_clicking_a_bar_lists_its_samples(view: ConsensusView, qtbot: QtBot, runs: Any) -> None:
    sampled, _ = runs
    _feed(view, sampled)
    for label, count, members in sampled.report.stats.groups:
        rect = view.chart.row_rect(label)
        assert rect is not None
        with qtbot.waitSignal(view.group_selected, timeout=WAIT_MS) as blocker:
            qtbot.mouseClick(view.chart, Qt.MouseButton.LeftButton, pos=rect.center())
        assert blocker.args == [label]
        assert view.chart.selected == label
        assert view.group_list.indices() == sorted(members)
        assert view.group_list.table.rowCount() == count
        for row, index in enumerate(sorted(members)):
            seed_item = view.group_list.table.item(row, 1)
            assert seed_item is not None and seed_item.text() == str(sampled.report.seeds[index])
    below_last = view.chart.rect().bottomLeft()
    with qtbot.assertNotEmitted(view.group_selected, wait=50):
        qtbot.mouseClick(view.chart, Qt.MouseButton.LeftButton, pos=below_last)


@pytest.mark.model
def test_clicking_a_chip_or_row_shows_that_sample(
    view: ConsensusView, qtbot: QtBot, runs: Any
) -> None:
    sampled, _ = runs
    _feed(view, sampled)
    for index in (4, 1, 2):
        result = sampled.report.samples[index]
        assert result is not None
        with qtbot.waitSignal(view.sample_selected, timeout=WAIT_MS) as blocker:
            qtbot.mouseClick(view.chips, Qt.MouseButton.LeftButton,
                             pos=view.chips.chip_rect(index).center())  # fmt: skip
        assert blocker.args == [index]
        assert view.detail.index == index and view.chips.selected == index
        assert view.detail.trace_pane.toPlainText() == (result.trace or "(no reasoning trace)")
        assert view.detail.answer_pane.toPlainText() == (result.answer or "(empty answer)")
        assert f"seed {result.seed}" in view.detail.header.text()
        assert view.group_list.group == sampled.report.groups[index]
        assert view.group_list.selected_index() == index
    # A row of the group's list selects its sample too.
    label, _, members = sampled.report.stats.groups[0]
    view.select_group(label)
    target = sorted(members)[-1]
    row = view.group_list.row_of(target)
    assert row is not None
    item = view.group_list.table.item(row, 0)
    assert item is not None
    cell = view.group_list.table.visualItemRect(item).center()
    with qtbot.waitSignal(view.sample_selected, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(view.group_list.table.viewport(), Qt.MouseButton.LeftButton, pos=cell)
    assert blocker.args == [target] and view.detail.index == target


@pytest.mark.model
def test_deterministic_run_shows_its_note(view: ConsensusView, runs: Any) -> None:
    _, greedy = runs
    _feed(view, greedy)
    assert greedy.report.stats.deterministic
    assert view.figures.note_label.isVisible()
    assert "by construction" in view.figures.note_label.text()
    # Three identical samples, each cut by max_tokens: agreement as the core words it.
    assert view.figures.agreement_label.text() == figure_lines(greedy.report.stats).agreement
    view.clear()
    assert not view.figures.note_label.isVisible() and view.chips.total == 0


@pytest.mark.model
def test_reopened_from_history_shows_the_same(
    view: ConsensusView, qtbot: QtBot, runs: Any, tmp_path: Path
) -> None:
    sampled, _ = runs
    _feed(view, sampled)
    live = _figures(view)
    with HistoryStore(tmp_path / "history.sqlite3") as store:
        record = consensus_to_record(sampled.data)
        store.finish_run(record)
        reopened = store.get_run(record.id or 0)
    for source in (reopened, sampled.data, sampled.report):
        other = ConsensusView()
        qtbot.addWidget(other)
        other.load_report(source)
        assert _figures(other) == live
        assert other.chart.groups == view.chart.groups
        assert [other.chips.group_of(i) for i in range(6)] == [
            view.chips.group_of(i) for i in range(6)
        ]
        # The same colours as at the end of the live run: by rank, largest first.
        assert [_colour(other, i) for i in range(6)] == [_colour(view, i) for i in range(6)]
        assert other.select_sample(3) and other.detail.answer_pane.toPlainText() == (
            view.samples[3].answer or "(empty answer)"
        )
        assert other.export_button.isEnabled() == (source is not sampled.report)
    one = SampleRecord(0, 1, "", "a", "a", "last_line", 1, 0.1, "stop")
    single = RunRecord(id=1, conversation_id=1, turn=0, created_at=0.0, question="q",
                       model_name="m", model_path="/m", model_sha256=None, params={},
                       samples=[one])  # fmt: skip
    with pytest.raises(ValueError, match="not a consensus run"):
        view.load_report(single)
    with pytest.raises(ValueError, match="damaged"):
        view.load_report({"consensus": {}})
    assert view.stats == sampled.report.stats, "a refused load leaves the shown run alone"


@pytest.mark.model
def test_export_writes_json_markdown_and_chart(
    view: ConsensusView, runs: Any, tmp_path: Path
) -> None:
    sampled, _ = runs
    _feed(view, sampled)
    files = view.export(tmp_path / "my run.json")
    assert files is not None
    assert json.loads(files.json.read_text(encoding="utf-8")) == json.loads(
        json.dumps(sampled.data)
    )
    markdown = files.markdown.read_text(encoding="utf-8")
    assert files.chart.name == "my run-chart.png"
    assert "![Answer groups](<my run-chart.png>)" in markdown
    image = QImage(str(files.chart))
    assert files.chart.stat().st_size > 1000 and image.width() == PNG_WIDTH
    # The PNG uses the view's colours: the first bar is the majority group's colour.
    label = sampled.report.stats.groups[0][0]
    assert QColor(image.pixel(*_first_bar(PNG_WIDTH))) == view.group_palette.colour(label)


def test_chart_png_of_many_groups_sums_up_the_rest(qtbot: QtBot, tmp_path: Path) -> None:
    groups = [AnswerGroup(str(i), str(i), list(range(i * 3, i * 3 + 3 - i % 2))) for i in range(30)]
    groups.append(AnswerGroup("none:", NO_ANSWER, [200, 201], is_no_answer=True))
    stats = compute_stats(groups)
    tall = QImage(str(render_chart_png(stats, tmp_path / "auto.png")))
    assert tall.width() == PNG_WIDTH and tall.height() > 20 * ROW_HEIGHT
    small = render_chart_png(stats, tmp_path / "small.png", size=(400, 200))
    image = QImage(str(small))
    assert (image.width(), image.height()) == (400, 200)
    palette = GroupPalette()
    palette.assign(label for label, _, _ in stats.groups)
    first_bar = QColor(image.pixel(*_first_bar(400)))
    assert first_bar == palette.colour(stats.groups[0][0])
    with pytest.raises(ValueError, match="too small"):
        render_chart_png(stats, tmp_path / "tiny.png", size=(50, 20))
    with pytest.raises(ValueError, match=r"must end in \.png"):
        render_chart_png(stats, tmp_path / "chart.jpg")
    with pytest.raises(OSError, match="could not write"):
        render_chart_png(stats, tmp_path / "missing-folder" / "c.png")


def test_help_dialog_explains_the_figures(view: ConsensusView, qtbot: QtBot) -> None:
    view.figures.help_button.click()
    dialog = view.help_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT_MS)
    text = dialog.text()
    assert "Wilson" in text and "Miller–Madow" in text
    assert "## " not in text, "the Markdown is rendered, not shown raw"
    assert view.show_help() is dialog, "one dialog, raised again"
    dialog.close()


def test_plan_before_the_run_and_palette_rules(view: ConsensusView) -> None:
    from app.core.consensus.memory_plan import ConsensusPlan

    plan = ConsensusPlan(512, 64, 2100, 140_000, 3 * 1024**3, True, "memory")
    view.set_plan(plan)
    assert "512 samples, 64 at a time, about 3,072 MiB" in view.figures.plan_label.text()
    assert view.chips.total == 512
    assert "0 of 512 samples finished" in view.figures.progress_label.text()
    assert view.chips.heightForWidth(300) > view.chips.heightForWidth(900)
    palette = GroupPalette()
    colours = [palette.colour(str(i)).name() for i in range(40)]
    assert len(set(colours)) == 40, "every group gets its own colour"
    assert palette.colour("0").name() == colours[0], "and keeps it"
    assert palette.colour(NO_ANSWER).name() == QColor(NO_ANSWER_COLOUR).name()
