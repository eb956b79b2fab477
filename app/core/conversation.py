"""A conversation: its turns, the run being asked now, and the history it is kept in.

`Conversation` is what the window's chat session and its consensus session share, so
neither needs the other: both ask it for a new record, begin and end their runs through
it, and every listener (the chat session turns them into Qt signals) hears of each run
begun and ended, whoever asked it.

Follow-up questions are sent with the earlier turns' questions and answers but never
their reasoning: reasoning models are trained without it in the history, and it would
fill the context window. After a consensus turn the answer sent is the majority's: the
answer of the first sample in the largest group.

A turn can be asked again (regenerated, or edited and resent): the conversation is
rewound to the turns before it and the new run follows them. Each run records the id of
the run it follows (``params["follows"]``), so a conversation that branched this way
reopens as the branch that led to the run opened, not as every run in it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.consensus.resume import ResumePoint, resume_point
from app.core.history.database import CorruptHistoryError, HistoryError, quarantine
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import FinishReason, GenerationResult, Message
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import SamplingParams
from app.core.paths import cache_dir
from app.core.remote.description import ServerDescription
from app.core.run_clock import RunClock

log = logging.getLogger(__name__)


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
    if finish_reason in (FinishReason.STOP, FinishReason.LENGTH, FinishReason.CONTEXT_FULL):
        return RunStatus.DONE
    return RunStatus.CANCELLED if finish_reason == FinishReason.CANCELLED else RunStatus.ERROR


class ConversationError(ValueError):
    """A request the conversation cannot take now; the message is meant for the user."""


@dataclass(frozen=True)
class RunBegun:
    """A run was recorded as running (or would have been: see history_error)."""

    record: RunRecord
    history_error: str | None = None  # the run goes on; only its record was lost


@dataclass(frozen=True)
class RunEnded:
    """A run's outcome was stored (history_error: it could not be)."""

    record: RunRecord
    history_error: str | None = None


ConversationEvent = RunBegun | RunEnded


class Conversation:
    """The turns so far, the model records are made with, and the run in progress.

    Plain Python on the GUI thread (or a CLI's only thread); listeners are called
    synchronously, in the order they were added.
    """

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.model: ModelDescription | None = None
        self.model_sha256: str | None = None
        # Set while questions go to a server (the local model, if any, stays loaded).
        self.server: ServerDescription | None = None
        self.loading = False
        self.current: RunRecord | None = None  # begun in the history, not yet ended
        self.pending: RunRecord | None = None  # asked; not recorded until it can start
        self.id: int | None = None
        self._turns: list[RunRecord] = []
        self._listeners: list[Callable[[ConversationEvent], None]] = []

    def listen(self, listener: Callable[[ConversationEvent], None]) -> None:
        self._listeners.append(listener)

    @property
    def busy(self) -> bool:
        return self.current is not None or self.pending is not None

    @property
    def turns(self) -> list[RunRecord]:
        return list(self._turns)

    def messages_for(self, question: str) -> list[Message]:
        return messages_for(self._turns, question)

    def new_record(self, question: str, sampling: SamplingParams, thinking: bool,
                   **params: object) -> RunRecord:  # fmt: skip
        """A run about to be asked; ConversationError says why it can't be."""
        question = question.strip()
        if not question:
            raise ConversationError("Type a question first.")
        if self.busy:
            raise ConversationError("Wait for the current answer, or stop it first.")
        if self.loading:
            raise ConversationError("The model is still loading; ask again in a moment.")
        follows = self._turns[-1].id if self._turns else None
        if self.server is not None:
            return self._server_record(question, sampling, thinking, follows, params)
        if self.model is None:
            raise ConversationError("No model is loaded yet: open a model first.")
        model = self.model
        runtime = model.runtime
        toggle = thinking if model.supports_thinking else None
        return RunRecord(
            id=None, conversation_id=self.id, turn=0, created_at=time.time(),
            question=question, model_name=model.display_name, model_path=str(model.path),
            model_sha256=self.model_sha256,
            params={**sampling.to_dict(), "thinking": toggle, "n_ctx": model.n_ctx,
                    "threads": runtime.n_threads, "gpu_layers": runtime.n_gpu_layers,
                    "llama_config": model.llama_config.to_record(), "follows": follows,
                    **params},
        )  # fmt: skip

    def _server_record(self, question: str, sampling: SamplingParams, thinking: bool,
                       follows: int | None, params: dict[str, object]) -> RunRecord:  # fmt: skip
        """A run on the server: named by its model id and URL, its identity in params."""
        server = self.server
        assert server is not None
        toggle = thinking if server.supports_thinking else None
        return RunRecord(
            id=None, conversation_id=self.id, turn=0, created_at=time.time(),
            question=question, model_name=server.display_name, model_path=server.url,
            model_sha256=None,
            params={**sampling.to_dict(), "thinking": toggle, **server.record_params(),
                    "follows": follows, **params},
        )  # fmt: skip

    def begin(self, record: RunRecord) -> None:
        """Record the run as running (a resumed run: running again); a failed write is
        reported and the run goes on."""
        error = None
        try:
            if record.id is None:
                self.store.begin_run(record)
            else:
                resumed = self.store.resume_run(record.id)
                record.status, record.error = resumed.status, None
            self.id = record.conversation_id
        except HistoryError as exc:
            log.warning("could not record the run: %s", exc)
            error = str(exc)
        self.current = record
        self._tell(RunBegun(record, error))

    def end(self, record: RunRecord) -> None:
        """Store the run's outcome; a done run becomes a turn that follow-ups build on."""
        error = None
        try:
            self.store.finish_run(record)
            self.id = record.conversation_id or self.id
        except HistoryError as exc:
            log.warning("could not record the run's outcome: %s", exc)
            error = str(exc)
        self.current = None
        if record.status == RunStatus.DONE:
            self._turns.append(replace(record))
        self._tell(RunEnded(record, error))

    def save_sample(self, record: RunRecord, sample: SampleRecord) -> str | None:
        """Store one finished sample of the run in progress at once, so that a crash
        loses only the samples in flight; the problem, if it could not be stored."""
        if record.id is None:  # its begin could not be recorded: finish_run will insert it
            return None
        try:
            self.store.add_sample(record.id, sample)
        except HistoryError as exc:
            log.warning("could not record sample %d: %s", sample.index, exc)
            return str(exc)
        return None

    def prepare_resume(self, run_id: int) -> ResumePoint:
        """An interrupted consensus run to take up again, as the next run to ask: the
        follow-up context is the turns before it, as when it was first asked."""
        if self.busy:
            raise ConversationError("Stop the current answer before resuming a run.")
        if self.server is not None:
            raise ConversationError(
                "Resuming a run needs the model on this computer: choose This computer "
                "under Engine in Settings, then resume."
            )
        try:
            record = self.store.get_run(run_id)
            point = resume_point(record)
        except (HistoryError, ValueError) as exc:
            raise ConversationError(f"This run cannot be resumed: {exc}") from exc
        if self.model is None or Path(record.model_path) != Path(self.model.path):
            raise ConversationError(
                f"This run was made with {record.model_name} ({record.model_path}): "
                "open that model to resume it, so the samples come from the same model."
            )
        self.id = record.conversation_id
        if "follows" in record.params:  # the branch it was asked on
            self._turns = self._ancestors(record)
            return point
        earlier = self.store.conversation(record.conversation_id or -1)
        self._turns = [r for r in earlier if r.status == RunStatus.DONE and r.turn < record.turn]
        return point

    def reset(self) -> None:
        if self.busy:
            raise ConversationError("Stop the current answer before starting a new conversation.")
        self._turns = []
        self.id = None

    def rewind(self, turns: int) -> None:
        """Keep only the first ``turns`` turns: the next question follows those (to ask a
        turn again, regenerated or edited). The history keeps every run."""
        if self.busy:
            raise ConversationError("Stop the current answer before asking a turn again.")
        if not 0 <= turns <= len(self._turns):
            raise ConversationError(f"There is no turn {turns + 1} to ask again.")
        del self._turns[turns:]

    def reopen(self, run_id: int) -> RunRecord:
        """A past run; a follow-up question then continues its conversation."""
        if self.busy:
            raise ConversationError("Stop the current answer before opening another run.")
        record = self.store.get_run(run_id)
        self.id = record.conversation_id
        if "follows" in record.params:
            earlier = self._ancestors(record)
            self._turns = [*earlier, record] if record.status == RunStatus.DONE else earlier
            return record
        # Recorded before runs named the run they follow: the conversation was linear.
        earlier = self.store.conversation(record.conversation_id or -1)
        self._turns = [r for r in earlier if r.status == RunStatus.DONE and r.turn <= record.turn]
        return record

    def _ancestors(self, record: RunRecord) -> list[RunRecord]:
        """The turns ``record`` followed, first turn first; a deleted run ends the chain."""
        chain: list[RunRecord] = []
        seen = {record.id}
        follows = record.params.get("follows")
        while isinstance(follows, int) and follows not in seen:
            seen.add(follows)
            try:
                earlier = self.store.get_run(follows)
            except HistoryError:  # deleted from the history: what is left still reads
                break
            chain.append(earlier)
            follows = earlier.params.get("follows")
        return chain[::-1]

    def _tell(self, event: ConversationEvent) -> None:
        for listener in self._listeners:
            listener(event)


def finish_single_run(record: RunRecord, clock: RunClock, result: GenerationResult | None) -> None:
    """Fill in a one-sample run from its result (None: the worker never reported back,
    so keep what was streamed and call it cancelled)."""
    reasoning = {"tokens": clock.trace_tokens, "seconds": clock.thought_seconds()}
    if result is None:
        record.status, record.error = RunStatus.CANCELLED, "Quorum was closed during the run."
        seconds, seed, tokens, reason = (
            time.monotonic() - clock.started,
            0,
            0,
            FinishReason.CANCELLED,
        )
        trace, answer, extracted = clock.trace, clock.answer, None
    else:
        record.status, record.error = status_for(result.finish_reason), result.error
        seconds, seed, tokens = result.seconds, result.seed, result.completion_tokens
        reason, extracted = result.finish_reason, result.extracted
        trace, answer = result.trace, result.answer
        record.params = {**record.params, **result.sampling.to_dict()}  # the seed drawn
        record.time_to_first_token = result.time_to_first_token
        record.params["prompt_tokens"] = result.prompt_tokens
    record.params["reasoning"] = reasoning
    record.seconds = seconds
    stats = result.token_stats if result is not None else None
    record.samples = [SampleRecord(
        index=0, seed=seed, trace=trace, answer=answer,
        extracted=extracted.text if extracted else None,
        extracted_rule=extracted.rule if extracted else None,
        tokens=tokens, seconds=seconds, finish_reason=reason,
        token_stats=stats.to_blob(1) if stats is not None else None,
    )]  # fmt: skip
