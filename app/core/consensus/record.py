"""A consensus run in the history: report data -> RunRecord -> the same report data.

The RunRecord keeps the columns every run has (question, model, flat parameters, one
SampleRecord per finished sample with its group label). `RunRecord.consensus` holds the
consensus figures in app.core.consensus.summary's form, plus whatever else the report data
has that the columns do not (memory plan, timings, environment, per-sample extras), so a
run reopened from history shows and exports exactly what the live run did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from app.core.answers.grouping import NO_ANSWER, AnswerGrouper
from app.core.consensus.figure_lines import format_share, live_basis, prefix_basis
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.report import (
    FORMAT,
    FORMAT_VERSION,
    plan_from_dict,
    run_status,
    sample_record,
    sample_records,
    stats_from_dict,
    unfinished_dict,
)
from app.core.consensus.runner import ConsensusReport
from app.core.consensus.stats import ConsensusStats, compute_stats
from app.core.consensus.summary import consensus_json
from app.core.history.records import RunRecord, RunStatus, SampleRecord
from app.core.inference.sampling import SamplingParams

# Keys of RunRecord.consensus beyond the consensus figures themselves.
_EXTRA_KEYS = ("report_version", "model", "plan", "timings", "software", "hardware",
               "sample_details", "unfinished")  # fmt: skip
# Report data "model" fields that have their own RunRecord columns.
_MODEL_COLUMNS = ("name", "path", "sha256")
# Runtime fields, saved flat under the names single runs use (see app.core.history.describe).
_RUNTIME_PARAMS = (("n_ctx", "n_ctx"), ("n_threads", "threads"), ("n_gpu_layers", "gpu_layers"),
                   ("n_batch", "n_batch"))  # fmt: skip
_SAMPLING_FIELDS = tuple(SamplingParams.__dataclass_fields__)
_SAMPLE_EXTRAS = ("prompt_tokens", "time_to_first_token", "error")
_MAJORITY_CHARS = 80  # an answer group's label is model text: a sentence, at times


def consensus_to_record(data: dict[str, Any], conversation_id: int | None = None) -> RunRecord:
    """A RunRecord ready for HistoryStore.finish_run (or begin_run)."""
    _check_format(data)
    model, parameters = data["model"], data["parameters"]
    params: dict[str, Any] = {**parameters["sampling"]}
    for key in ("thinking", "samples", "early_stop", "kv_unified"):
        params[key] = parameters[key]
    runtime = parameters.get("runtime")
    if runtime is not None:
        params.update({flat: runtime[name] for name, flat in _RUNTIME_PARAMS})
    consensus = {
        **data["consensus"],
        "report_version": data["format_version"],
        "model": {k: v for k, v in model.items() if k not in _MODEL_COLUMNS},
        "plan": data["plan"],
        "timings": data["timings"],
        "software": data["software"],
        "hardware": data["hardware"],
        "sample_details": [_sample_extras(s) for s in data["samples"]],
        "unfinished": data["unfinished"],
    }
    return RunRecord(
        id=None, conversation_id=conversation_id, turn=0, created_at=data["created_at"],
        question=data["question"], model_name=model["name"], model_path=model["path"],
        model_sha256=model["sha256"], params=params, samples=sample_records(data),
        consensus=consensus, status=data["status"], error=data["error"],
        seconds=data["timings"]["seconds"], time_to_first_token=None,
    )  # fmt: skip


def finished_record(
    begun: RunRecord, report: ConsensusReport, data: dict[str, Any] | None,
    unbuilt_error: str | None = None,
) -> RunRecord:  # fmt: skip
    """The record to store when a begun run ends: built from its report data, in the row
    begun when it started; without data (it could not be built), the samples and figures
    of the report itself, with unbuilt_error as the error if the run had none."""
    if data is not None:
        record = consensus_to_record(data, begun.conversation_id)
        record.id, record.turn = begun.id, begun.turn
        # The report data has no token figures: take each sample's from its result.
        for sample in record.samples:
            result = report.samples[sample.index] if sample.index < len(report.samples) else None
            if result is not None and result.token_stats is not None:
                sample.token_stats = result.token_stats.to_blob(len(report.samples))
        return record
    begun.status = run_status(report)
    begun.error = report.error or unbuilt_error
    n = len(report.samples)
    begun.samples = [sample_record(i, r, report.groups.get(i), n) for i, r in report.finished]
    begun.consensus = consensus_json(report)
    begun.seconds = report.seconds
    return begun


def is_consensus_run(record: RunRecord) -> bool:
    """Asked as consensus (its params name the samples: true from the moment it starts)
    or saved with consensus figures (a record from before the params said so)."""
    return bool(record.consensus) or "samples" in record.params


def has_consensus_report(record: RunRecord) -> bool:
    """Saved with the full report (plan, timings, environment), so the report data can be
    rebuilt from it (record_to_report_data) and exported. Implies is_consensus_run."""
    return isinstance(record.consensus, dict) and "report_version" in record.consensus


def record_to_report_data(record: RunRecord) -> dict[str, Any]:
    """The report data a consensus RunRecord was saved from. Raises ValueError for a run
    that is not a consensus run, or whose saved figures are damaged."""
    if not has_consensus_report(record):
        raise ValueError("this run is not a consensus run (it has no consensus report)")
    saved: dict[str, Any] = dict(record.consensus or {})
    try:
        version = saved["report_version"]
        if version > FORMAT_VERSION:
            raise ValueError(f"it was saved by a newer Quorum (report version {version})")
        details = {d["index"]: d for d in saved["sample_details"]}
        params = record.params
        runtime = None
        if all(flat in params for _, flat in _RUNTIME_PARAMS):
            runtime = {name: params[flat] for name, flat in _RUNTIME_PARAMS}
        model_columns = {"name": record.model_name, "path": record.model_path,
                         "sha256": record.model_sha256}  # fmt: skip
        return {
            "format": FORMAT,
            "format_version": version,
            "created_at": record.created_at,
            "created_at_utc": datetime.fromtimestamp(record.created_at, tz=UTC).isoformat(
                timespec="seconds"
            ),
            "question": record.question,
            "status": record.status,
            "error": record.error,
            "model": {**model_columns, **saved["model"]},
            "parameters": {
                "samples": params["samples"],
                "sampling": {k: params[k] for k in _SAMPLING_FIELDS},
                "thinking": params["thinking"],
                "early_stop": params["early_stop"],
                "kv_unified": params["kv_unified"],
                "runtime": runtime,
            },
            "plan": saved["plan"],
            "consensus": {k: v for k, v in saved.items() if k not in _EXTRA_KEYS},
            "timings": saved["timings"],
            "software": saved["software"],
            "hardware": saved["hardware"],
            "samples": [_sample_from_record(s, details[s.index]) for s in record.samples],
            # Saved before samples had a "number" too, or since.
            "unfinished": [unfinished_dict(u["index"], u["seed"]) for u in saved["unfinished"]],
        }
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"this run's saved consensus report is damaged ({exc!r})") from exc


@dataclass(frozen=True)
class ConsensusSnapshot:
    """A finished run, whatever it was read from, in the terms the consensus view shows."""

    stats: ConsensusStats
    samples: list[SampleRecord]  # finished samples, with their group labels
    total: int  # samples asked for
    plan: ConsensusPlan | None  # None for a history record saved without the full report
    outcome: str  # one sentence on how the run ended
    data: dict[str, Any] | None  # the report data, when known (what an export writes)
    basis: str = ""  # which samples the figures count, when not all of them


def snapshot_of(source: ConsensusReport | RunRecord | dict[str, Any]) -> ConsensusSnapshot:
    """Read a ConsensusReport, report data, or a consensus RunRecord. Raises ValueError
    (readable) for a single run or damaged data, TypeError for anything else."""
    if isinstance(source, ConsensusReport):
        samples = [sample_record(i, r, source.groups.get(i)) for i, r in source.finished]
        summary = consensus_json(source)
        outcome = outcome_text(summary, run_status(source), source.error)
        return ConsensusSnapshot(source.stats, samples, len(source.samples), source.plan,
                                 outcome, None, basis_of(summary))  # fmt: skip
    if isinstance(source, RunRecord):
        if has_consensus_report(source):
            return snapshot_of(record_to_report_data(source))
        if not source.consensus:
            if not isinstance(source.params.get("samples"), int):
                raise ValueError("this run is not a consensus run")
            return _unfinished_snapshot(source)
        # Saved with the consensus figures only: show the figures and samples it has.
        saved = source.consensus
        outcome = outcome_text(saved, source.status, source.error)
        total = int(saved.get("requested", len(source.samples)))
        return ConsensusSnapshot(stats_from_dict(saved), list(source.samples), total, None,
                                 outcome, None, basis_of(saved))  # fmt: skip
    if isinstance(source, dict):
        try:
            consensus = source["consensus"]
            return ConsensusSnapshot(
                stats=stats_from_dict(consensus),
                samples=sample_records(source),
                total=int(consensus["requested"]),
                plan=plan_from_dict(source["plan"]),
                outcome=outcome_text(consensus, source["status"], source.get("error")),
                data=source,
                basis=basis_of(consensus),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"this is not a complete consensus report ({exc!r})") from exc
    raise TypeError(f"cannot read a {type(source).__name__} as a consensus run")


def majority_text(consensus: dict[str, Any] | None) -> str:
    """The line over a consensus run's answer: majority, agreement and any note
    (temperature 0, ties), from its consensus_json figures; "" if they are unreadable."""
    try:
        stats = stats_from_dict(consensus or {})
    except ValueError:
        return ""
    if stats.n == 0:
        return "No sample finished."
    majority = " ".join((stats.majority or "no readable answer").split())
    if len(majority) > _MAJORITY_CHARS:
        majority = majority[: _MAJORITY_CHARS - 1] + "…"
    text = f"Majority: {majority} · agreement {format_share(stats.agreement)} "
    text += f"({stats.majority_count} of {stats.n})"
    return f"{text} · {stats.note}" if stats.note else text


def outcome_text(consensus: dict[str, Any], status: str, error: str | None) -> str:
    """One sentence on how the run ended, from its consensus_json figures."""
    n, requested = consensus.get("n", 0), consensus.get("requested", 0)
    if status == RunStatus.ERROR or error:
        return f"Stopped by an error after {n} of {requested} samples: {error or 'unknown'}"
    if status == RunStatus.CANCELLED or consensus.get("cancelled"):
        return f"Cancelled: {n} of {requested} samples finished and kept."
    if consensus.get("stopped_early"):
        reason = consensus.get("early_stop_reason")
        saved = consensus.get("samples_saved", 0)
        text = f"Stopped early after {n} of {requested} samples ({saved} saved)"
        return f"{text}: {reason}" if reason else f"{text}."
    seconds, tokens = consensus.get("seconds"), consensus.get("tokens")
    timing = f" in {seconds:.1f} s, {tokens:,} tokens" if seconds is not None and tokens else ""
    resumed = consensus.get("resumed_samples") or 0
    if resumed:
        timing += f" (resumed: {resumed} kept from the interrupted run, the rest run now)"
    return f"Finished: {n} of {requested} samples{timing}."


def _unfinished_snapshot(record: RunRecord) -> ConsensusSnapshot:
    """A consensus run that never reached its end (the process died, or it still runs in
    another Quorum): its figures, afresh, over the samples it saved as they finished."""
    grouper = AnswerGrouper()
    samples = sorted(record.samples, key=lambda s: s.index)
    labels = {}
    for sample in samples:
        group = grouper.add(sample.index, sample.extracted)
        labels[sample.index] = NO_ANSWER if group.is_no_answer else group.label
    params = record.params
    temperature = params.get("temperature")
    greedy = (isinstance(temperature, int | float) and temperature <= 0.0) or params.get(
        "top_k"
    ) == 1
    stats = compute_stats(grouper.groups, deterministic=greedy)
    total = int(params["samples"])
    done = len(samples)
    if record.status == RunStatus.RUNNING:
        outcome = f"Still running in another Quorum: {done} of {total} samples saved so far."
    else:
        outcome = (
            f"Interrupted: {done} of {total} samples were saved before Quorum stopped. "
            "Samples finish shortest first, so these figures lean towards short answers; "
            f"Resume runs the other {total - done} with the seeds they had from the start."
        )
    shown = [replace(s, group=labels[s.index]) for s in samples]
    return ConsensusSnapshot(stats, shown, total, None, outcome, None, live_basis(done, total))


def basis_of(consensus: dict[str, Any]) -> str:
    """Which samples a finished run's figures count (from its consensus_json figures)."""
    n, requested = int(consensus.get("n", 0)), int(consensus.get("requested", 0))
    decided_on = consensus.get("decided_on")
    if consensus.get("stopped_early") and isinstance(decided_on, int):
        finished = requested - int(consensus.get("samples_saved", 0))  # saved: never finished
        return prefix_basis(decided_on, max(finished, n))
    return live_basis(n, requested)


def _check_format(data: dict[str, Any]) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a Quorum consensus report")


def _sample_extras(sample: dict[str, Any]) -> dict[str, Any]:
    extracted = sample.get("extracted")
    return {
        "index": sample["index"],
        "span": extracted["span"] if extracted else None,
        **{key: sample[key] for key in _SAMPLE_EXTRAS},
    }


def _sample_from_record(sample: SampleRecord, extras: dict[str, Any]) -> dict[str, Any]:
    extracted = None
    if sample.extracted is not None:
        extracted = {"text": sample.extracted, "rule": sample.extracted_rule,
                     "span": extras["span"]}  # fmt: skip
    return {
        "index": sample.index,
        "number": sample.index + 1,
        "seed": sample.seed,
        "group": sample.group,
        "finish_reason": sample.finish_reason,
        "tokens": sample.tokens,
        "prompt_tokens": extras["prompt_tokens"],
        "seconds": sample.seconds,
        "time_to_first_token": extras["time_to_first_token"],
        "extracted": extracted,
        "answer": sample.answer,
        "trace": sample.trace,
        "error": extras["error"],
    }
