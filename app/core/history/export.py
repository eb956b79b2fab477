"""Export one run: Markdown for people, JSON for tools.

The JSON holds every field of the run and of every sample under the dataclasses' own
names, so a reader can rebuild the RunRecord. It is strict JSON: a NaN or infinite float
(possible in a consensus summary) becomes null rather than a token other parsers reject.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from app.core.history.records import RunRecord, SampleRecord

JSON_FORMAT = "quorum.run"
JSON_FORMAT_VERSION = 1


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    """Every field, in declaration order, behind a format tag and a readable timestamp."""
    fields = _finite(dataclasses.asdict(run))
    return {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "created_at_utc": _utc(run.created_at),
        **fields,
    }


def export_json(run: RunRecord) -> str:
    return json.dumps(run_to_dict(run), ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def export_markdown(run: RunRecord) -> str:
    parts = [f"# Quorum run {run.id if run.id is not None else '(unsaved)'}", _overview(run)]
    parts += ["## Question", run.question.strip() or "*(empty)*"]
    if len(run.samples) == 1:
        parts += _sample_body(run.samples[0], "##")
    elif run.samples:
        if run.consensus is not None:
            parts += ["## Consensus", _fenced(json.dumps(_finite(run.consensus), indent=2), "json")]
        parts += ["## Samples", _samples_table(run.samples)]
        for sample in run.samples:
            parts.append(f"### Sample {sample.index} (seed {sample.seed})")
            parts += _sample_body(sample, "####")
    else:
        parts.append("*No answer was recorded.*")
    return "\n\n".join(parts) + "\n"


def _overview(run: RunRecord) -> str:
    model = f"{run.model_name} ({_code(run.model_path)})"
    if run.model_sha256:
        model += f", sha256 {_code(run.model_sha256)}"
    timing = f"{run.seconds:.2f} s"
    if run.time_to_first_token is not None:
        timing += f", first token after {run.time_to_first_token:.2f} s"
    lines = [
        f"- **Asked:** {_utc(run.created_at)}",
        f"- **Model:** {model}",
        f"- **Status:** {run.status}" + (f": {_one_line(run.error)}" if run.error else ""),
        f"- **Time:** {timing}",
        f"- **Samples:** {len(run.samples)}",
    ]
    if run.conversation_id is not None:
        lines.append(f"- **Conversation:** {run.conversation_id}, turn {run.turn}")
    table = ["| Parameter | Value |", "| --- | --- |"]
    table += [
        f"| {_cell(k)} | {_cell(json.dumps(v, ensure_ascii=False))} |"
        for k, v in run.params.items()
    ]
    return "\n".join(lines) + ("\n\n" + "\n".join(table) if run.params else "")


def _sample_body(sample: SampleRecord, level: str) -> list[str]:
    parts = [f"{level} Answer", sample.answer.strip() or "*(empty)*"]
    if sample.extracted is not None:
        rule = f" ({sample.extracted_rule})" if sample.extracted_rule else ""
        parts.append(f"**Extracted answer{rule}:** {_code(_one_line(sample.extracted))}")
    parts.append(
        f"*{sample.tokens} tokens in {sample.seconds:.2f} s, finished by "
        f"{sample.finish_reason}, seed {sample.seed}*"
    )
    if sample.trace:
        parts += [f"{level} Reasoning", _fenced(sample.trace, "text")]
    return parts


def _samples_table(samples: list[SampleRecord]) -> str:
    rows = ["| # | Seed | Extracted | Group | Tokens | Seconds | Finish |", "|" + " --- |" * 7]
    for s in samples:
        cells = [s.index, s.seed, s.extracted or "—", s.group or "—", s.tokens]
        cells += [f"{s.seconds:.2f}", s.finish_reason]
        rows.append("| " + " | ".join(_cell(str(c)) for c in cells) + " |")
    return "\n".join(rows)


def _fenced(text: str, info: str) -> str:
    """A code fence longer than any backtick run inside, so the text cannot close it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def _code(text: str) -> str:
    """An inline code span that survives backticks inside the text."""
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _one_line(text: str) -> str:
    return " ".join(text.split())


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
