"""The figures of one question under one condition (model, temperature, thinking budget).

Agreement is the largest group's share of all n samples, the no-answer bucket counted as a
group (app.core.consensus.stats): a claim of "100% self-consistency" must survive the
samples that gave no answer too. When one group holds every sample, the share any other
answer could have is at most 1 - the Wilson lower bound at 95% (512 of 512: 0.75%), the
bound the consensus view shows (app.core.consensus.figure_lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.answers.grouping import AnswerGrouper, equivalent
from app.core.audit.diversity import Diversity, diversity
from app.core.audit.samples import AuditSample
from app.core.consensus.stats import ConsensusStats, compute_stats


@dataclass(frozen=True)
class QuestionFigures:
    """One question's agreement, entropy, majority and correctness, and its trace diversity."""

    question_id: str
    stats: ConsensusStats  # n, majority, agreement + Wilson 95%, entropy (plug-in, MM)
    other_answer_bound: float | None  # n of n in one real answer: 1 - Wilson lower bound
    reference: str | None
    majority_correct: bool | None  # None: no reference, or no answer leads
    correct_samples: int | None  # samples equivalent to the reference; None: no reference
    first_sample_correct: bool | None  # sample 0 alone (a single sample's accuracy)
    greedy_answer: str | None
    greedy_correct: bool | None
    diversity: Diversity
    trace_cuts: int  # samples whose trace a thinking budget closed

    @property
    def n(self) -> int:
        return self.stats.n

    @property
    def unanimous(self) -> bool:
        """Every sample in one real answer (the no-answer bucket never counts as unanimous)."""
        return (
            self.stats.n > 0
            and self.stats.majority_count == self.stats.n
            and not (self.stats.majority_is_no_answer)
        )


def matches(answer: str | None, reference: str | None) -> bool | None:
    """Whether an answer is the reference one, by the grouping's own equivalence."""
    if reference is None:
        return None
    return answer is not None and equivalent(answer, reference)


def question_figures(
    question_id: str,
    samples: Sequence[AuditSample],
    *,
    reference: str | None,
    greedy: AuditSample | None = None,
    deterministic: bool = False,
) -> QuestionFigures:
    """Figures of one question's samples (in any order; grouped in sample-index order)."""
    ordered = sorted(samples, key=lambda s: s.index)
    grouper = AnswerGrouper()
    for sample in ordered:
        grouper.add(sample.index, sample.extracted)
    groups = grouper.groups
    stats = compute_stats(groups, deterministic=deterministic)
    correct: int | None = None
    if reference is not None:
        correct = sum(
            len(g.members) for g in groups if not g.is_no_answer and matches(g.label, reference)
        )
    unanimous = stats.n > 0 and stats.majority_count == stats.n and not stats.majority_is_no_answer
    first = ordered[0] if ordered and ordered[0].index == 0 else None
    return QuestionFigures(
        question_id=question_id,
        stats=stats,
        other_answer_bound=(1 - stats.agreement_ci95[0]) if unanimous else None,
        reference=reference,
        # A vote that no answer leads is a wrong answer to a question that has one.
        majority_correct=matches(stats.majority, reference),
        correct_samples=correct,
        first_sample_correct=matches(first.extracted, reference) if first else None,
        greedy_answer=greedy.extracted if greedy else None,
        greedy_correct=matches(greedy.extracted, reference) if greedy else None,
        diversity=diversity([s.compared_text for s in ordered]),
        trace_cuts=sum(1 for s in ordered if s.trace_cut_at is not None),
    )
