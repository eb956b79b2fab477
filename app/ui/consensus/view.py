"""The consensus panel: how much the model agrees with itself, filling in as samples finish.

Top: the figures (majority, agreement with its interval, entropy, ...), the memory plan and
progress, a bar per answer group and a chip per sample, both coloured by group. Bottom:
the samples of the group whose bar was clicked, and the chosen sample's reasoning beside
its answer. The view holds no engine and starts nothing: the main window feeds it the
runner's events (on_started, on_sample, on_progress, on_finished) or a finished run
(load_report), and listens to sample_selected / group_selected. While a run goes, a
click on the chip of a sample not yet finished follows that sample (sample_watched): the
progress events then carry its text so far, shown as it grows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.consensus.figure_lines import live_basis
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import ConsensusSnapshot, snapshot_of
from app.core.consensus.report import sample_record
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusProgress,
    ConsensusReport,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.consensus.stats import ConsensusStats
from app.core.history.records import RunRecord, SampleRecord
from app.ui.confidence.book import BOOK
from app.ui.confidence.consensus_panel import ConsensusConfidence
from app.ui.consensus.chart import GroupBarChart
from app.ui.consensus.export import ALL, JSON, MARKDOWN, ConsensusFiles, export_consensus
from app.ui.consensus.figures import ConsensusFigures
from app.ui.consensus.group_palette import GroupPalette
from app.ui.consensus.sample_chips import SampleChipStrip
from app.ui.consensus.samples import GroupSamplesList, SampleDetail
from app.ui.consensus.stats_help import StatsHelpDialog

_SAMPLES_MIN_HEIGHT = 260  # a group's table (four rows) beside one sample's text


class ConsensusView(QWidget):
    """The consensus panel: figures, chart, sample chips, a group's samples, one sample.

    Signals:
        sample_selected(int): a sample was chosen (bar list, chip, or select_sample); the
            payload is its index.
        group_selected(str): a group's samples were listed (bar click or select_group);
            the payload is the group's label.
        exported(str): the report was written; the message names every file.
        sample_watched(object): the running sample whose text the progress events
            should carry (int), or None when no running sample is shown.
    """

    sample_selected = Signal(int)
    sample_watched = Signal(object)
    group_selected = Signal(str)
    exported = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group_palette = GroupPalette()
        self.figures = ConsensusFigures(self)
        self.confidence = ConsensusConfidence(self)
        # The figures are read, not skimmed: never squeeze their rows into each other.
        self.figures.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.chart = GroupBarChart(self.group_palette, self)
        self.chips = SampleChipStrip(self.group_palette, self)
        self.export_button = QPushButton("Export report…", self)
        self.export_button.setToolTip("Save the report: JSON, Markdown with its chart, or all")
        self.group_list = GroupSamplesList(self)
        self.detail = SampleDetail(self)
        self._build_layout()
        self.chart.group_clicked.connect(self._on_group_clicked)
        self.chips.sample_clicked.connect(self._on_chip_clicked)
        self.group_list.sample_chosen.connect(self._on_sample_chosen)
        self.figures.help_requested.connect(self.show_help)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.help_dialog: StatsHelpDialog | None = None
        self._samples: dict[int, SampleRecord] = {}
        self._stats: ConsensusStats | None = None
        self._report_data: dict[str, Any] | None = None
        self._total = 0
        self._last_progress = ConsensusProgress(0, 0, 0, 0)
        self._seeds: list[int] = []
        self._running = False  # between on_started and on_finished
        self._watching: int | None = None
        self.clear()

    # -- state others may read ------------------------------------------------------------

    @property
    def stats(self) -> ConsensusStats | None:
        return self._stats

    @property
    def samples(self) -> dict[int, SampleRecord]:
        return dict(self._samples)

    @property
    def report_data(self) -> dict[str, Any] | None:
        return self._report_data

    # -- a live run ---------------------------------------------------------------------------

    def set_plan(self, plan: ConsensusPlan) -> None:
        """Show what the run will take (before it starts, or once it has)."""
        self.figures.set_plan(plan)
        if not self._samples:
            self._total = plan.samples
            self.chips.set_total(plan.samples)
            self.figures.set_progress(0, plan.samples, 0)

    def on_started(self, event: ConsensusStarted) -> None:
        self.clear()
        self.set_plan(event.plan)
        self._seeds, self._running = list(event.seeds), True

    def on_sample(self, event: ConsensusSample) -> None:
        sample = sample_record(event.index, event.result, event.group)
        BOOK.put(sample, event.result.token_stats)  # before the table reads confidences
        self._samples[event.index] = sample
        self.chips.set_sample(event.index, event.group)
        if self.detail.live and self.detail.index == event.index:
            self.select_sample(event.index)  # the final text, with its group and figures
        # Live figures count every sample finished so far, which are the short ones.
        self._show_stats(event.stats, live_basis(len(self._samples), self._total))
        progress = self._last_progress
        total = max(self._total, progress.total)
        self.figures.set_progress(len(self._samples), total, progress.tokens, progress.active)

    def on_progress(self, event: ConsensusProgress) -> None:
        self._last_progress = event
        self.figures.set_progress(event.finished, event.total, event.tokens, event.active)
        if event.watched is not None:
            self.detail.show_live(event.watched)

    def on_finished(
        self, event: ConsensusFinished | ConsensusReport, data: dict[str, Any] | None = None
    ) -> None:
        """The run ended; data (from build_report) makes it exportable. The groups' colours
        settle by size, as they are when the run is reopened and in the exported chart."""
        report = event.report if isinstance(event, ConsensusFinished) else event
        self._running = False
        self.detail.stop_following("the run ended before this sample finished")
        self._watch(None)
        self._show_finished(snapshot_of(report))
        if data is not None:
            self.set_report_data(data)

    def set_report_data(self, data: dict[str, Any]) -> None:
        self._report_data = data
        self.export_button.setEnabled(True)

    # -- a finished run -----------------------------------------------------------------------

    def load_report(self, source: ConsensusReport | RunRecord | dict[str, Any]) -> None:
        """Show a finished run: a ConsensusReport, report data from build_report, or a
        consensus RunRecord from the history. Raises ValueError for anything else."""
        finished = snapshot_of(source)  # raises before anything shown is touched
        self.clear()
        self._show_finished(finished)

    def clear(self) -> None:
        self._watch(None)
        self._seeds, self._running = [], False
        self._samples.clear()
        self._stats = None
        self._report_data = None
        self._total = 0
        self._last_progress = ConsensusProgress(0, 0, 0, 0)
        self.group_palette.clear()
        self.figures.clear()
        self.confidence.clear()
        self.chart.clear()
        self.chips.clear()
        self.group_list.clear()
        self.detail.clear()
        self.export_button.setEnabled(False)

    # -- selection ------------------------------------------------------------------------------

    def select_group(self, label: str) -> bool:
        """List the group's samples; False if there is no such group."""
        members = self._members(label)
        if members is None:
            return False
        self.group_list.show_group(label, [self._samples[i] for i in members if i in self._samples])
        self.chart.set_selected(label)
        self.confidence.focus_group(label)
        self.group_selected.emit(label)
        return True

    def select_sample(self, index: int) -> bool:
        """Show a finished sample (its group listed, its row and chip marked)."""
        sample = self._samples.get(index)
        if sample is None:
            return False
        group = self._group_of(index)
        if group is not None and self.group_list.group != group:
            self.select_group(group)
        with QSignalBlocker(self.group_list):  # we show the sample ourselves just below
            self.group_list.select_index(index)
        self._show_sample(index)
        return True

    def follow_sample(self, index: int) -> bool:
        """Show a sample of the run going that has not finished: its text as it grows
        (sample_watched asks for it). False if no run goes or the index is outside it."""
        if index in self._samples:
            return self.select_sample(index)
        if not self._running or not 0 <= index < self._total:
            return False
        seed = self._seeds[index] if index < len(self._seeds) else None
        self.detail.follow(index, seed)
        self.chips.set_selected(index)
        with QSignalBlocker(self.group_list):
            self.group_list.table.clearSelection()
        self._watch(index)
        return True

    def show_help(self) -> StatsHelpDialog:
        if self.help_dialog is None:
            self.help_dialog = StatsHelpDialog(self)
        self.help_dialog.show()
        self.help_dialog.raise_()
        return self.help_dialog

    def export(self, path: Path | None = None) -> ConsensusFiles | None:
        """Export the shown run: asks where and as what (JSON, Markdown with its chart, or
        all three) unless path is given (then all three). None if nothing was written."""
        if self._report_data is None:
            return None
        files = export_consensus(self, self._report_data, kinds=(ALL, MARKDOWN, JSON),
                                 palette=self.group_palette, path=path)  # fmt: skip
        if files is not None:
            self.exported.emit(f"Exported the consensus report to {files.describe()}")
        return files

    # -- internals ------------------------------------------------------------------------------

    def _build_layout(self) -> None:
        chips_row = QHBoxLayout()
        chips_row.addWidget(QLabel("Samples:", self), 0, Qt.AlignmentFlag.AlignTop)
        chips_row.addWidget(self.chips, 1)
        chips_row.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        # Figures beside the chart, each at its full height, so an extra line (a note,
        # an early stop, a warning) never squeezes a row away.
        summary = QHBoxLayout()
        summary.addWidget(self.figures, 3)
        summary.addWidget(self.chart, 2, Qt.AlignmentFlag.AlignTop)
        bottom = QSplitter(Qt.Orientation.Horizontal, self)
        bottom.addWidget(self.group_list)
        bottom.addWidget(self.detail)
        bottom.setStretchFactor(1, 3)
        bottom.setChildrenCollapsible(False)
        bottom.setMinimumHeight(_SAMPLES_MIN_HEIGHT)
        # One page that scrolls as a whole: on a short window the figures keep their
        # height and the samples come below them, rather than both shrinking into
        # small scroll boxes; on a tall one the samples take the height left.
        page = QWidget(self)
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addLayout(summary)
        page_layout.addWidget(self.confidence)  # the weighted vote, under the majority
        page_layout.addLayout(chips_row)
        page_layout.addWidget(bottom, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(scroll)

    def _show_stats(self, stats: ConsensusStats, basis: str = "") -> None:
        self._stats = stats
        self.chart.set_groups(stats.groups, stats.n)
        self.figures.show_stats(stats, basis)
        self.confidence.show_run(stats.groups, self._samples)
        listed = self.group_list.group
        if listed is not None and self._members(listed) is not None:
            members = self._members(listed) or []
            samples = [self._samples[i] for i in members if i in self._samples]
            self.group_list.show_group(listed, samples)  # a new member may have joined

    def _show_finished(self, finished: ConsensusSnapshot) -> None:
        # The largest group gets the first colour, then the next largest: a rule a saved
        # run can follow too, where the order groups first appeared in is not kept. While
        # the run goes, colours follow first appearance, so no chip changes as counts do.
        self.group_palette.clear()
        self.group_palette.assign(label for label, _, _ in finished.stats.groups)
        self.chart.update()
        self._total = finished.total
        if finished.plan is not None:
            self.figures.set_plan(finished.plan)
        self.chips.set_total(finished.total)
        groups = {i: label for label, _, members in finished.stats.groups for i in members}
        for sample in finished.samples:
            self._samples[sample.index] = sample
            self.chips.set_sample(sample.index, groups.get(sample.index, sample.group or "?"))
        self._show_stats(finished.stats, finished.basis)
        tokens = sum(s.tokens for s in finished.samples)
        self.figures.set_progress(len(finished.samples), finished.total, tokens)
        self.figures.set_outcome(finished.outcome)
        if finished.data is not None:
            self.set_report_data(finished.data)

    def _members(self, label: str) -> list[int] | None:
        if self._stats is None:
            return None
        for name, _count, members in self._stats.groups:
            if name == label:
                return members
        return None

    def _group_of(self, index: int) -> str | None:
        group = self.chips.group_of(index)
        return group if group is not None else self._samples[index].group

    def _watch(self, index: int | None) -> None:
        if index != self._watching:
            self._watching = index
            self.sample_watched.emit(index)

    def _show_sample(self, index: int) -> None:
        self._watch(None)
        self.detail.show_sample(self._samples[index])
        self.chips.set_selected(index)
        self.sample_selected.emit(index)

    def _on_group_clicked(self, label: str) -> None:
        self.select_group(label)

    def _on_chip_clicked(self, index: int) -> None:
        self.follow_sample(index)

    def _on_sample_chosen(self, index: int) -> None:
        if index in self._samples:
            self._show_sample(index)

    def _on_export_clicked(self) -> None:
        self.export()
