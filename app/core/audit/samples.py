"""One audit sample as the audit keeps it: plain data, saved as one JSON line and read back.

Figures are always computed from these, whether the sample was just decoded or read from
the file of an earlier, interrupted run, so a resumed audit reports exactly what an
uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from app.core.inference.engine import GenerationResult

GREEDY = -1  # the index of the greedy (temperature 0) baseline sample of a condition


@dataclass(frozen=True)
class RunKey:
    """What a sample belongs to: one question, one model, one temperature and budget."""

    question: str  # the question's id in its set
    model: str  # the model's key (file name and size; see app.core.audit.job)
    temperature: float
    think_budget: int | None  # None: unlimited thinking
    seed: int  # the condition's base seed; sample i uses sample_seeds(seed, N)[i]

    def as_tuple(self) -> tuple[str, str, float, int | None, int]:
        return (self.question, self.model, self.temperature, self.think_budget, self.seed)


@dataclass(frozen=True)
class AuditSample:
    """One finished sample: index (GREEDY for the baseline), seed, its texts and its answer."""

    index: int
    seed: int
    trace: str
    answer: str
    extracted: str | None  # the answer extraction's text; None: no answer found
    finish_reason: str
    tokens: int
    seconds: float
    trace_cut_at: int | None = None  # trace tokens when a thinking budget closed the trace

    @classmethod
    def from_result(cls, index: int, result: GenerationResult) -> AuditSample:
        return cls(
            index=index,
            seed=result.seed,
            trace=result.trace,
            answer=result.answer,
            extracted=result.extracted.text if result.extracted else None,
            finish_reason=str(result.finish_reason),
            tokens=result.completion_tokens,
            seconds=round(result.seconds, 4),
            trace_cut_at=result.trace_cut_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditSample:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def compared_text(self) -> str:
        """The text the collapse check compares: the trace, or the answer without one."""
        return self.trace or self.answer
