"""The figures of a whole set under one condition (model, temperature, thinking budget).

Every share names its n and carries an interval:

* mean agreement over the questions, with a percentile bootstrap interval over questions
  (2,000 resamples, fixed seed, so a report is reproducible);
* majority-vote accuracy and the share of questions at 100% agreement: Wilson intervals
  over the questions;
* single-sample accuracy: the point estimate is the mean over questions of the share of
  samples that were right; its Wilson interval is over sample 0 of each question (one
  exchangeable draw per question, so the questions are independent trials);
* calibration: questions binned by agreement (a reliability diagram), each bin's majority
  accuracy with its Wilson interval, and the expected calibration error
  sum_b (n_b / n) |accuracy_b - mean agreement_b|.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.audit.measures import QuestionFigures
from app.core.consensus.stats import wilson_interval

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 14
# Reliability bins: [0, .2), [.2, .4), [.4, .6), [.6, .8), [.8, 1), and exactly 1, which is
# where a "100% self-consistency" claim lives.
BIN_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Share:
    """k of n, with its Wilson 95% interval."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.k, self.n)


@dataclass(frozen=True)
class CalibrationBin:
    """The questions whose agreement falls in [low, high) (or is exactly 1 when low == 1)."""

    low: float
    high: float
    questions: int
    mean_agreement: float | None
    majority_correct: Share


@dataclass(frozen=True)
class SetFigures:
    """A condition's figures over the set (see the module notes for each interval)."""

    questions: int
    samples_per_question: tuple[int, int]  # fewest and most samples counted
    mean_agreement: float | None
    mean_agreement_ci95: tuple[float, float] | None
    unanimous: Share  # questions with every sample in one real answer
    all_no_answer: int  # questions where no sample gave an answer at all
    majority_accuracy: Share  # over questions with a reference
    single_sample_accuracy: float | None  # mean over questions of the share right
    first_sample_accuracy: Share  # sample 0 of each question with a reference
    greedy_accuracy: Share  # the temperature 0 baseline, questions with a reference
    calibration: tuple[CalibrationBin, ...]
    calibration_error: float | None
    mean_entropy_bits: float | None
    max_entropy_bits: float | None
    mean_edit_distance: float | None  # over questions that had two texts or more
    mean_distinct_ngram_ratio: float | None
    identical_trace_pairs: Share  # pairs of texts, pooled over the questions
    trace_cuts: int


def bootstrap_mean_ci(values: Sequence[float]) -> tuple[float, float] | None:
    if not values:
        return None
    rng = random.Random(BOOTSTRAP_SEED)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(BOOTSTRAP_RESAMPLES))
    return means[int(0.025 * BOOTSTRAP_RESAMPLES)], means[int(0.975 * BOOTSTRAP_RESAMPLES) - 1]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def calibration_bins(figures: Sequence[QuestionFigures]) -> tuple[CalibrationBin, ...]:
    graded = [f for f in figures if f.majority_correct is not None and f.n > 0]
    bins = []
    edges = [*itertools.pairwise(BIN_EDGES), (1.0, 1.0)]
    for low, high in edges:
        inside = [
            f
            for f in graded
            if (f.stats.agreement == 1.0 if low == 1.0 else low <= f.stats.agreement < high)
        ]
        bins.append(
            CalibrationBin(
                low,
                high,
                len(inside),
                _mean([f.stats.agreement for f in inside]),
                Share(sum(1 for f in inside if f.majority_correct), len(inside)),
            )
        )
    return tuple(bins)


def calibration_error(bins: Sequence[CalibrationBin]) -> float | None:
    total = sum(b.questions for b in bins)
    if not total:
        return None
    return sum(
        b.questions / total * abs((b.majority_correct.value or 0.0) - (b.mean_agreement or 0.0))
        for b in bins
        if b.questions
    )


def set_figures(figures: Sequence[QuestionFigures]) -> SetFigures:
    counted = [f for f in figures if f.n > 0]
    agreements = [f.stats.agreement for f in counted]
    graded = [f for f in counted if f.reference is not None]
    bins = calibration_bins(counted)
    with_pairs = [f for f in counted if f.diversity.pairs]
    return SetFigures(
        questions=len(counted),
        samples_per_question=(
            (min(f.n for f in counted), max(f.n for f in counted)) if counted else (0, 0)
        ),
        mean_agreement=_mean(agreements),
        mean_agreement_ci95=bootstrap_mean_ci(agreements),
        unanimous=Share(sum(1 for f in counted if f.unanimous), len(counted)),
        all_no_answer=sum(1 for f in counted if f.stats.no_answer == f.n),
        majority_accuracy=Share(sum(1 for f in graded if f.majority_correct), len(graded)),
        single_sample_accuracy=_mean([(f.correct_samples or 0) / f.n for f in graded]),
        first_sample_accuracy=Share(
            sum(1 for f in graded if f.first_sample_correct),
            sum(1 for f in graded if f.first_sample_correct is not None),
        ),
        greedy_accuracy=Share(
            sum(1 for f in graded if f.greedy_correct),
            sum(1 for f in graded if f.greedy_correct is not None),
        ),
        calibration=bins,
        calibration_error=calibration_error(bins),
        mean_entropy_bits=_mean([f.stats.entropy_bits for f in counted]),
        max_entropy_bits=max((f.stats.entropy_bits for f in counted), default=None),
        mean_edit_distance=_mean([f.diversity.mean_edit_distance or 0.0 for f in with_pairs]),
        mean_distinct_ngram_ratio=_mean(
            [r for f in counted if (r := f.diversity.distinct_ngram_ratio) is not None]
        ),
        identical_trace_pairs=Share(
            sum(f.diversity.identical_pairs for f in with_pairs),
            sum(f.diversity.pairs for f in with_pairs),
        ),
        trace_cuts=sum(f.trace_cuts for f in counted),
    )
