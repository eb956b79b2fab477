"""Taking up an interrupted consensus run: the same seeds, the missing sample indices only.

Every sample's seed derives from the run's base seed and its index (sample_seeds), and the
history keeps the base seed in the run's parameters and each finished sample as it
finished. So a run that Quorum lost mid-way (kill -9, a crash, closing the app) is resumed
by asking exactly the indices it lacks, each with the seed it would have had.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import cast, get_args

from app.core.answers.extract import AnswerRule, ExtractedAnswer, extract_answer
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.sampling import SamplingParams
from app.core.inference.token_stats import TokenStats

_RESUMABLE = (RunStatus.INTERRUPTED, RunStatus.CANCELLED)


@dataclass(frozen=True)
class ResumePoint:
    """What an interrupted run asked for and what it kept."""

    run: RunRecord
    sampling: SamplingParams  # with the run's base seed
    samples: int
    thinking: bool | None
    early_stop: str
    kept: dict[int, SampleRecord]
    think_budget: int | None = None  # the trace cap the run was asked with

    @property
    def missing(self) -> list[int]:
        return [i for i in range(self.samples) if i not in self.kept]


def resume_point(record: RunRecord) -> ResumePoint:
    """Read a history record as a run to resume. ValueError says, for a user, why not."""
    params = record.params
    samples = params.get("samples")
    if not isinstance(samples, int) or samples < 2:
        raise ValueError("only a consensus run can be resumed")
    if record.status not in _RESUMABLE:
        raise ValueError(f"this run is {record.status}: only an interrupted run can be resumed")
    names = {f.name for f in fields(SamplingParams)}
    try:
        sampling = SamplingParams(**{k: v for k, v in params.items() if k in names}).validated()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"this run's saved sampling settings are unreadable ({exc})") from exc
    if sampling.seed is None:
        raise ValueError("this run did not record its seed, so its samples cannot be matched")
    kept = {s.index: s for s in record.samples if 0 <= s.index < samples}
    if len(kept) == samples:
        raise ValueError("every sample of this run is saved; there is nothing left to run")
    thinking = params.get("thinking")
    budget = params.get("think_budget")
    return ResumePoint(
        run=record,
        sampling=sampling,
        samples=samples,
        thinking=thinking if isinstance(thinking, bool) else None,
        early_stop=str(params.get("early_stop", "off")),
        kept=kept,
        think_budget=budget if isinstance(budget, int) else None,
    )


def result_of(sample: SampleRecord, sampling: SamplingParams, thinking: bool | None,
              prompt_tokens: int) -> GenerationResult:  # fmt: skip
    """A saved sample as the result the runner groups and reports, like a fresh one."""
    return GenerationResult(
        trace=sample.trace,
        answer=sample.answer,
        extracted=_extracted(sample),
        prompt_tokens=prompt_tokens,  # one prompt for every sample of the run
        completion_tokens=sample.tokens,
        seconds=sample.seconds,
        time_to_first_token=None,  # not kept per sample in the history
        finish_reason=_finish_reason(sample.finish_reason),
        sampling=replace(sampling, seed=sample.seed),
        thinking=thinking,
        token_stats=TokenStats.from_blob(sample.token_stats),
    )


def _extracted(sample: SampleRecord) -> ExtractedAnswer | None:
    if sample.extracted is None:
        return None
    # The history keeps the answer and its rule, not where it sits; extraction is
    # deterministic, so finding it again gives the span when it is the same answer.
    again = extract_answer(sample.answer, complete=sample.finish_reason == FinishReason.STOP)
    if again is not None and again.text == sample.extracted:
        return again
    known = sample.extracted_rule in get_args(AnswerRule)
    rule = cast(AnswerRule, sample.extracted_rule if known else "last_number")
    start = max(0, sample.answer.rfind(sample.extracted))
    return ExtractedAnswer(sample.extracted, rule, (start, start + len(sample.extracted)))


def _finish_reason(text: str) -> FinishReason:
    try:
        return FinishReason(text)
    except ValueError:
        return FinishReason.ERROR
