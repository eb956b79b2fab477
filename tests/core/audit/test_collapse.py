"""The collapse check on a simulated collapsed model and a simulated healthy one."""

from __future__ import annotations

from app.core.audit.aggregate import set_figures
from app.core.audit.collapse import FLAG, temperature_collapse, trace_collapse
from app.core.audit.diversity import diversity, edit_distance
from app.core.audit.measures import question_figures
from tests.core.audit.simulated import HEALTHY_TRACES, simulated_samples


def _dp(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def test_edit_distance_matches_the_textbook_table() -> None:
    import random

    rng = random.Random(3)
    for _ in range(400):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 70))]
        assert edit_distance(a, b) == _dp(a, b)
    assert edit_distance(["kitten"], ["sitting"]) == 1  # one word each
    assert edit_distance(list("kitten"), list("sitting")) == 3


def test_diversity_of_identical_and_different_texts() -> None:
    same = diversity(["the answer is forty two because six sevens"] * 8)
    assert same.mean_edit_distance == 0.0 and same.identical_pairs == same.pairs == 28
    assert same.distinct_ngram_ratio == 1 / 8  # 6 distinct 3-grams, 48 in all
    different = diversity(HEALTHY_TRACES)
    assert different.identical_pairs == 0
    assert (different.mean_edit_distance or 0) > 0.7
    assert (different.distinct_ngram_ratio or 0) > 0.9


def test_simulated_collapsed_model_is_flagged_with_its_numbers() -> None:
    trace = "Six times seven is forty two so the answer is 42."
    figures = set_figures(
        [
            question_figures(f"q{i}", simulated_samples(["42"] * 8, [trace] * 8), reference="42")
            for i in range(5)
        ]
    )
    verdict = trace_collapse(figures, deterministic=False)
    assert verdict.flagged
    text = verdict.text()
    assert text.startswith(FLAG.capitalize())
    assert "mean agreement 100% over 5 questions" in text
    assert "140 of 140 pairs of texts identical" in text and "edit distance 0.000" in text


def test_simulated_healthy_model_is_not_flagged() -> None:
    answers = ["42"] * 6 + ["41", "48"]
    figures = set_figures(
        [
            question_figures(f"q{i}", simulated_samples(answers, HEALTHY_TRACES), reference="42")
            for i in range(5)
        ]
    )
    verdict = trace_collapse(figures, deterministic=False)
    assert not verdict.flagged and verdict.text().startswith("No sign of collapse")


def test_unanimous_but_varied_reasoning_is_not_flagged() -> None:
    # Everyone agrees, by different routes: that is a sure model, not a collapsed one.
    figures = set_figures(
        [question_figures("q", simulated_samples(["42"] * 8, HEALTHY_TRACES), reference="42")]
    )
    assert not trace_collapse(figures, deterministic=False).flagged


def test_temperature_zero_is_described_never_flagged() -> None:
    trace = "same every time"
    figures = set_figures(
        [question_figures("q", simulated_samples(["1"] * 4, [trace] * 4), reference="1")]
    )
    verdict = trace_collapse(figures, deterministic=True)
    assert not verdict.flagged and "by construction" in verdict.text()


def test_agreement_that_never_moves_with_temperature_is_flagged() -> None:
    unanimous = set_figures(
        [question_figures("q", simulated_samples(["1"] * 4, HEALTHY_TRACES[:4]), reference="1")]
    )
    mixed = set_figures(
        [question_figures("q", simulated_samples(["1", "2", "1", "3"]), reference="1")]
    )
    flagged = temperature_collapse([(0.3, unanimous), (1.0, unanimous)])
    assert flagged is not None and flagged.flagged
    assert "T 1: 1 of 1 questions unanimous" in flagged.text()
    moved = temperature_collapse([(0.3, unanimous), (1.0, mixed)])
    assert moved is not None and not moved.flagged
    assert temperature_collapse([(0.3, unanimous)]) is None, "one temperature shows no trend"
    assert temperature_collapse([(0.1, unanimous), (0.2, unanimous)]) is None, "never warm"
