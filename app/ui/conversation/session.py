"""The window's model of a conversation: asks, streams, records, reopens.

`ChatSession` is the one object the views listen to. It owns the inference thread and
the history store, turns the worker's raw signals into `RunProgress` updates, and
records every run: begun in the history before the first token, finished (done,
cancelled or error) when the worker reports back. Widgets hold no state of their own
beyond what these signals tell them.

Follow-up questions carry the earlier turns' questions and answers, never their
reasoning (see app.core.conversation). Consensus runs themselves are asked and
recorded by `ConsensusSession` (``session.consensus``), through the same run lifecycle.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import cast, get_args

from PySide6.QtCore import QCoreApplication, QObject, Signal

from app.core.consensus.runner import MAX_SAMPLES, MIN_SAMPLES
from app.core.consensus.stats import StopMode
from app.core.conversation import messages_for, status_for
from app.core.history.database import HistoryError
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.requests import LoadedModel
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.run_clock import RunClock
from app.ui.consensus.session import ConsensusSession
from app.ui.conversation.worker import InferenceThread

log = logging.getLogger(__name__)


class SessionError(ValueError):
    """A request the session cannot take now; the message is meant for the user."""


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
        self._clock = RunClock()
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
        self._clock = RunClock()
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
                    "threads": runtime.n_threads, "gpu_layers": runtime.n_gpu_layers,
                    "llama_config": model.llama_config.to_record(), **params},
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
        if record.status == RunStatus.DONE:
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
        self._turns = [r for r in earlier if r.status == RunStatus.DONE and r.turn <= record.turn]
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
        self.progress_made.emit(self._clock.record(trace, answer, tokens))

    def _on_run_finished(self, result: GenerationResult) -> None:
        if self._run is not None:
            self._finish(self._run, result.trace, result.answer, result)

    def _finish(self, record: RunRecord, trace: str, answer: str,
                result: GenerationResult | None) -> None:  # fmt: skip
        clock = self._clock
        reasoning = {"tokens": clock.trace_tokens, "seconds": clock.thought_seconds()}
        if result is None:  # the thread never reported back: keep what was streamed
            record.status, record.error = RunStatus.CANCELLED, "Quorum was closed during the run."
            seconds, seed, tokens, reason = (
                time.monotonic() - clock.started,
                0,
                0,
                FinishReason.CANCELLED,
            )
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
