"""The main window's consensus wiring: the panel, the panes, and the session's consensus run.

The consensus panel fills in as samples finish. The trace and answer panes, which stream a
single run, show one sample of a consensus run: the one clicked in the panel (labelled
"Sample k (seed s)"), and at the end of a run, or when a consensus run is reopened from the
history, the first sample of the majority group, with the majority and agreement figures.

The panes' own views also listen to the session and show a run's first sample when it
finishes; this controller is connected after them (it is built after them), so its
majority sample is what stays on screen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from app.core.answers.extract import extract_answer
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.report import stats_from_dict
from app.core.conversation import majority_sample
from app.core.history.records import RunRecord, SampleRecord
from app.ui.consensus.options import ConsensusOptions
from app.ui.consensus.session import ConsensusSession
from app.ui.consensus.view import ConsensusView
from app.ui.conversation.answer_view import AnswerView
from app.ui.conversation.session import ChatSession
from app.ui.conversation.trace_view import TraceView
from app.ui.conversation.worker import STOPPED_BEFORE_START
from app.ui.widgets.banner import Banner

_MAJORITY_CHARS = 80  # an answer group's label is model text: a sentence, at times


def sample_label(sample: SampleRecord) -> str:
    return f"Sample {sample.index} (seed {sample.seed})"


def is_consensus_run(record: RunRecord) -> bool:
    """Asked as consensus (params name the samples) or saved with consensus figures."""
    return bool(record.consensus) or "samples" in record.params


def answer_span(sample: SampleRecord) -> tuple[int, int] | None:
    """Where the sample's extracted final answer sits in its answer text, if anywhere."""
    if not sample.extracted:
        return None
    found = extract_answer(sample.answer)
    if found is not None and found.text == sample.extracted:
        return found.span
    start = sample.answer.rfind(sample.extracted)
    return (start, start + len(sample.extracted)) if start >= 0 else None


def describe_outcome(consensus: dict[str, Any] | None) -> str:
    """The line under the answer: majority, agreement and any note (temperature 0, ties)."""
    try:
        stats = stats_from_dict(consensus or {})
    except ValueError:
        return ""
    if stats.n == 0:
        return "No sample finished."
    majority = " ".join((stats.majority or "no readable answer").split())
    if len(majority) > _MAJORITY_CHARS:
        majority = majority[: _MAJORITY_CHARS - 1] + "…"
    text = f"Majority: {majority} · agreement {stats.agreement:.0%} "
    text += f"({stats.majority_count} of {stats.n})"
    return f"{text} · {stats.note}" if stats.note else text


class ConsensusController(QObject):
    """Connects the session's consensus run to the panel and the panes; shows or hides
    the panel (shown while consensus is on or a consensus run is on screen)."""

    def __init__(self, session: ChatSession, consensus: ConsensusSession,
                 options: ConsensusOptions, view: ConsensusView,
                 trace_view: TraceView, answer_view: AnswerView, banner: Banner,
                 run_info: QLabel, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session, self.options, self.view = session, options, view
        self.trace_view, self.answer_view = trace_view, answer_view
        self.banner, self.run_info = banner, run_info
        self._showing_consensus = False  # the panes show a consensus run
        consensus.requested.connect(self._on_requested)
        consensus.planned.connect(self._on_planned)
        consensus.refused.connect(self._on_refused)
        consensus.started.connect(view.on_started)
        consensus.sampled.connect(view.on_sample)
        consensus.progressed.connect(view.on_progress)
        consensus.finished.connect(view.on_finished)  # report and its data: exportable
        session.run_started.connect(self._on_run_started)
        session.run_finished.connect(self._on_run_finished)
        session.run_opened.connect(self._on_run_opened)
        session.conversation_reset.connect(self._on_conversation_reset)
        view.sample_selected.connect(self._on_sample_selected)
        options.toggled.connect(self._update_panel)
        # The window's own panes show the chosen sample, so the panel's copy would only
        # take their room.
        view.detail.hide()
        self._update_panel()

    def show_sample(self, sample: SampleRecord, note: str = "") -> None:
        """One sample in the trace and answer panes, labelled with its number and seed."""
        label = sample_label(sample)
        self.trace_view.text.setPlainText(sample.trace)
        self.trace_view.summary.setText(f"{label} · {sample.tokens} tokens")
        self.trace_view.summary.setToolTip(self.trace_view.summary.text())
        self.answer_view.show_markdown(sample.answer, answer_span(sample))
        final = f"final answer: {sample.extracted}" if sample.extracted else "no final answer"
        self.answer_view.set_summary(f"{note or final} · {label}")

    # -- slots ---------------------------------------------------------------------------------
    def _on_requested(self) -> None:
        self._showing_consensus = True
        self.view.clear()
        self._update_panel()
        self.run_info.setText("Working out the memory the consensus run needs…")

    def _on_planned(self, plan: ConsensusPlan) -> None:
        self.view.set_plan(plan)
        self.run_info.setText(f"Consensus: {plan.describe()}")
        self.trace_view.summary.setText("Click a sample to see its reasoning here")

    def _on_refused(self, message: str) -> None:
        self.run_info.setText("")
        self.banner.show_message(message, "info" if message == STOPPED_BEFORE_START else "error")

    def _on_run_started(self, record: RunRecord) -> None:
        self._showing_consensus = is_consensus_run(record)
        if not self._showing_consensus:
            self.view.clear()
        self._update_panel()

    def _on_run_finished(self, record: RunRecord) -> None:
        if is_consensus_run(record):
            self._show_majority(record)

    def _on_run_opened(self, record: RunRecord) -> None:
        self._showing_consensus = is_consensus_run(record)
        if self._showing_consensus:
            try:
                self.view.load_report(record)
            except ValueError as exc:
                self.view.clear()
                self.banner.show_message(f"This consensus run cannot be shown: {exc}")
            self._show_majority(record)
        else:
            self.view.clear()
        self._update_panel()

    def _on_conversation_reset(self) -> None:
        self._showing_consensus = False
        self.view.clear()
        self._update_panel()

    def _on_sample_selected(self, index: int) -> None:
        sample = self.view.samples.get(index)
        if sample is not None:
            self.show_sample(sample)

    def _show_majority(self, record: RunRecord) -> None:
        sample = majority_sample(record)
        if sample is None:
            self.answer_view.set_summary(describe_outcome(record.consensus))
            return
        self.show_sample(sample, describe_outcome(record.consensus))
        self.trace_view.summary.setText(
            f"{sample_label(sample)} · majority · {sample.tokens} tokens"
        )

    def _update_panel(self, *_args: object) -> None:
        self.view.setVisible(self.options.enabled() or self._showing_consensus)
