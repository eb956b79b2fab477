"""The session's side of a consensus run: ask, record in the history, report back.

A consensus run is recorded later than a single run: only once the worker has worked out
its memory plan. A request the worker refuses (max tokens beyond the model's context, for
example) is then a message, not a failed run in the history. From the plan on, the run
goes through the shared core `Conversation` (`begin` and `end`, whose listener, the chat
session, emits run_started and run_finished), so the history, the buttons and the
follow-up turns treat it like any other run. Its record is built from the report data
(app.core.consensus.record), which keeps everything the consensus view shows.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from PySide6.QtCore import QCoreApplication, QObject, Signal

from app.core.consensus.job import ConsensusJob
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import finished_record
from app.core.consensus.report import sample_record
from app.core.consensus.runner import (
    MAX_SAMPLES,
    MIN_SAMPLES,
    ConsensusReport,
    ConsensusRequest,
    ConsensusSample,
)
from app.core.consensus.stopping import EARLY_STOP_MODES, EarlyStopChoice
from app.core.conversation import Conversation, ConversationError
from app.core.history.records import RunRecord, RunStatus
from app.core.inference.sampling import SamplingParams
from app.ui.conversation.inference_thread import InferenceThread

log = logging.getLogger(__name__)


class ConsensusSession(QObject):
    """Asks one question N times through the inference thread and records the run.

    Signals:
        requested(): asked; waiting for the worker's memory plan.
        planned(ConsensusPlan): the run is recorded (run_started) and starts.
        refused(str): it could not start; nothing was recorded.
        started(ConsensusStarted): the prompt is evaluated; samples begin.
        sampled(ConsensusSample): one sample finished.
        progressed(ConsensusProgress): tokens so far, samples running and done.
        finished(ConsensusReport, dict | None): the report and its data (None if it
            could not be built), emitted just before the run is ended and stored.
    """

    requested = Signal()
    planned = Signal(object)
    refused = Signal(str)
    started = Signal(object)
    sampled = Signal(object)
    progressed = Signal(object)
    finished = Signal(object, object)

    def __init__(self, conversation: Conversation, inference: InferenceThread,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.conversation = conversation
        self.inference = inference
        self._running = False
        self._requested = MAX_SAMPLES  # the run's size: its share of the token budget
        self.sampling: SamplingParams | None = None  # of the last run asked for
        worker = inference.worker
        worker.consensus_planned.connect(self._on_planned)
        worker.consensus_refused.connect(self._on_refused)
        worker.consensus_started.connect(self.started)
        worker.consensus_sampled.connect(self._on_sampled)
        worker.consensus_progressed.connect(self.progressed)
        worker.consensus_finished.connect(self._on_finished)

    @property
    def pending(self) -> bool:
        """Asked, and the worker has not yet said whether it can run."""
        return self.conversation.pending is not None

    @property
    def running(self) -> bool:
        """A consensus run is recorded in the history and not yet finished."""
        return self._running

    def ask(self, question: str, sampling: SamplingParams, thinking: bool,
            samples: int, early_stop: str = "off") -> RunRecord:  # fmt: skip
        """Ask N times. The run is recorded once the worker knows its memory plan, else
        refused says why it cannot start. Raises ConversationError."""
        if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
            raise ConversationError(f"Consensus takes {MIN_SAMPLES} to {MAX_SAMPLES} samples.")
        if early_stop not in EARLY_STOP_MODES:
            raise ConversationError(f"Unknown early-stop choice {early_stop!r}.")
        sampling = sampling.with_seed()  # recorded now: every sample's seed derives from it
        self.sampling = sampling
        record = self.conversation.new_record(question, sampling, thinking, samples=samples,
                                              early_stop=early_stop)  # fmt: skip
        messages = self.conversation.messages_for(record.question)
        thinking_flag = record.params.get("thinking")
        self._requested = samples
        # The window always shows token figures: they cost a few percent of the decode.
        request = ConsensusRequest(list(messages), sampling, samples, thinking_flag,
                                   cast(EarlyStopChoice, early_stop), token_stats=True)  # fmt: skip
        job = ConsensusJob(request, record.question, record.created_at, record.model_sha256)
        self.conversation.pending = record
        self.requested.emit()
        self.inference.generate_consensus(job)
        return record

    def watch(self, index: int | None) -> None:
        """Stream this sample's text in the progress events while it decodes (None: none)."""
        self.inference.worker.watch(index)

    def resume(self, run_id: int) -> RunRecord:
        """Take up an interrupted consensus run from the history: the same seeds, only the
        samples it lacks; its saved samples are reported first (sampled, kept=True).
        Raises ConversationError (wrong model, a finished run, a run still going)."""
        point = self.conversation.prepare_resume(run_id)
        record = point.run
        self.sampling = point.sampling
        messages = self.conversation.messages_for(record.question)
        self._requested = point.samples
        request = ConsensusRequest(list(messages), point.sampling, point.samples,
                                   point.thinking, cast(EarlyStopChoice, point.early_stop),
                                   kept=point.kept, think_budget=point.think_budget,
                                   token_stats=True)  # fmt: skip
        job = ConsensusJob(request, record.question, record.created_at, record.model_sha256)
        self.conversation.pending = record
        self.requested.emit()
        self.inference.generate_consensus(job)
        return record

    def shutdown(self) -> None:
        """At close, after the thread has ended: a run it never reported on is saved as
        cancelled, with the samples it had."""
        QCoreApplication.sendPostedEvents(self)  # the worker's last word may be queued
        record = self.conversation.current
        self.conversation.pending = None
        if record is None or not self._running:
            return
        record.status, record.error = RunStatus.CANCELLED, "Quorum was closed during the run."
        self._running = False
        self.conversation.end(record)

    def _on_planned(self, plan: ConsensusPlan) -> None:
        record, self.conversation.pending = self.conversation.pending, None
        if record is None:
            return
        self._running = True
        self.conversation.begin(record)
        self.planned.emit(plan)

    def _on_sampled(self, event: ConsensusSample) -> None:
        # Stored at once, in its own transaction: kill -9 loses only the samples in flight.
        record = self.conversation.current
        if record is not None and self._running and not event.kept:
            sample = sample_record(event.index, event.result, event.group, self._requested)
            self.conversation.save_sample(record, sample)
        self.sampled.emit(event)

    def _on_refused(self, message: str) -> None:
        self.conversation.pending = None
        self.refused.emit(message)

    def _on_finished(self, report: ConsensusReport, data: dict[str, Any] | None) -> None:
        begun = self.conversation.current
        if begun is None or not self._running:
            return
        self._running = False
        unbuilt = "The consensus report could not be built (see the log)."
        record = finished_record(begun, report, data, unbuilt)
        self.finished.emit(report, data)
        self.conversation.end(record)
