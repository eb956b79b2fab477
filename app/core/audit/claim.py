"""A claim card: read a claim like "100% self-consistency at 512 samples, 0 bits" and set
what the audit measured beside each part of it, with intervals and n.

Only what the claim states is checked: an agreement share, a sample count, an entropy in
bits, a temperature. A claim with none of these is refused with an example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.audit.aggregate import SetFigures
from app.core.audit.collapse import CollapseVerdict
from app.core.consensus.figure_lines import format_bound, format_share
from app.core.consensus.stats import wilson_interval

EXAMPLE = '"100% self-consistency at 512 samples, 0 bits"'
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_SAMPLES = re.compile(r"(\d[\d,]*)\s*(?:samples?|draws?|runs?)\b", re.IGNORECASE)
_BITS = re.compile(r"(\d+(?:\.\d+)?)\s*bits?\b", re.IGNORECASE)
_TEMPERATURE = re.compile(r"\b(?:T|temp(?:erature)?)\s*[=:]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


class ClaimError(ValueError):
    """The claim text says nothing the audit can measure; the message is for a user."""


@dataclass(frozen=True)
class Claim:
    """The measurable parts of a claim (None: the claim does not say)."""

    text: str
    agreement: float | None  # a share in [0, 1]
    samples: int | None
    entropy_bits: float | None
    temperature: float | None


def parse_claim(text: str) -> Claim:
    text = " ".join(text.split())
    percent = _PERCENT.search(text)
    samples = _SAMPLES.search(text)
    bits = _BITS.search(text)
    temperature = _TEMPERATURE.search(text)
    if not (percent or samples or bits):
        raise ClaimError(
            f"could not find an agreement share, a sample count or bits in the claim; "
            f"write it like {EXAMPLE}"
        )
    agreement = float(percent.group(1)) / 100 if percent else None
    if agreement is not None and agreement > 1:
        raise ClaimError(f"a share above 100% cannot be measured: {percent.group(0)!r}")  # type: ignore[union-attr]
    return Claim(
        text=text,
        agreement=agreement,
        samples=int(samples.group(1).replace(",", "")) if samples else None,
        entropy_bits=float(bits.group(1)) if bits else None,
        temperature=float(temperature.group(1)) if temperature else None,
    )


def _share_ci(k: int, n: int) -> str:
    low, high = wilson_interval(k, n)
    return f"{format_share(k / n)} [{format_share(low)}–{format_share(high)}]" if n else "n/a"


def claim_lines(
    claim: Claim,
    figures: SetFigures,
    *,
    condition: str,
    samples: int,
    unanimous_bound: float | None,
    entropy_zero: tuple[int, int],
    collapse: CollapseVerdict,
) -> list[str]:
    """What was measured under one condition, against each part of the claim.

    unanimous_bound: the largest "any other answer" bound among the unanimous questions
    (they all have n samples, so it is one number); entropy_zero: (questions at 0.00 bits
    plug-in, questions counted).
    """
    q = figures.questions
    lines = [f"Claim: {claim.text}", f"Measured: {condition}, {samples} samples per question."]
    u = figures.unanimous
    unanimous = f"{samples}/{samples} on {u.k} of {u.n} questions ({_share_ci(u.k, u.n)})"
    if u.k and unanimous_bound is not None:
        unanimous += (
            f"; on those, any other answer has at most {format_bound(unanimous_bound)} "
            "probability (95%)"
        )
    if figures.all_no_answer:
        unanimous += (
            f"; {figures.all_no_answer} more had no sample with an answer (agreement 100% "
            "on no answer, which is no self-consistency)"
        )
    lines.append(unanimous + ".")
    if claim.samples is not None and claim.samples != samples:
        claimed_bound = 1 - wilson_interval(claim.samples, claim.samples)[0]
        lines.append(
            f"The claim is about {claim.samples} samples; this audit drew {samples} per "
            f"question (n of n at {claim.samples} would bound any other answer at "
            f"{format_bound(claimed_bound)}; here it is at most "
            f"{format_bound(1 - wilson_interval(samples, samples)[0])})."
        )
    if claim.agreement is not None and figures.mean_agreement is not None:
        ci = figures.mean_agreement_ci95 or (0.0, 1.0)
        lines.append(
            f"Mean agreement {format_share(figures.mean_agreement)} "
            f"[{format_share(ci[0])}–{format_share(ci[1])}, bootstrap over {q} questions] "
            f"against a claimed {format_share(claim.agreement)}: "
            + _verdict(claim.agreement, figures, ci)
        )
    if claim.entropy_bits is not None and figures.mean_entropy_bits is not None:
        zero, counted = entropy_zero
        lines.append(
            f"Entropy: mean {figures.mean_entropy_bits:.2f} bits, largest "
            f"{figures.max_entropy_bits or 0.0:.2f} bits (plug-in) against a claimed "
            f"{claim.entropy_bits:g} bits; 0.00 bits on {zero} of {counted} questions. "
            "0.00 bits is the plug-in value over the samples drawn, not a bound."
        )
    if claim.temperature is not None:
        lines.append(f"The claim names temperature {claim.temperature:g}; compare the condition.")
    acc = figures.majority_accuracy
    if acc.n:
        lines.append(
            f"Majority accuracy {_share_ci(acc.k, acc.n)} of {acc.n} questions with a "
            f"reference; a single sample is right "
            f"{format_share(figures.single_sample_accuracy or 0.0)} of the time."
        )
    lines.append(collapse.text() + ".")
    return lines


def _verdict(claimed: float, figures: SetFigures, ci: tuple[float, float]) -> str:
    u = figures.unanimous
    if claimed == 1.0:
        if u.k == u.n:
            return "every question was unanimous, consistent with the claim at this n."
        return f"not met: {u.n - u.k} of {u.n} questions were not unanimous on one answer."
    if claimed > ci[1]:
        return "the claim is above the interval."
    if claimed < ci[0]:
        return "the claim is below the interval (the model agreed more)."
    return "the claim is inside the interval."
