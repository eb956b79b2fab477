"""The main window's consensus wiring: the panel, the panes, and the session's consensus run.

The consensus panel fills in as samples finish. The trace and answer panes, which stream a
single run, show one sample of a consensus run: the one clicked in the panel (labelled
"Sample k (seed s)"), passed to their show_sample; and at the end of a run, or when a
consensus run is reopened from the history, the first sample of the majority group, with
the majority and agreement figures, which the panes choose themselves from the record.
So no slot here writes over what a pane's own slot wrote, whichever runs first.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QBoxLayout, QLabel

from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import is_consensus_run
from app.core.conversation import ConversationError
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.ui.consensus.options import ConsensusOptions
from app.ui.consensus.resume_bar import ResumeBar
from app.ui.consensus.session import ConsensusSession
from app.ui.consensus.view import ConsensusView
from app.ui.conversation.answer_view import AnswerView
from app.ui.conversation.session import ChatSession
from app.ui.conversation.trace_view import TraceView
from app.ui.conversation.worker import STOPPED_BEFORE_START
from app.ui.widgets.banner import Banner


class ConsensusController(QObject):
    """Connects the session's consensus run to the panel and the panes; shows or hides
    the panel (shown while consensus is on or a consensus run is on screen)."""

    def __init__(self, session: ChatSession, consensus: ConsensusSession,
                 options: ConsensusOptions, view: ConsensusView,
                 trace_view: TraceView, answer_view: AnswerView, banner: Banner,
                 run_info: QLabel, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session, self.options, self.view = session, options, view
        self.consensus = consensus
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
        session.run_opened.connect(self._on_run_opened)
        session.conversation_reset.connect(self._on_conversation_reset)
        view.sample_selected.connect(self._on_sample_selected)
        view.figures.one_sample_requested.connect(self._on_one_sample_requested)
        options.toggled.connect(self._update_panel)
        # The window's own panes show the chosen sample, so the panel's copy would only
        # take their room.
        view.detail.hide()
        # Above the panel's figures: the offer belongs to the run they describe.
        self.resume_bar = ResumeBar(view)
        view_layout = view.layout()
        if isinstance(view_layout, QBoxLayout):
            view_layout.insertWidget(0, self.resume_bar)
        self.resume_bar.resume_requested.connect(self._on_resume_requested)
        self._update_panel()

    def show_sample(self, sample: SampleRecord) -> None:
        """One sample in the trace and answer panes, labelled with its number and seed."""
        self.trace_view.show_sample(sample)
        self.answer_view.show_sample(sample)

    # -- slots ---------------------------------------------------------------------------------
    def _on_requested(self) -> None:
        self.resume_bar.withdraw()
        self._showing_consensus = True
        self.view.clear()
        self._update_panel()
        self.run_info.setText("Working out the memory the consensus run needs…")

    def _on_planned(self, plan: ConsensusPlan) -> None:
        self.view.set_plan(plan)
        self.run_info.setText(f"Consensus: {plan.describe()}")
        sampling = self.consensus.sampling
        if sampling is not None and sampling.deterministic:
            self.view.figures.show_same_samples(plan.samples)
        self.trace_view.set_summary("Click a sample to see its reasoning here")

    def _on_one_sample_requested(self) -> None:
        # The next Ask runs once: N copies of one greedy answer add nothing.
        self.options.set_enabled(False)
        self.view.figures.show_same_samples(None)

    def _on_refused(self, message: str) -> None:
        self.run_info.setText("")
        self.banner.show_message(message, "info" if message == STOPPED_BEFORE_START else "error")

    def _on_run_started(self, record: RunRecord) -> None:
        self._showing_consensus = is_consensus_run(record)
        if not self._showing_consensus:
            self.view.clear()
        self._update_panel()

    def _on_run_opened(self, record: RunRecord) -> None:
        self._showing_consensus = is_consensus_run(record)
        if self._showing_consensus:
            try:
                self.view.load_report(record)
                self._offer_resume(record)
            except ValueError as exc:
                self.view.clear()
                self.banner.show_message(f"This consensus run cannot be shown: {exc}")
        else:
            self.resume_bar.withdraw()
            self.view.clear()
        self._update_panel()

    def _offer_resume(self, record: RunRecord) -> None:
        total = record.params.get("samples")
        resumable = record.status in (RunStatus.INTERRUPTED, RunStatus.CANCELLED)
        if record.id is not None and isinstance(total, int) and resumable:
            saved = len({s.index for s in record.samples})
            if saved < total:
                self.resume_bar.offer(record.id, saved, total)
                return
        self.resume_bar.withdraw()

    def _on_resume_requested(self, run_id: int) -> None:
        try:
            self.consensus.resume(run_id)
        except ConversationError as exc:
            self.banner.show_message(str(exc))

    def _on_conversation_reset(self) -> None:
        self.resume_bar.withdraw()
        self._showing_consensus = False
        self.view.clear()
        self._update_panel()

    def _on_sample_selected(self, index: int) -> None:
        sample = self.view.samples.get(index)
        if sample is not None:
            self.show_sample(sample)

    def _update_panel(self, *_args: object) -> None:
        self.view.setVisible(self.options.enabled() or self._showing_consensus)
