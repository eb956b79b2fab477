"""What the history stores: a run, its samples, and the sidebar's summary of a run.

Plain dataclasses shared by the store, the exporters, the CLI and the GUI.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class RunStatus(enum.StrEnum):
    """Where a run stands, as stored in the history (values are the stored text)."""

    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # Quorum stopped while it ran (found at the next start)


FINAL_STATUSES = (RunStatus.DONE, RunStatus.CANCELLED, RunStatus.ERROR)
_SNIPPET_CHARS = 200


@dataclass
class SampleRecord:
    """One answer to the question, with the seed that produced it."""

    index: int
    seed: int
    trace: str
    answer: str
    extracted: str | None
    extracted_rule: str | None
    tokens: int
    seconds: float
    finish_reason: str
    group: str | None = None
    # Each token's confidence, compressed within the run's budget (history.token_blob).
    token_stats: bytes | None = None


@dataclass
class RunRecord:
    """One question asked once (one sample) or N times (consensus).

    params and consensus must be JSON values: tuples come back as lists and non-string
    keys as strings. HistoryStore.begin_run fills in id, conversation_id and turn.
    """

    id: int | None
    conversation_id: int | None
    turn: int
    created_at: float
    question: str
    model_name: str
    model_path: str
    model_sha256: str | None
    params: dict[str, Any]
    samples: list[SampleRecord] = field(default_factory=list)
    consensus: dict[str, Any] | None = None
    status: str = RunStatus.RUNNING
    error: str | None = None
    seconds: float = 0.0
    time_to_first_token: float | None = None

    @property
    def trace(self) -> str:
        return self.samples[0].trace if self.samples else ""

    @property
    def answer(self) -> str:
        return self.samples[0].answer if self.samples else ""


@dataclass(frozen=True)
class RunSummary:
    """One sidebar row: question is its first line, answer the majority's (or only) answer."""

    id: int
    conversation_id: int
    turn: int
    created_at: float
    question: str
    model_name: str
    status: str
    n_samples: int
    answer: str
    requested: int | None = None  # consensus: samples asked for (n_samples: saved)
    agreement: float | None = None  # consensus: leading answer's share of the answered
    answered: int | None = None


def dump_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"run {what} must be JSON values: {exc}") from exc


def check_samples(samples: list[SampleRecord]) -> None:
    """Refuse samples SQLite would reject halfway through a write, with a readable reason."""
    seen: set[int] = set()
    for sample in samples:
        for name in ("index", "seed", "tokens"):
            value = getattr(sample, name)
            if not isinstance(value, int) or not -(2**63) <= value < 2**63:
                raise ValueError(f"sample {sample.index!r}: {name} must be a 64-bit int: {value!r}")
        if sample.index in seen:
            raise ValueError(f"two samples have index {sample.index}")
        seen.add(sample.index)


def answer_snippet(samples: list[SampleRecord]) -> str:
    """The majority group's answer (or the only sample's), for the sidebar."""
    if not samples:
        return ""
    votes = Counter(key for s in samples if (key := s.group or s.extracted))
    best = samples[0]
    if votes:
        top = votes.most_common(1)[0][0]  # ties go to the group seen first
        best = next(s for s in samples if (s.group or s.extracted) == top)
    return first_line(best.extracted or best.answer)


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:_SNIPPET_CHARS] if lines else ""
