"""The consensus figures of a finished run as plain data: the shape the CLI prints with
``--json``, the report export embeds and the history database stores."""

from __future__ import annotations

from typing import Any

from app.core.answers.grouping import NO_ANSWER
from app.core.consensus.figure_lines import MIN_ANSWERED_FOR_AGREEMENT
from app.core.consensus.runner import ConsensusReport
from app.core.consensus.stats import ConsensusStats, wilson_interval


def answered_agreement(stats: ConsensusStats) -> dict[str, Any]:
    """The window's agreement figure: the leading *answer's* share of the samples that
    gave one (None below two answered). ``agreement`` beside it is the leading group's
    share of all n, the no-answer bucket included, as entropy counts it."""
    answered = stats.n - stats.no_answer
    top = next((count for label, count, _ in stats.groups if label != NO_ANSWER), 0)
    if answered < MIN_ANSWERED_FOR_AGREEMENT:
        return {"answered": answered, "answer_agreement": None, "answer_agreement_ci95": None}
    return {
        "answered": answered,
        "answer_agreement": top / answered,
        "answer_agreement_ci95": list(wilson_interval(top, answered)),
    }


def consensus_json(report: ConsensusReport) -> dict[str, Any]:
    stats = report.stats
    return {
        **answered_agreement(stats),
        "majority": stats.majority,
        "majority_is_no_answer": stats.majority_is_no_answer,
        "agreement": stats.agreement,
        "agreement_ci95": list(stats.agreement_ci95),
        "entropy_bits": stats.entropy_bits,
        "entropy_bits_mm": stats.entropy_bits_mm,
        "distinct": stats.distinct,
        "no_answer": stats.no_answer,
        "n": stats.n,
        "requested": len(report.samples),
        "groups": [
            {"answer": label, "count": count, "samples": members}
            for label, count, members in stats.groups
        ],
        "deterministic": stats.deterministic,
        "note": stats.note,
        "stopped_early": report.stopped_early,
        "early_stop_reason": report.early_stop_reason,
        "samples_saved": report.saved,
        "decided_on": report.decided_on,
        "seconds_saved_estimate": report.seconds_saved_estimate,
        "cancelled": report.cancelled,
        "resumed_samples": report.resumed,
        "seconds": round(report.seconds, 3),
        "tokens": report.tokens,
        "parallel": report.plan.parallel,
        "kv_cache_bytes": report.plan.kv_bytes,
    }
