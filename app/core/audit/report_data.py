"""An audit as plain JSON-ready data: every condition's figures, every question's figures
and every sample with its seed, the settings and the run environment.

The Markdown summary and the HTML report read this dict, so the three say the same thing.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from app.core.audit.aggregate import SetFigures, Share
from app.core.audit.job import AuditConfig, condition_seed
from app.core.audit.measures import QuestionFigures
from app.core.audit.results import AuditResults, Condition
from app.core.consensus.environment import hardware_summary, software_summary

FORMAT = "quorum.audit"
FORMAT_VERSION = 1


def share_dict(share: Share) -> dict[str, Any]:
    return {"k": share.k, "n": share.n, "value": share.value, "ci95": list(share.ci95)}


def audit_report(
    config: AuditConfig,
    results: AuditResults,
    *,
    seconds: float | None = None,
    tokens: int | None = None,
    environment: bool = True,
) -> dict[str, Any]:
    """The report data. environment=False leaves out the machine probes (tests of layout)."""
    now = time.time()
    questions = {q.id: q for q in config.questions.questions}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at_utc": datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="seconds"),
        "question_set": {
            "name": config.questions.name,
            "sha256": config.questions.sha256,
            "questions": len(config.questions.questions),
            "with_reference": sum(1 for q in config.questions.questions if q.answer is not None),
        },
        "settings": {
            "samples": config.samples,
            "temperatures": list(config.temperatures),
            "think_budgets": list(config.think_budgets),
            "max_tokens": config.max_tokens,
            "thinking": config.thinking,
            "greedy_baseline": config.greedy,
            "seed": results.seed,
            "seed_rule": _seed_rule(config),
        },
        "models": _models(results),
        "claim": _claim(results),
        "sweeps": [
            {"model": model, "think_budget": budget, "flagged": v.flagged, "text": v.text()}
            for (model, budget), v in results.sweeps.items()
            if v is not None
        ],
        "conditions": [_condition(c, questions, results.seed) for c in results.conditions],
        # A resumed audit decodes only what was missing: these count this run alone.
        "timings": {"this_run_seconds": seconds, "this_run_completion_tokens": tokens},
        "software": software_summary() if environment else None,
        "hardware": hardware_summary() if environment else None,
        # The engine that decoded: a server (its identity, never its key), or None: here.
        "server": config.server,
    }


def _seed_rule(config: AuditConfig) -> str:
    rule = (
        "question seed = first 4 bytes of sha256('<seed>|<question id>') mod 2^31; "
        "sample i uses app.core.consensus.batch.sample_seeds(question seed, N)[i]"
    )
    server = config.server
    if server is not None and server.get("consensus_path") == "llama-server n_cmpl":
        # ServerSampler.sample_seeds: completion i of an n_cmpl request samples with seed + i.
        rule = rule.replace(
            "app.core.consensus.batch.sample_seeds(question seed, N)[i]",
            "(question seed + i) mod 2^32 (llama-server's n_cmpl rule)",
        )
    return rule


def _models(results: AuditResults) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for c in results.conditions:
        seen.setdefault(c.model.key, asdict(c.model))
    return list(seen.values())


def _claim(results: AuditResults) -> dict[str, Any] | None:
    if results.claim is None:
        return None
    return {"parsed": asdict(results.claim), "cards": results.claim_cards}


def figures_dict(f: SetFigures) -> dict[str, Any]:
    return {
        "questions": f.questions,
        "samples_per_question": list(f.samples_per_question),
        "mean_agreement": f.mean_agreement,
        "mean_agreement_ci95": list(f.mean_agreement_ci95) if f.mean_agreement_ci95 else None,
        "mean_agreement_interval": "percentile bootstrap over questions, 2,000 resamples",
        "unanimous": share_dict(f.unanimous),
        "all_no_answer": f.all_no_answer,
        "majority_accuracy": share_dict(f.majority_accuracy),
        "single_sample_accuracy": f.single_sample_accuracy,
        "first_sample_accuracy": share_dict(f.first_sample_accuracy),
        "greedy_accuracy": share_dict(f.greedy_accuracy),
        "calibration": [
            {
                "low": b.low,
                "high": b.high,
                "questions": b.questions,
                "mean_agreement": b.mean_agreement,
                "majority_accuracy": share_dict(b.majority_correct),
            }
            for b in f.calibration
        ],
        "calibration_error": f.calibration_error,
        "mean_entropy_bits": f.mean_entropy_bits,
        "max_entropy_bits": f.max_entropy_bits,
        "mean_edit_distance": f.mean_edit_distance,
        "mean_distinct_ngram_ratio": f.mean_distinct_ngram_ratio,
        "identical_trace_pairs": share_dict(f.identical_trace_pairs),
        "trace_cuts": f.trace_cuts,
    }


def _condition(c: Condition, questions: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        "label": c.label,
        "model": c.model.key,
        "temperature": c.temperature,
        "think_budget": c.think_budget,
        "figures": figures_dict(c.figures),
        "collapse": {"flagged": c.collapse.flagged, "text": c.collapse.text()},
        "questions": [
            _question(q, questions[q.question_id].question, c, condition_seed(seed, q.question_id))
            for q in c.questions
        ],
    }


def _question(q: QuestionFigures, text: str, c: Condition, seed: int) -> dict[str, Any]:
    s = q.stats
    greedy = c.greedy.get(q.question_id)
    return {
        "id": q.question_id,
        "question": text,
        "reference": q.reference,
        "seed": seed,
        "n": s.n,
        "majority": s.majority,
        "majority_is_no_answer": s.majority_is_no_answer,
        "majority_correct": q.majority_correct,
        "agreement": s.agreement,
        "agreement_ci95": list(s.agreement_ci95),
        "other_answer_bound": q.other_answer_bound,
        "entropy_bits": s.entropy_bits,
        "entropy_bits_mm": s.entropy_bits_mm,
        "distinct": s.distinct,
        "no_answer": s.no_answer,
        "correct_samples": q.correct_samples,
        "groups": [{"answer": a, "count": k, "samples": m} for a, k, m in s.groups],
        "greedy": greedy.to_dict() if greedy else None,
        "greedy_correct": q.greedy_correct,
        "diversity": asdict(q.diversity),
        "trace_cuts": q.trace_cuts,
        "samples": [sample.to_dict() for sample in c.samples.get(q.question_id, [])],
    }
