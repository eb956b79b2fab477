"""What a chat session reads from its records: the messages a follow-up sends, a run's
status from how it finished, and the history store to open at start-up.

Follow-up questions are sent with the earlier turns' questions and answers but never
their reasoning: reasoning models are trained without it in the history, and it would
fill the context window. After a consensus turn the answer sent is the majority's: the
answer of the first sample in the largest group.
"""

from __future__ import annotations

from app.core.history.database import CorruptHistoryError, HistoryError, quarantine
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import FinishReason, Message
from app.core.paths import cache_dir


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
