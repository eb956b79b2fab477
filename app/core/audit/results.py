"""An audit's findings, computed from the saved samples alone: per question, per condition
(model x thinking budget x temperature), the collapse checks and the claim card.

Reading the store rather than the live run means a resumed audit, a report rebuilt later
and an uninterrupted run all say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.audit.aggregate import SetFigures, set_figures
from app.core.audit.claim import Claim, claim_lines
from app.core.audit.collapse import CollapseVerdict, temperature_collapse, trace_collapse
from app.core.audit.job import AuditConfig, condition_seed
from app.core.audit.measures import QuestionFigures, question_figures
from app.core.audit.questions import AuditQuestion
from app.core.audit.samples import GREEDY, AuditSample, RunKey
from app.core.audit.store import SampleStore


@dataclass(frozen=True)
class ModelInfo:
    """How the report names a model: its key in the samples file, name and path."""

    key: str
    name: str
    path: str


@dataclass(frozen=True)
class Condition:
    """One model under one temperature and thinking budget, over the whole set."""

    model: ModelInfo
    temperature: float
    think_budget: int | None
    questions: tuple[QuestionFigures, ...]
    figures: SetFigures
    collapse: CollapseVerdict
    samples: dict[str, list[AuditSample]]  # question id -> its samples by index
    greedy: dict[str, AuditSample]  # question id -> the greedy baseline, where run

    @property
    def label(self) -> str:
        budget = "unlimited" if self.think_budget is None else str(self.think_budget)
        return f"{self.model.name}, T {self.temperature:g}, thinking budget {budget}"


@dataclass(frozen=True)
class AuditResults:
    """Every condition, the sweeps' collapse checks and, when given, the claim card."""

    conditions: tuple[Condition, ...]
    sweeps: dict[tuple[str, int | None], CollapseVerdict | None]  # (model key, budget)
    claim: Claim | None
    claim_cards: dict[str, list[str]]  # condition label -> the card's lines
    samples_per_question: int
    seed: int

    def for_model(self, key: str) -> list[Condition]:
        return [c for c in self.conditions if c.model.key == key]


def summarise(
    config: AuditConfig,
    store: SampleStore,
    models: list[ModelInfo],
    claim: Claim | None = None,
) -> AuditResults:
    conditions = [
        _condition(config, store, model, temperature, budget)
        for model in models
        for budget, temperature in config.conditions()
    ]
    sweeps = {
        (m.key, b): temperature_collapse(
            [
                (c.temperature, c.figures)
                for c in conditions
                if c.model.key == m.key and c.think_budget == b
            ]
        )
        for m in models
        for b in config.think_budgets
    }
    cards = {}
    if claim is not None:
        for c in conditions:
            cards[c.label] = claim_lines(
                claim,
                c.figures,
                condition=c.label,
                samples=config.samples,
                unanimous_bound=max(
                    (q.other_answer_bound for q in c.questions if q.other_answer_bound),
                    default=None,
                ),
                entropy_zero=(
                    sum(1 for q in c.questions if q.n and q.stats.entropy_bits == 0.0),
                    sum(1 for q in c.questions if q.n),
                ),
                collapse=_combined(c.collapse, sweeps.get((c.model.key, c.think_budget))),
            )
    return AuditResults(tuple(conditions), sweeps, claim, cards, config.samples, store.seed)


def _combined(trace: CollapseVerdict, sweep: CollapseVerdict | None) -> CollapseVerdict:
    if sweep is None:
        return trace
    if sweep.flagged and not trace.flagged:
        return CollapseVerdict(
            True,
            (*trace.reasons, "agreement stays at 100% as T rises: " + ", ".join(sweep.reasons)),
        )
    return trace


@dataclass(frozen=True)
class QuestionResult:
    """One question under one condition: its figures, its samples and greedy baseline."""

    question: AuditQuestion
    key: RunKey
    figures: QuestionFigures
    samples: tuple[AuditSample, ...]  # by sample index, those saved
    greedy: AuditSample | None


def question_result(
    config: AuditConfig, store: SampleStore, key: RunKey, question: AuditQuestion
) -> QuestionResult:
    """The figures of one question's saved samples under one condition: what the report
    shows for it, and what a live view shows the moment the condition is done."""
    saved = store.samples(key)
    mine = tuple(saved[i] for i in range(config.samples) if i in saved)
    baseline_key = RunKey(key.question, key.model, 0.0, key.think_budget, key.seed)
    baseline = store.samples(baseline_key).get(GREEDY)
    figures = question_figures(
        question.id,
        mine,
        reference=question.answer,
        greedy=baseline,
        deterministic=key.temperature <= 0.0,
    )
    return QuestionResult(question, key, figures, mine, baseline)


def _condition(
    config: AuditConfig,
    store: SampleStore,
    model: ModelInfo,
    temperature: float,
    budget: int | None,
) -> Condition:
    figures, samples, greedy = [], {}, {}
    for q in config.questions.questions:
        key = RunKey(q.id, model.key, temperature, budget, condition_seed(store.seed, q.id))
        result = question_result(config, store, key, q)
        samples[q.id] = list(result.samples)
        if result.greedy is not None:
            greedy[q.id] = result.greedy
        figures.append(result.figures)
    totals = set_figures(figures)
    return Condition(
        model,
        temperature,
        budget,
        tuple(figures),
        totals,
        trace_collapse(totals, deterministic=temperature <= 0.0),
        samples,
        greedy,
    )
