"""Runs in words: how a run was made (model, outcome, speed, every parameter), a history
row's two lines, and a sample's label."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.core.history.records import RunRecord, RunStatus, RunSummary, SampleRecord

_PARAM_LABELS = (
    ("temperature", "T"), ("top_p", "top-p"), ("top_k", "top-k"), ("min_p", "min-p"),
    ("repeat_penalty", "repeat"), ("presence_penalty", "presence"), ("max_tokens", "max"),
    ("seed", "seed"), ("early_stop", "early stop"), ("n_ctx", "context"), ("threads", "threads"),
    ("gpu_layers", "GPU layers"),
)  # fmt: skip


def describe_run(record: RunRecord) -> str:
    when = datetime.fromtimestamp(record.created_at).strftime("%Y-%m-%d %H:%M")
    parts = [f"{record.model_name}", when, record.status]
    requested = record.params.get("samples")
    sample = record.samples[0] if record.samples else None
    if requested is not None:  # consensus: every sample counts, not the first one
        tokens = sum(s.tokens for s in record.samples)
        parts.append(f"consensus: {len(record.samples)} of {requested} samples, "
                     f"{tokens} tokens in {record.seconds:.1f} s")  # fmt: skip
    elif sample is not None:
        parts.append(f"{sample.tokens} tokens in {sample.seconds:.1f} s ({sample.finish_reason})")
    thinking = record.params.get("thinking")
    if thinking is not None:
        parts.append("thinking on" if thinking else "thinking off")
    for key, label in _PARAM_LABELS:
        if record.params.get(key) is not None:
            parts.append(f"{label} {record.params[key]}")
    config = record.params.get("llama_config")
    if isinstance(config, dict) and config.get("name"):
        parts.append(f"llama.cpp {config['name']}")
    server = server_identity(record)
    if server is not None:
        software = " ".join(str(server[k]) for k in ("kind", "version") if server.get(k))
        parts.append(f"on {software or 'a server'} at {server.get('url')}")
    return " · ".join(parts)


def server_identity(record: RunRecord) -> dict[str, Any] | None:
    """The server a run was made on (single runs keep it in params, consensus runs in
    their report's model section); None for a run made on this computer."""
    found = record.params.get("server")
    if not isinstance(found, dict):
        model = (record.consensus or {}).get("model")
        found = model.get("server") if isinstance(model, dict) else None
    return found if isinstance(found, dict) else None


def describe_summary(summary: RunSummary) -> str:
    """A history row: the question, then when, which model, any status but done, the answer."""
    when = datetime.fromtimestamp(summary.created_at).strftime("%Y-%m-%d %H:%M")
    status = "" if summary.status == RunStatus.DONE else f" · {summary.status}"
    answer = f" → {summary.answer}" if summary.answer else ""
    return f"{summary.question}\n{when} · {summary.model_name}{status}{answer}"


def consensus_summary(summary: RunSummary) -> str:
    """A consensus row's size and agreement ("" for a single run): "consensus of 16,
    agreement 75% of 12 answered"; a run cut short says how many of N it saved."""
    requested = summary.requested
    if requested is None and summary.n_samples <= 1:
        return ""
    size = f"consensus of {requested or summary.n_samples}"
    if requested is not None and summary.n_samples < requested:
        size += f" ({summary.n_samples} saved)"
    if summary.agreement is None or summary.answered is None:
        return size
    share = summary.agreement
    shown = f"{share:.0%}" if round(share * 100, 1) == round(share * 100) else f"{share:.1%}"
    return f"{size}, agreement {shown} of {summary.answered} answered"


def sample_label(sample: SampleRecord) -> str:
    """How the panes name one sample of a consensus run: numbered from 1, as people count
    (the index in the records and the JSON export stays 0-based)."""
    return f"Sample {sample.index + 1} (seed {sample.seed})"
