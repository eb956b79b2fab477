"""What ``quorum solve`` leaves in the history: the same runs the window records.

A run is begun before it generates (a consensus run once its memory plan is known, as in
the window), each consensus sample is stored the moment it finishes, and the outcome is
stored at the end, so a run made in the terminal opens in the window with its samples,
and a killed one can be resumed (``quorum history resume ID``). A history that cannot be
opened or written is a warning: the answer still reaches the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from app.core.consensus.record import finished_record
from app.core.consensus.report import build_report, sample_record
from app.core.consensus.runner import (
    MAX_SAMPLES,
    ConsensusReport,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.conversation import Conversation, finish_single_run
from app.core.history.database import HistoryError
from app.core.history.records import RunRecord, RunStatus
from app.core.history.store import HistoryStore
from app.core.inference.engine import Engine, GenerationResult, TextChunk
from app.core.inference.reasoning import Channel
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import SamplingParams
from app.core.models.hashes import cached_sha256
from app.core.run_clock import RunClock


def warn(message: str) -> None:
    print(f"quorum: warning: {message}", file=sys.stderr)


class CliRecorder:
    """One terminal run's record in the history (or nothing, with --no-history)."""

    def __init__(
        self, engine: Engine, enabled: bool = True, conversation: Conversation | None = None
    ) -> None:
        self.engine = engine
        self.conversation = conversation
        self.record: RunRecord | None = None
        self._pending: RunRecord | None = None
        self.clock = RunClock()
        if not enabled or conversation is not None:
            return
        try:
            store = HistoryStore()
        except HistoryError as exc:
            warn(f"this run is not recorded in the history: {exc}")
            return
        self.conversation = Conversation(store)
        self.conversation.model = ModelDescription.of(engine)
        self.conversation.model_sha256 = _known_sha256(engine)

    def begin(self, question: str, sampling: SamplingParams, thinking: bool,
              **params: object) -> None:  # fmt: skip
        """Record the run as running; params as the window records them (samples, ...)."""
        if self.conversation is None:
            return
        self.record = self.conversation.new_record(question, sampling, thinking, **params)
        self._begin(self.record)

    def pending(self, question: str, sampling: SamplingParams, thinking: bool,
                **params: object) -> None:  # fmt: skip
        """A consensus run, recorded once its memory plan is known (ConsensusStarted): a
        request refused before that (too long for the context) leaves no failed run."""
        if self.conversation is not None:
            self._pending = self.conversation.new_record(question, sampling, thinking, **params)

    def resume(self, record: RunRecord) -> None:
        """Take up an interrupted run once it starts: its id is kept, it runs again."""
        if self.conversation is not None:
            self._pending = record

    def watching(self, events: Iterator[Any]) -> Iterator[Any]:
        for event in events:
            self.watch(event)
            yield event

    def watch(self, event: Any) -> None:
        """Every event of the run: streamed text for a single run's clock, the start of a
        consensus run, and each consensus sample stored as it finishes."""
        if isinstance(event, ConsensusStarted) and self._pending is not None:
            self.record, self._pending = self._pending, None
            self._begin(self.record)
        elif isinstance(event, TextChunk):
            trace = event.text if event.channel is Channel.TRACE else ""
            answer = event.text if event.channel is Channel.ANSWER else ""
            self.clock.record(trace, answer, event.completion_tokens)
        elif isinstance(event, ConsensusSample) and self._recording and not event.kept:
            assert self.conversation is not None and self.record is not None
            asked = self.record.params.get("samples")
            n = asked if isinstance(asked, int) else MAX_SAMPLES  # the budget's share
            sample = sample_record(event.index, event.result, event.group, n)
            problem = self.conversation.save_sample(self.record, sample)
            if problem:
                warn(f"sample {event.index} was not saved: {problem}")

    def finish_single(self, result: GenerationResult) -> None:
        if not self._recording:
            return
        assert self.conversation is not None and self.record is not None
        finish_single_run(self.record, self.clock, result)
        self._end(self.record)

    def finish_consensus(self, report: ConsensusReport, early_stop: str) -> None:
        if not self._recording:
            return
        assert self.conversation is not None and self.record is not None
        begun = self.record
        data = None
        try:
            data = build_report(
                report, question=begun.question, model_path=self.engine.path,
                model_info=self.engine.info, runtime=self.engine.runtime,
                early_stop=early_stop, model_sha256=begun.model_sha256, hash_model=False,
                created_at=begun.created_at,
            )  # fmt: skip
        except (OSError, ValueError) as exc:  # keep the samples and figures regardless
            warn(f"the full consensus report could not be built ({exc})")
        self._end(finished_record(begun, report, data))

    @property
    def _recording(self) -> bool:
        return self.conversation is not None and self.record is not None

    def _begin(self, record: RunRecord) -> None:
        assert self.conversation is not None
        self.conversation.listen(self._on_event)
        self.conversation.begin(record)

    def _end(self, record: RunRecord) -> None:
        assert self.conversation is not None
        self.conversation.end(record)
        self.conversation.store.close()
        if record.id is not None and record.status != RunStatus.ERROR:  # an error: one line
            print(f"quorum: recorded as run {record.id} (quorum history show {record.id})",
                  file=sys.stderr)  # fmt: skip

    def _on_event(self, event: Any) -> None:
        if event.history_error:
            warn(f"the history could not be written: {event.history_error}")


def _known_sha256(engine: Engine) -> str | None:
    try:
        return cached_sha256(engine.path)
    except OSError:
        return None
