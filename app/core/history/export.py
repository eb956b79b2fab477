"""Export one run: Markdown for people, JSON for tools.

The JSON holds every field of the run and of every sample under the dataclasses' own
names, so a reader can rebuild the RunRecord, plus one derived field per sample: its
"number", counted from 1 as the window and the Markdown number samples ("index" counts
from 0, as the seeds, a resumed run and the consensus member lists do). It is strict
JSON: a NaN or infinite float (possible in a consensus summary) becomes null rather than
a token other parsers reject.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from app.core.history import token_blob
from app.core.history.records import RunRecord, SampleRecord
from app.core.markdown_text import code_span, fenced, inline, table, text_block

JSON_FORMAT = "quorum.run"
JSON_FORMAT_VERSION = 1
_CONSENSUS_DATA_NOTE = (
    "*The figures as saved; in this data samples are indices from 0 (sample 1 is index 0).*"
)


def export_filename(question: str, run_id: int, suffix: str) -> str:
    """A file name for an exported run: its id and the question's first words."""
    words = re.sub(r"[^\w]+", "-", question.lower()).strip("-")[:40].rstrip("-")
    return f"quorum-run-{run_id}{'-' + words if words else ''}{suffix}"


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    """Every field, in declaration order, behind a format tag and a readable timestamp.
    A sample's token figures come decoded (history.token_blob.to_json), not as bytes;
    ``number`` counts samples from 1, as the window does (``index`` from 0 is what the
    seeds and a resume go by)."""
    fields = dataclasses.asdict(run)
    for sample in fields["samples"]:
        blob = sample["token_stats"]
        sample["token_stats"] = None if blob is None else _token_stats(blob)
    fields = _finite(fields)
    fields["samples"] = [
        {"index": s["index"], "number": s["index"] + 1, **s} for s in fields["samples"]
    ]
    return {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "created_at_utc": _utc(run.created_at),
        **fields,
    }


def export_json(run: RunRecord) -> str:
    return json.dumps(run_to_dict(run), ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def export_markdown(run: RunRecord) -> str:
    """The run for people. Every value that is not Quorum's own wording goes through
    app.core.markdown_text, so the question, the model's output, the model's name (GGUF
    metadata) and file names show as text and form no HTML or link of their own."""
    parts = [f"# Quorum run {inline(run.id) if run.id is not None else '(unsaved)'}"]
    parts += [_overview(run), "## Question", text_block(run.question) or "*(empty)*"]
    if len(run.samples) == 1:
        parts += _sample_body(run.samples[0], "##")
    elif run.samples:
        if run.consensus is not None:
            parts += ["## Consensus", _CONSENSUS_DATA_NOTE,
                      fenced(json.dumps(_finite(run.consensus), indent=2), "json")]  # fmt: skip
        parts += ["## Samples", _samples_table(run.samples)]
        for sample in run.samples:
            parts.append(f"### Sample {inline(sample.index + 1)} (seed {inline(sample.seed)})")
            parts += _sample_body(sample, "####")
    else:
        parts.append("*No answer was recorded.*")
    return "\n\n".join(parts) + "\n"


def _overview(run: RunRecord) -> str:
    model = f"{inline(run.model_name)} ({code_span(run.model_path)})"
    if run.model_sha256:
        model += f", sha256 {code_span(run.model_sha256)}"
    timing = f"{run.seconds:.2f} s"
    if run.time_to_first_token is not None:
        timing += f", first token after {run.time_to_first_token:.2f} s"
    status = inline(run.status) + (f": {inline(run.error)}" if run.error else "")
    lines = [
        f"- **Asked:** {_utc(run.created_at)}",
        f"- **Model:** {model}",
        f"- **Status:** {status}",
        f"- **Time:** {timing}",
        f"- **Samples:** {len(run.samples)}",
    ]
    if run.conversation_id is not None:
        lines.append(f"- **Conversation:** {inline(run.conversation_id)}, turn {inline(run.turn)}")
    rows = [(inline(k), inline(json.dumps(v, ensure_ascii=False))) for k, v in run.params.items()]
    return "\n".join(lines) + ("\n\n" + table(("Parameter", "Value"), rows) if rows else "")


def _sample_body(sample: SampleRecord, level: str) -> list[str]:
    # The answer is read as prose, so it is escaped text that wraps in a viewer; the
    # trace is a long raw stream, fenced so that its exact characters and indentation
    # show in monospace (a fence longer than any backtick run in it cannot be closed).
    parts = [f"{level} Answer", text_block(sample.answer) or "*(empty)*"]
    if sample.extracted is not None:
        rule = f" ({inline(sample.extracted_rule)})" if sample.extracted_rule else ""
        parts.append(f"**Extracted answer{rule}:** {code_span(sample.extracted)}")
    parts.append(
        f"*{inline(sample.tokens)} tokens in {sample.seconds:.2f} s, finished by "
        f"{inline(sample.finish_reason)}, seed {inline(sample.seed)}*"
    )
    if sample.trace:
        parts += [f"{level} Reasoning", fenced(sample.trace, "text")]
    return parts


def _samples_table(samples: list[SampleRecord]) -> str:
    rows = []
    for s in samples:
        cells = [s.index + 1, s.seed, s.extracted or "—", s.group or "—", s.tokens]
        cells += [f"{s.seconds:.2f}", s.finish_reason]
        rows.append([inline(c) for c in cells])
    return table(("#", "Seed", "Extracted", "Group", "Tokens", "Seconds", "Finish"), rows)


def _token_stats(blob: bytes) -> dict[str, Any]:
    try:
        return token_blob.to_json(blob)
    except token_blob.TokenBlobError as exc:  # the rest of the run still exports
        return {"stored": "unreadable", "note": str(exc)}


def _utc(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
