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
from PySide6.QtWidgets import QBoxLayout, QLabel, QTabWidget

from app.core.consensus.memory_plan import ConsensusPlan, plan_consensus
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

_TEMPLATE_TOKENS = 32


class ConsensusController(QObject):
    """Connects the session's consensus run to the panel and the panes; shows or hides
    the panel (shown while consensus is on or a consensus run is on screen) and brings
    its tab forward when a consensus run starts or is reopened."""

    def __init__(self, session: ChatSession, consensus: ConsensusSession,
                 options: ConsensusOptions, view: ConsensusView,
                 trace_view: TraceView, answer_view: AnswerView, banner: Banner,
                 run_info: QLabel, tabs: QTabWidget | None = None,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.session, self.options, self.view = session, options, view
        self.consensus = consensus
        self.trace_view, self.answer_view = trace_view, answer_view
        self.banner, self.run_info = banner, run_info
        self.tabs = tabs  # the view is a tab beside the panes; None: shown on its own
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
        view.sample_watched.connect(consensus.watch)
        view.exported.connect(lambda message: banner.show_message(message, "info"))
        view.figures.one_sample_requested.connect(self._on_one_sample_requested)
        options.toggled.connect(self._on_toggled)
        # Above the panel's figures: the offer belongs to the run they describe.
        self.resume_bar = ResumeBar(view)
        view_layout = view.layout()
        if isinstance(view_layout, QBoxLayout):
            view_layout.insertWidget(0, self.resume_bar)
        self.resume_bar.resume_requested.connect(self._on_resume_requested)
        self._update_panel()

    def preview_plan(
        self, question: str, max_tokens: int, deterministic: bool = False
    ) -> ConsensusPlan | None:
        """Show the next run's memory plan while the user sets it up (N, max tokens, the
        question), so the cost is known before Ask, and, when the settings are greedy
        (temperature 0 or top-k 1), that every sample would be the same, with the offer
        to run one. Nothing changes while a run is asked or going: the panel shows that
        run's own plan."""
        model = self.session.model
        busy = self.consensus.pending or self.consensus.running or self.session.busy
        # A server holds its own memory: the local plan would describe the wrong machine.
        if model is None or busy or not self.options.enabled() or self.session.server:
            return None
        self.view.figures.show_same_samples(self.options.samples() if deterministic else None)
        # The exact count needs the tokenizer, which lives on the inference thread:
        # about 4 characters a token, plus the chat template's few dozen.
        tokens = len(question) // 4 + _TEMPLATE_TOKENS
        try:
            plan = plan_consensus(model.info, samples=self.options.samples(),
                                  prompt_tokens=tokens, max_tokens=max_tokens)  # fmt: skip
        except ValueError:  # no KV figures in this file's metadata: say nothing
            return None
        self.view.figures.set_plan(plan, before_asking=True)
        if not self.view.samples:  # the chips show how many samples the run will take
            self.view.chips.set_total(plan.samples)
        return plan

    def show_sample(self, sample: SampleRecord) -> None:
        """One sample in the trace and answer panes, labelled with its number and seed."""
        self.trace_view.show_sample(sample)
        self.answer_view.show_sample(sample)

    # -- slots ---------------------------------------------------------------------------------
    def _on_toggled(self, on: bool) -> None:
        self._update_panel()
        if on:  # the plan and the figures are what the user ticked it for
            self._bring_forward(True)

    def _on_requested(self) -> None:
        self.resume_bar.withdraw()
        self._showing_consensus = True
        self.view.clear()
        self._update_panel()
        self._bring_forward(True)
        self.run_info.setText("Working out the memory the consensus run needs…")

    def _on_planned(self, plan: ConsensusPlan) -> None:
        self.view.set_plan(plan)
        server = self.session.server
        self.run_info.setText(
            f"Consensus: {server.describe_plan(plan) if server else plan.describe()}"
        )
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
        self._bring_forward(self._showing_consensus)

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
        self._bring_forward(self._showing_consensus)

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
        shown = self.options.enabled() or self._showing_consensus
        if self.tabs is None:
            self.view.setVisible(shown)
            return
        index = self.tabs.indexOf(self.view)
        was_current = self.tabs.currentIndex() == index  # hiding it moves to a neighbour
        self.tabs.setTabVisible(index, shown)
        if not shown and was_current:
            self.tabs.setCurrentIndex(0)

    def _bring_forward(self, consensus: bool) -> None:
        """Show the tab of the run that starts or opens: the panel, or the panes."""
        if self.tabs is not None:
            if consensus:
                self.tabs.setCurrentWidget(self.view)
            elif self.tabs.currentWidget() is self.view:
                self.tabs.setCurrentIndex(0)  # the conversation, where a single run streams
