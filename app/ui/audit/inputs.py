"""What the Audit window's form says, checked as `quorum audit` checks its options.

The form's texts ("0.6, 1.0", "0, 256, unlimited") become an AuditConfig here, or an
AuditInputError whose message is one sentence for the line under the form: a bad entry is
refused before any model loads, never with a traceback.

The samples file is named after the set and a digest of every setting that decides which
samples an audit draws, so an unfinished audit with the same settings in the same folder is
found again and offered for resuming, and a different one never mixes with it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from app.core.audit.claim import Claim, ClaimError, parse_claim
from app.core.audit.job import AuditConfig, model_key
from app.core.audit.questions import QuestionSetError, load_question_set
from app.core.consensus.runner import MAX_SAMPLES, MIN_SAMPLES

MAX_TEMPERATURE = 5.0
UNLIMITED = ("unlimited", "none", "inf", "∞")
_SEPARATORS = re.compile(r"[,;\s]+")


class AuditInputError(ValueError):
    """An entry of the form cannot be used; the message is one sentence for the user."""


def _items(text: str) -> list[str]:
    return [part for part in _SEPARATORS.split(text.strip()) if part]


def parse_temperatures(text: str) -> tuple[float, ...]:
    """ "0.6" or "0.3, 0.6, 1.0": each in [0, 5], none twice."""
    items = _items(text)
    if not items:
        raise AuditInputError("Give at least one temperature, for example 0.6.")
    values = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise AuditInputError(
                f"{item!r} is not a temperature (a number from 0 to 5)."
            ) from None
        if not math.isfinite(value) or not 0 <= value <= MAX_TEMPERATURE:
            raise AuditInputError(f"A temperature is between 0 and 5, not {item}.")
        values.append(value)
    if len(set(values)) != len(values):
        raise AuditInputError("The temperatures list one temperature twice.")
    return tuple(values)


def parse_budgets(text: str) -> tuple[int | None, ...]:
    """ "unlimited" (also an empty box) or "0, 256, 1024, unlimited": tokens of thinking."""
    items = _items(text) or ["unlimited"]
    values: list[int | None] = []
    for item in items:
        if item.lower() in UNLIMITED:
            values.append(None)
            continue
        try:
            value = int(item)
        except ValueError:
            raise AuditInputError(
                f"{item!r} is not a thinking budget: give tokens (0 means no thinking) "
                "or 'unlimited'."
            ) from None
        if value < 0:
            raise AuditInputError("A thinking budget is 0 or more tokens.")
        values.append(value)
    if len(set(values)) != len(values):
        raise AuditInputError("The thinking budgets list one budget twice.")
    return tuple(values)


@dataclass(frozen=True)
class AuditInputs:
    """The form's raw entries (what a test or the window fills in)."""

    question_set: str | Path  # a bundled set's name or a file
    models: tuple[Path, ...]
    samples: int = 8
    temperatures: str = "0.6"
    think_budgets: str = "unlimited"
    max_tokens: int = 512
    claim: str = ""
    greedy: bool = True
    thinking: bool = True


@dataclass(frozen=True)
class AuditPlan:
    """A checked audit: its config, the parsed claim (if any) and its samples file."""

    config: AuditConfig
    claim: Claim | None
    samples_file: Path


def check_inputs(inputs: AuditInputs, folder: Path) -> AuditPlan:
    """The audit the form describes, or AuditInputError saying what to change."""
    if not inputs.models:
        raise AuditInputError("Choose a model to audit: none is on disk yet (File → Get a model…).")
    missing = [p for p in inputs.models if not Path(p).is_file()]
    if missing:
        raise AuditInputError(f"The model file {missing[0]} is not there any more.")
    if len(set(inputs.models)) != len(inputs.models):
        raise AuditInputError("The two models are the same file: choose another to compare.")
    if not MIN_SAMPLES <= inputs.samples <= MAX_SAMPLES:
        raise AuditInputError(f"Samples per question go from {MIN_SAMPLES} to {MAX_SAMPLES}.")
    if inputs.max_tokens < 1:
        raise AuditInputError("Max tokens must be at least 1.")
    temperatures = parse_temperatures(inputs.temperatures)
    budgets = parse_budgets(inputs.think_budgets)
    try:
        questions = load_question_set(inputs.question_set)
    except QuestionSetError as exc:
        raise AuditInputError(f"Question set: {exc}.") from None
    try:
        claim = parse_claim(inputs.claim) if inputs.claim.strip() else None
    except ClaimError as exc:
        raise AuditInputError(f"Claim: {exc}.") from None
    config = AuditConfig(
        questions=questions,
        models=tuple(Path(p) for p in inputs.models),
        samples=inputs.samples,
        temperatures=temperatures,
        think_budgets=budgets,
        max_tokens=inputs.max_tokens,
        thinking=inputs.thinking,
        greedy=inputs.greedy,
    )
    return AuditPlan(config, claim, samples_file(folder, config))


def samples_file(folder: Path, config: AuditConfig) -> Path:
    """<folder>/<set name>-<settings digest>.audit-samples.jsonl"""
    settings = {
        "set": config.questions.sha256,
        "models": [model_key(p) for p in config.models],
        "samples": config.samples,
        "temperatures": list(config.temperatures),
        "think_budgets": list(config.think_budgets),
        "max_tokens": config.max_tokens,
        "thinking": config.thinking,
        "greedy": config.greedy,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(config.questions.name).stem).strip("-")
    return folder / f"{stem or 'audit'}-{digest}.audit-samples.jsonl"
