"""The exportable record of one consensus run: every sample, parameter and fact needed to
check or reproduce it.

`build_report` turns a finished ConsensusReport into a plain JSON-ready dict (the "report
data"); the Markdown summary (app.core.consensus.markdown), the history record
(app.core.consensus.record) and the GUI's consensus view all read that dict, so the CLI's
consensus figures (app.core.consensus.summary.consensus_json), the exported files and a run
reopened from history say the same thing.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.consensus.environment import hardware_summary, software_summary
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.runner import MAX_SAMPLES, ConsensusReport
from app.core.consensus.stats import ConsensusStats
from app.core.consensus.summary import consensus_json
from app.core.history.records import RunStatus, SampleRecord
from app.core.inference.engine import GenerationResult
from app.core.inference.requests import name_from_file
from app.core.inference.sampling import RuntimeParams
from app.core.models.gguf import GGUFInfo
from app.core.models.hashes import ModelHashError, cached_sha256, file_sha256

FORMAT = "quorum.consensus"
FORMAT_VERSION = 1


def run_status(report: ConsensusReport) -> str:
    """The history status of a finished run: error, cancelled or done."""
    if report.error:
        return RunStatus.ERROR
    return RunStatus.CANCELLED if report.cancelled else RunStatus.DONE


def build_report(
    report: ConsensusReport,
    *,
    question: str,
    model_path: str | Path,
    model_info: GGUFInfo | None,
    runtime: RuntimeParams | None,
    early_stop: str = "off",
    model_sha256: str | None = None,
    hash_model: bool = True,
    created_at: float | None = None,
) -> dict[str, Any]:
    """The report data of a run. The model file is hashed unless model_sha256 is given or
    hash_model is False (then only a digest cached earlier is used): the first hash of a
    multi-GB file takes a while, so call this off the GUI thread."""
    when = time.time() - report.seconds if created_at is None else created_at
    finished = report.finished
    prompt_tokens = finished[0][1].prompt_tokens if finished else None
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": when,
        "created_at_utc": _utc(when),
        "question": question,
        "status": run_status(report),
        "error": report.error,
        "model": _model_dict(model_path, model_info, model_sha256, hash_model),
        "parameters": {
            "samples": len(report.samples),
            "sampling": report.sampling.to_dict(),
            "thinking": report.thinking,
            "early_stop": early_stop,
            "kv_unified": report.plan.kv_unified,
            "runtime": runtime.to_dict() if runtime is not None else None,
        },
        "plan": plan_dict(report.plan),
        "consensus": consensus_json(report),
        "timings": _timings(report, prompt_tokens),
        "software": software_summary(),
        "hardware": hardware_summary(),
        "samples": [sample_dict(i, r, report.groups.get(i)) for i, r in finished],
        "unfinished": [
            unfinished_dict(i, report.seeds[i]) for i, r in enumerate(report.samples) if r is None
        ],
    }


# A sample's "index" counts from 0: the seeds, a resumed run and the groups' member lists
# know samples by it. "number" counts from 1, as the window and the Markdown number them.


def unfinished_dict(index: int, seed: int) -> dict[str, Any]:
    return {"index": index, "number": index + 1, "seed": seed}


def sample_dict(index: int, result: GenerationResult, group: str | None) -> dict[str, Any]:
    extracted = result.extracted
    return {
        "index": index,
        "number": index + 1,
        "seed": result.seed,
        "group": group,
        "finish_reason": result.finish_reason,
        "tokens": result.completion_tokens,
        "prompt_tokens": result.prompt_tokens,
        "seconds": result.seconds,
        "time_to_first_token": result.time_to_first_token,
        "extracted": None
        if extracted is None
        else {"text": extracted.text, "rule": extracted.rule, "span": list(extracted.span)},
        "answer": result.answer,
        "trace": result.trace,
        "error": result.error,
    }


def sample_record(
    index: int, result: GenerationResult, group: str | None, samples: int = MAX_SAMPLES
) -> SampleRecord:
    """One finished sample as the history (and the consensus view) keeps it; its token
    figures within a run of ``samples``'s budget (default: the largest run's share)."""
    extracted = result.extracted
    stats = result.token_stats
    return SampleRecord(
        index=index, seed=result.seed, trace=result.trace, answer=result.answer,
        extracted=extracted.text if extracted else None,
        extracted_rule=extracted.rule if extracted else None,
        tokens=result.completion_tokens, seconds=result.seconds,
        finish_reason=result.finish_reason, group=group,
        token_stats=stats.to_blob(samples) if stats is not None else None,
    )  # fmt: skip


def sample_records(data: dict[str, Any]) -> list[SampleRecord]:
    """The report data's samples as history SampleRecords, in index order."""
    records = []
    for sample in data.get("samples", []):
        extracted = sample.get("extracted") or {}
        records.append(
            SampleRecord(
                index=sample["index"], seed=sample["seed"], trace=sample["trace"],
                answer=sample["answer"], extracted=extracted.get("text"),
                extracted_rule=extracted.get("rule"), tokens=sample["tokens"],
                seconds=sample["seconds"], finish_reason=sample["finish_reason"],
                group=sample.get("group"),
            )
        )  # fmt: skip
    return sorted(records, key=lambda s: s.index)


def plan_dict(plan: ConsensusPlan) -> dict[str, Any]:
    return {
        "samples": plan.samples,
        "parallel": plan.parallel,
        "tokens_per_sample": plan.tokens_per_sample,
        "n_ctx": plan.n_ctx,
        "kv_bytes": plan.kv_bytes,
        "kv_unified": plan.kv_unified,
        "limited_by": plan.limited_by,
        "logits_bytes": plan.logits_bytes,
        "waves": plan.waves,
        "description": plan.describe(),
    }


def plan_from_dict(data: dict[str, Any]) -> ConsensusPlan:
    try:
        return ConsensusPlan(
            samples=int(data["samples"]), parallel=int(data["parallel"]),
            tokens_per_sample=int(data["tokens_per_sample"]), n_ctx=int(data["n_ctx"]),
            kv_bytes=int(data["kv_bytes"]), kv_unified=bool(data["kv_unified"]),
            limited_by=data.get("limited_by"),
            logits_bytes=int(data.get("logits_bytes", 0)),  # absent before it was planned
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the saved memory plan is incomplete or damaged ({exc})") from exc


def stats_from_dict(consensus: dict[str, Any]) -> ConsensusStats:
    """ConsensusStats back from its consensus_json form (as exported or saved in history)."""
    try:
        groups = [
            (str(g["answer"]), int(g["count"]), [int(m) for m in g["samples"]])
            for g in consensus["groups"]
        ]
        low, high = consensus["agreement_ci95"]
        return ConsensusStats(
            n=int(consensus["n"]),
            majority=consensus["majority"],
            majority_count=groups[0][1] if groups else 0,  # groups are ranked, leader first
            majority_is_no_answer=bool(consensus["majority_is_no_answer"]),
            agreement=float(consensus["agreement"]),
            agreement_ci95=(float(low), float(high)),
            entropy_bits=float(consensus["entropy_bits"]),
            entropy_bits_mm=float(consensus["entropy_bits_mm"]),
            distinct=int(consensus["distinct"]),
            no_answer=int(consensus["no_answer"]),
            groups=groups,
            deterministic=bool(consensus["deterministic"]),
            note=consensus.get("note"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the saved consensus figures are incomplete or damaged ({exc})") from exc


def _model_dict(
    path: str | Path, info: GGUFInfo | None, sha256: str | None, hash_model: bool
) -> dict[str, Any]:
    file = Path(path)
    if sha256 is None:
        try:
            sha256 = file_sha256(file) if hash_model else cached_sha256(file)
        except ModelHashError:
            sha256 = None  # the file moved or vanished since the run; say nothing false
    return {
        # The name single runs are recorded under too (ModelDescription.display_name).
        "name": name_from_file(file) or (info.name if info else None) or file.stem,
        "path": str(file),
        "file_name": file.name,
        "sha256": sha256,
        "size_bytes": info.file_size if info else _size(file),
        "architecture": info.architecture if info else None,
        "file_type": info.file_type if info else None,
        "parameter_count": info.parameter_count if info else None,
        "context_length": info.context_length if info else None,
    }


def _timings(report: ConsensusReport, prompt_tokens: int | None) -> dict[str, Any]:
    finished = [r for _, r in report.finished]
    return {
        "seconds": report.seconds,
        "tokens": report.tokens,
        "tokens_per_second": report.tokens / report.seconds if report.seconds > 0 else 0.0,
        "prompt_tokens": prompt_tokens,
        "sample_seconds_mean": statistics.fmean(r.seconds for r in finished) if finished else None,
        "sample_tokens_mean": (
            statistics.fmean(r.completion_tokens for r in finished) if finished else None
        ),
    }


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
