"""The window's model of a conversation: asks, streams, records, reopens.

`ChatSession` is the one object the views listen to. It owns the inference thread and
the history store, turns the worker's raw signals into `RunProgress` updates, and
records every run: begun in the history before the first token, finished (done,
cancelled or error) when the worker reports back. Widgets hold no state of their own
beyond what these signals tell them.

Follow-up questions are sent with the earlier turns' questions and answers but never
their reasoning: reasoning models are trained without it in the history, and it would
fill the context window. After a consensus turn the answer sent is the majority's: the
answer of the first sample in the largest group. Consensus runs themselves are asked and
recorded by `ConsensusSession` (``session.consensus``), through the same run lifecycle.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast, get_args

from PySide6.QtCore import QCoreApplication, QObject, Signal

from app.core.consensus import StopMode
from app.core.consensus_run import MAX_SAMPLES, MIN_SAMPLES
from app.core.engine import CANCELLED, CONTEXT_FULL, LENGTH, STOP, GenerationResult, Message
from app.core.history_records import CANCELLED as RUN_CANCELLED
from app.core.history_records import DONE, ERROR, RunRecord, SampleRecord
from app.core.paths import cache_dir
from app.core.sampling import RuntimeParams, SamplingParams
from app.core.store import CorruptHistoryError, HistoryError, HistoryStore, quarantine
from app.ui.consensus_session import ConsensusSession
from app.ui.workers import InferenceThread, LoadedModel

log = logging.getLogger(__name__)


class SessionError(ValueError):
    """A request the session cannot take now; the message is meant for the user."""


@dataclass(frozen=True)
class RunProgress:
    trace_delta: str
    answer_delta: str
    tokens: int
    trace_tokens: int
    thought_seconds: float | None  # known once the answer starts
    elapsed: float
    time_to_first_token: float | None
    tokens_per_second: float


def majority_sample(record: RunRecord) -> SampleRecord | None:
    """The sample that answers for the run: a consensus run's first sample in its largest
    group (its saved groups are ranked, leader first), else the only sample."""
    if not record.samples:
        return None
    groups = record.consensus.get("groups") if isinstance(record.consensus, dict) else None
    leader = groups[0] if isinstance(groups, list) and groups else None
    members = leader.get("samples") if isinstance(leader, dict) else None
    by_index = {sample.index: sample for sample in record.samples}
    for index in members if isinstance(members, list) else []:
        if index in by_index:
            return by_index[index]
    return record.samples[0]


def messages_for(turns: list[RunRecord], question: str) -> list[Message]:
    """The chat so far (questions and answers only, no reasoning) plus the new question."""
    messages: list[Message] = []
    for turn in turns:
        sample = majority_sample(turn)
        messages += [{"role": "user", "content": turn.question},
                     {"role": "assistant", "content": sample.answer if sample else ""}]  # fmt: skip
    return [*messages, {"role": "user", "content": question}]


def open_history() -> tuple[HistoryStore, str | None]:
    """The user's history, or a usable stand-in plus a message saying what happened."""
    try:
        return HistoryStore(), None
    except CorruptHistoryError as exc:
        problem = str(exc)
        try:
            moved = quarantine(exc.path)
            return (
                HistoryStore(),
                f"{problem}. It was moved aside to {moved}; a new one was started.",
            )
        except HistoryError as again:
            problem = str(again)
    except HistoryError as exc:
        problem = str(exc)  # e.g. a newer Quorum's file: left untouched
    stand_in = cache_dir() / "history-this-session.sqlite3"
    stand_in.unlink(missing_ok=True)
    return HistoryStore(stand_in), f"{problem}. This session's runs are kept in {stand_in} only."


def status_for(finish_reason: str) -> str:
    if finish_reason in (STOP, LENGTH, CONTEXT_FULL):
        return DONE
    return RUN_CANCELLED if finish_reason == CANCELLED else ERROR


class _RunClock:
    """Timing of the run in progress, measured on the GUI thread."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.first_token_at: float | None = None
        self.answer_started_at: float | None = None
        self.trace_tokens = 0
        self.saw_trace = False
        self.trace = ""
        self.answer = ""

    def thought_seconds(self) -> float | None:
        if not self.saw_trace:
            return None
        end = self.answer_started_at if self.answer_started_at else time.monotonic()
        return end - self.started


class ChatSession(QObject):
    model_loading = Signal(str)  # the file's name
    model_loaded = Signal(object)  # LoadedModel
    model_failed = Signal(str)
    run_started = Signal(object)  # RunRecord, status running
    progress_made = Signal(object)  # RunProgress
    run_finished = Signal(object)  # RunRecord with its sample
    run_opened = Signal(object)  # RunRecord reopened from the history
    conversation_reset = Signal()
    history_changed = Signal()
    history_failed = Signal(str)  # the run goes on; only its record was lost

    def __init__(self, store: HistoryStore, inference: InferenceThread | None = None,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.store = store
        self.inference = inference or InferenceThread(self)
        self.model: LoadedModel | None = None
        self.loading = False
        self._model_sha256: str | None = None
        self._turns: list[RunRecord] = []
        self._conversation_id: int | None = None
        self._run: RunRecord | None = None
        self._clock = _RunClock()
        worker = self.inference.worker
        worker.model_loaded.connect(self._on_model_loaded)
        worker.model_failed.connect(self._on_model_failed)
        worker.chunk_received.connect(self._on_chunk_received)
        worker.run_finished.connect(self._on_run_finished)
        self.consensus = ConsensusSession(self)

    @property
    def busy(self) -> bool:
        return self._run is not None or self.consensus.pending

    @property
    def current_run(self) -> RunRecord | None:
        """The run being recorded now (begun in the history), if any."""
        return self._run

    @property
    def turns(self) -> list[RunRecord]:
        return list(self._turns)

    def load_model(self, path: Path, runtime: RuntimeParams, sha256: str | None = None) -> None:
        if self.busy:
            raise SessionError("Stop the current answer before changing the model.")
        self.loading = True
        self._model_sha256 = sha256
        self.model_loading.emit(Path(path).name)
        self.inference.load_model(Path(path), runtime)

    def ask(self, question: str, sampling: SamplingParams, thinking: bool) -> RunRecord:
        record = self.new_record(question, sampling, thinking)
        self._clock = _RunClock()
        self.begin_recorded_run(record)
        messages = messages_for(self._turns, record.question)
        self.inference.generate(messages, sampling, record.params["thinking"])
        return record

    def ask_consensus(self, question: str, sampling: SamplingParams, thinking: bool,
                      samples: int, early_stop: str = "off") -> RunRecord:  # fmt: skip
        """Ask N times. The run is recorded once the worker knows its memory plan, else
        consensus.refused says why it cannot start. Raises SessionError."""
        if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
            raise SessionError(f"Consensus takes {MIN_SAMPLES} to {MAX_SAMPLES} samples.")
        if early_stop not in get_args(StopMode):
            raise SessionError(f"Unknown early-stop choice {early_stop!r}.")
        sampling = sampling.with_seed()  # recorded now: every sample's seed derives from it
        record = self.new_record(question, sampling, thinking, samples=samples,
                                 early_stop=early_stop)  # fmt: skip
        messages = messages_for(self._turns, record.question)
        self.consensus.start(record, messages, sampling, samples, cast(StopMode, early_stop))
        return record

    def new_record(self, question: str, sampling: SamplingParams, thinking: bool,
                   **params: object) -> RunRecord:  # fmt: skip
        """A run about to be asked, or SessionError (a message for the user) if it can't be."""
        question = question.strip()
        if not question:
            raise SessionError("Type a question first.")
        if self.busy:
            raise SessionError("Wait for the current answer, or stop it first.")
        if self.loading:
            raise SessionError("The model is still loading; ask again in a moment.")
        if self.model is None:
            raise SessionError("No model is loaded yet: open a model first.")
        model = self.model
        runtime = model.runtime
        toggle = thinking if model.supports_thinking else None
        return RunRecord(
            id=None, conversation_id=self._conversation_id, turn=0, created_at=time.time(),
            question=question, model_name=model.display_name, model_path=str(model.path),
            model_sha256=self._model_sha256,
            params={**sampling.to_dict(), "thinking": toggle, "n_ctx": model.n_ctx,
                    "threads": runtime.n_threads, "gpu_layers": runtime.n_gpu_layers, **params},
        )  # fmt: skip

    def begin_recorded_run(self, record: RunRecord) -> None:
        """Record the run as running (a failed write is reported, the run goes on)."""
        try:
            self.store.begin_run(record)
            self._conversation_id = record.conversation_id
        except HistoryError as exc:
            log.warning("could not record the run: %s", exc)
            self.history_failed.emit(str(exc))
        self._run = record
        self.run_started.emit(record)

    def end_recorded_run(self, record: RunRecord) -> None:
        """Store the run's outcome; a done run becomes a turn follow-ups build on."""
        try:
            self.store.finish_run(record)
            self._conversation_id = record.conversation_id or self._conversation_id
        except HistoryError as exc:
            log.warning("could not record the run's outcome: %s", exc)
            self.history_failed.emit(str(exc))
        self._run = None
        if record.status == DONE:
            self._turns.append(replace(record))
        self.run_finished.emit(record)
        self.history_changed.emit()

    def stop(self) -> None:
        if self.busy:
            self.inference.stop()

    def new_conversation(self) -> None:
        if self.busy:
            raise SessionError("Stop the current answer before starting a new conversation.")
        self._turns = []
        self._conversation_id = None
        self.conversation_reset.emit()

    def open_run(self, run_id: int) -> RunRecord:
        """Show a past run; a follow-up question then continues its conversation."""
        if self.busy:
            raise SessionError("Stop the current answer before opening another run.")
        record = self.store.get_run(run_id)
        earlier = self.store.conversation(record.conversation_id or -1)
        self._conversation_id = record.conversation_id
        self._turns = [r for r in earlier if r.status == DONE and r.turn <= record.turn]
        self.run_opened.emit(record)
        return record

    def shutdown(self) -> None:
        """Stop any run, end the thread, record the run's outcome, close the history."""
        self.inference.shutdown()
        if self.busy:  # the worker's last word may still be queued for us
            QCoreApplication.sendPostedEvents(self)
            QCoreApplication.sendPostedEvents(self.consensus)
        if self._run is not None and self.consensus.running:
            self.consensus.close_unreported()
        elif self._run is not None:
            self._finish(self._run, self._clock.trace, self._clock.answer, None)
        self.store.close()

    def _on_model_loaded(self, model: LoadedModel) -> None:
        self.loading = False
        self.model = model
        self.model_loaded.emit(model)

    def _on_model_failed(self, message: str) -> None:
        self.loading = False
        self.model = None
        self.model_failed.emit(message)

    def _on_chunk_received(self, trace: str, answer: str, tokens: int) -> None:
        clock, now = self._clock, time.monotonic()
        if clock.first_token_at is None:
            clock.first_token_at = now
        if trace:
            clock.saw_trace, clock.trace_tokens = True, tokens
            clock.trace += trace
        if answer:
            clock.answer += answer
            if clock.answer_started_at is None:
                clock.answer_started_at = now
        streaming = now - clock.first_token_at
        self.progress_made.emit(
            RunProgress(
                trace_delta=trace,
                answer_delta=answer,
                tokens=tokens,
                trace_tokens=clock.trace_tokens,
                thought_seconds=clock.thought_seconds(),
                elapsed=now - clock.started,
                time_to_first_token=clock.first_token_at - clock.started,
                tokens_per_second=tokens / streaming if streaming > 0.05 else 0.0,
            ),
        )

    def _on_run_finished(self, result: GenerationResult) -> None:
        if self._run is not None:
            self._finish(self._run, result.trace, result.answer, result)

    def _finish(self, record: RunRecord, trace: str, answer: str,
                result: GenerationResult | None) -> None:  # fmt: skip
        clock = self._clock
        reasoning = {"tokens": clock.trace_tokens, "seconds": clock.thought_seconds()}
        if result is None:  # the thread never reported back: keep what was streamed
            record.status, record.error = RUN_CANCELLED, "Quorum was closed during the run."
            seconds, seed, tokens, reason = time.monotonic() - clock.started, 0, 0, CANCELLED
            extracted = None
        else:
            record.status, record.error = status_for(result.finish_reason), result.error
            seconds, seed, tokens = result.seconds, result.seed, result.completion_tokens
            reason, extracted = result.finish_reason, result.extracted
            record.params = {**record.params, **result.sampling.to_dict()}  # the seed drawn
            record.time_to_first_token = result.time_to_first_token
            record.params["prompt_tokens"] = result.prompt_tokens
        record.params["reasoning"] = reasoning
        record.seconds = seconds
        record.samples = [SampleRecord(
            index=0, seed=seed, trace=trace, answer=answer,
            extracted=extracted.text if extracted else None,
            extracted_rule=extracted.rule if extracted else None,
            tokens=tokens, seconds=seconds, finish_reason=reason,
        )]  # fmt: skip
        self.end_recorded_run(record)
