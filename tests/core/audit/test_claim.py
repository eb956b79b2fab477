"""The claim card: reading a claim and setting the measured figures beside it."""

from __future__ import annotations

import pytest

from app.core.audit.aggregate import set_figures
from app.core.audit.claim import ClaimError, claim_lines, parse_claim
from app.core.audit.collapse import trace_collapse
from app.core.audit.measures import question_figures
from tests.core.audit.simulated import simulated_samples


def test_parse_the_claim_that_started_quorum() -> None:
    claim = parse_claim("100% self-consistency at 512 samples,  0.00 bits output entropy")
    assert claim.agreement == 1.0 and claim.samples == 512 and claim.entropy_bits == 0.0
    assert claim.temperature is None
    assert parse_claim("97.5% agreement, T=0.6").temperature == 0.6
    assert parse_claim("1,024 samples agree").samples == 1024


@pytest.mark.parametrize("text", ["it is very consistent", "", "150% agreement"])
def test_unreadable_claims_are_refused(text: str) -> None:
    with pytest.raises(ClaimError):
        parse_claim(text)


def test_card_states_the_measured_figures_with_intervals() -> None:
    trace = "the same words every single time"
    unanimous = [
        question_figures(f"u{i}", simulated_samples(["7"] * 16, [trace] * 16), reference="7")
        for i in range(3)
    ]
    split = question_figures(
        "s", simulated_samples(["7"] * 12 + ["8"] * 4, [trace] * 16), reference="8"
    )
    silent = question_figures("n", simulated_samples([None] * 16), reference="7")
    figures = set_figures([*unanimous, split, silent])
    lines = claim_lines(
        parse_claim("100% self-consistency at 512 samples, 0 bits"),
        figures,
        condition="model, T 0.6",
        samples=16,
        unanimous_bound=unanimous[0].other_answer_bound,
        entropy_zero=(3, 5),
        collapse=trace_collapse(figures, deterministic=False),
    )
    text = "\n".join(lines)
    assert "16/16 on 3 of 5 questions (60% [23.1%–88.2%])" in text
    assert "1 more had no sample with an answer" in text
    assert "any other answer has at most 19.4% probability (95%)" in text
    assert "n of n at 512 would bound any other answer at 0.75%" in text
    assert "not met: 2 of 5 questions were not unanimous on one answer" in text
    assert "0.00 bits on 3 of 5 questions" in text and "not a bound" in text
    assert "Majority accuracy 60% [23.1%–88.2%] of 5 questions" in text
    assert "Looks like mode collapse or greedy decoding" in text
