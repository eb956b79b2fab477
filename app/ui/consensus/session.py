"""The session's side of a consensus run: ask, record in the history, report back.

A consensus run is recorded later than a single run: only once the worker has worked out
its memory plan. A request the worker refuses (max tokens beyond the model's context, for
example) is then a message, not a failed run in the history. From the plan on, the run
goes through the session's usual lifecycle (`begin_recorded_run` emits run_started,
`end_recorded_run` stores it and emits run_finished), so the history, the buttons and the
follow-up turns treat it like any other run. Its record is built from the report data
(app.core.consensus.record), which keeps everything the consensus view shows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.core.consensus.job import ConsensusJob
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import consensus_to_record
from app.core.consensus.report import run_status, sample_record
from app.core.consensus.runner import ConsensusReport, ConsensusRequest
from app.core.consensus.stats import StopMode
from app.core.consensus.summary import consensus_json
from app.core.history.records import RunRecord, RunStatus
from app.core.inference.engine import Message
from app.core.inference.sampling import SamplingParams

if TYPE_CHECKING:
    from app.ui.conversation.session import ChatSession

log = logging.getLogger(__name__)


class ConsensusSession(QObject):
    requested = Signal()  # asked; waiting for the worker's memory plan
    planned = Signal(object)  # ConsensusPlan: the run is recorded (run_started) and starts
    refused = Signal(str)  # it could not start; nothing was recorded
    started = Signal(object)  # ConsensusStarted
    sampled = Signal(object)  # ConsensusSample
    progressed = Signal(object)  # ConsensusProgress
    finished = Signal(object, object)  # ConsensusReport, report data (None if it could not
    # be built); emitted just before the session's run_finished with the saved record

    def __init__(self, session: ChatSession) -> None:
        super().__init__(session)
        self.session = session
        self._pending: RunRecord | None = None
        self._running = False
        worker = session.inference.worker
        worker.consensus_planned.connect(self._on_planned)
        worker.consensus_refused.connect(self._on_refused)
        worker.consensus_started.connect(self.started)
        worker.consensus_sampled.connect(self.sampled)
        worker.consensus_progressed.connect(self.progressed)
        worker.consensus_finished.connect(self._on_finished)

    @property
    def pending(self) -> bool:
        """Asked, and the worker has not yet said whether it can run."""
        return self._pending is not None

    @property
    def running(self) -> bool:
        """A consensus run is recorded in the history and not yet finished."""
        return self._running

    def start(self, record: RunRecord, messages: Sequence[Message], sampling: SamplingParams,
              samples: int, early_stop: StopMode) -> None:  # fmt: skip
        """Send a checked request (ChatSession.ask_consensus checks it) to the worker."""
        thinking = record.params.get("thinking")
        request = ConsensusRequest(list(messages), sampling, samples, thinking, early_stop)
        job = ConsensusJob(request, record.question, record.created_at, record.model_sha256)
        self._pending = record
        self.requested.emit()
        self.session.inference.generate_consensus(job)

    def close_unreported(self) -> None:
        """At shutdown, for a run the worker never reported on: saved as cancelled."""
        record = self.session.current_run
        if record is None or not self._running:
            return
        record.status, record.error = RunStatus.CANCELLED, "Quorum was closed during the run."
        self._running = False
        self.session.end_recorded_run(record)

    def _on_planned(self, plan: ConsensusPlan) -> None:
        record, self._pending = self._pending, None
        if record is None:
            return
        self._running = True
        self.session.begin_recorded_run(record)
        self.planned.emit(plan)

    def _on_refused(self, message: str) -> None:
        self._pending = None
        self.refused.emit(message)

    def _on_finished(self, report: ConsensusReport, data: dict[str, Any] | None) -> None:
        begun = self.session.current_run
        if begun is None or not self._running:
            return
        self._running = False
        record = self._record(begun, report, data)
        self.finished.emit(report, data)
        self.session.end_recorded_run(record)

    @staticmethod
    def _record(
        begun: RunRecord, report: ConsensusReport, data: dict[str, Any] | None
    ) -> RunRecord:
        if data is not None:
            record = consensus_to_record(data, begun.conversation_id)
            record.id, record.turn = begun.id, begun.turn  # the row begun when it started
            return record
        # The report data could not be built: keep the samples and the figures.
        begun.status = run_status(report)
        begun.error = report.error or "The consensus report could not be built (see the log)."
        begun.samples = [sample_record(i, r, report.groups.get(i)) for i, r in report.finished]
        begun.consensus = consensus_json(report)
        begun.seconds = report.seconds
        return begun
