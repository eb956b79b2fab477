"""A consensus report as Markdown for people: the figures, the groups, the chart, the samples.

Reads only the report data made by app.core.consensus.report.build_report (or rebuilt from
history), so an export from a live run and one from a reopened run read the same. Full
traces and answers stay in the JSON report; a table of 512 traces would help no one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

_QUESTION_TITLE_CHARS = 80


def report_markdown(data: dict[str, Any], chart_png_name: str | None = None) -> str:
    """The Markdown summary; chart_png_name is linked as an image when given."""
    consensus = data["consensus"]
    parts = [f"# Quorum consensus: {_cell(_title(data.get('question', '')))}", _overview(data)]
    parts += ["## Question", data.get("question", "").strip() or "*(empty)*"]
    parts += ["## Result", _figures(consensus)]
    if consensus.get("note"):
        parts.append("> " + _one_line(consensus["note"]))
    if consensus.get("stopped_early") and consensus.get("early_stop_reason"):
        parts.append(
            f"Stopped early, {consensus.get('samples_saved', 0)} samples saved: "
            + _one_line(consensus["early_stop_reason"])
        )
    if chart_png_name:
        parts.append(f"![Answer groups]({_link_target(chart_png_name)})")
    parts += ["## Answer groups", _groups_table(consensus)]
    parts += ["## Parameters", _parameters_table(data.get("parameters", {}))]
    parts += ["## Environment", _environment(data)]
    parts += ["## Samples", _samples_table(data.get("samples", []))]
    if data.get("unfinished"):
        skipped = ", ".join(str(s["index"]) for s in data["unfinished"])
        parts.append(f"Not run (stopped early or cancelled): samples {skipped}.")
    parts.append("*Every sample's full reasoning and answer are in the JSON report.*")
    return "\n\n".join(parts) + "\n"


def _overview(data: dict[str, Any]) -> str:
    model = data.get("model", {})
    consensus = data["consensus"]
    timings = data.get("timings", {})
    described = f"{model.get('name')} ({_code(model.get('file_name') or '')})"
    if model.get("sha256"):
        described += f", sha256 {_code(model['sha256'])}"
    status = str(data.get("status", ""))
    if data.get("error"):
        status += ": " + _one_line(data["error"])
    lines = [
        f"- **Asked:** {data.get('created_at_utc', '')}",
        f"- **Model:** {described}",
        f"- **Status:** {status}",
        f"- **Samples:** {consensus['n']} of {consensus['requested']} finished",
        f"- **Time:** {timings.get('seconds', 0.0):.2f} s, {timings.get('tokens', 0)} tokens "
        f"({timings.get('tokens_per_second', 0.0):.1f} tokens/s)",
    ]
    if data.get("plan", {}).get("description"):
        lines.append(f"- **Memory plan:** {data['plan']['description']}")
    return "\n".join(lines)


def _figures(consensus: dict[str, Any]) -> str:
    n = consensus["n"]
    leader = consensus["groups"][0]["count"] if consensus["groups"] else 0
    if consensus["majority"] is not None:
        majority = f"{_code(_one_line(consensus['majority']))} ({leader} of {n})"
    elif consensus["majority_is_no_answer"]:
        majority = f"none: no answer leads ({leader} of {n})"
    else:
        majority = "none (no samples)"
    low, high = consensus["agreement_ci95"]
    rows = [
        ("Majority answer", majority),
        ("Agreement", f"{consensus['agreement']:.0%} (Wilson 95% interval {low:.0%}–{high:.0%})"),
        ("Entropy", f"{consensus['entropy_bits']:.2f} bits "
                    f"(Miller–Madow {consensus['entropy_bits_mm']:.2f} bits)"),
        ("Distinct answers", str(consensus["distinct"])),
        ("No answer", str(consensus["no_answer"])),
    ]  # fmt: skip
    return _table(("Figure", "Value"), rows)


def _groups_table(consensus: dict[str, Any]) -> str:
    n = consensus["n"] or 1
    rows = [
        (str(rank), _code(_one_line(g["answer"])), str(g["count"]), f"{g['count'] / n:.0%}",
         ", ".join(str(m) for m in sorted(g["samples"])))
        for rank, g in enumerate(consensus["groups"], start=1)
    ]  # fmt: skip
    if not rows:
        return "*No sample finished.*"
    return _table(("#", "Answer", "Count", "Share", "Samples"), rows)


def _parameters_table(parameters: dict[str, Any]) -> str:
    flat: list[tuple[str, str]] = []
    for key, value in parameters.items():
        if isinstance(value, dict):
            flat += [(f"{key}.{k}", _json(v)) for k, v in value.items()]
        else:
            flat.append((key, _json(value)))
    return _table(("Parameter", "Value"), flat) if flat else "*None recorded.*"


def _environment(data: dict[str, Any]) -> str:
    software, hardware = data.get("software", {}), data.get("hardware", {})
    ram = hardware.get("ram_bytes")
    lines = [
        f"- **Quorum** {software.get('quorum')}, **llama-cpp-python** "
        f"{software.get('llama_cpp_python')}, **Python** {software.get('python')}",
        f"- **Platform:** {hardware.get('platform')}",
        f"- **CPU:** {hardware.get('cpu_model') or 'unknown'}, {hardware.get('cpu_count')} "
        f"logical cores ({hardware.get('cpus_usable')} usable)",
        f"- **RAM:** {f'{ram / 1024**3:.1f} GiB' if ram else 'unknown'}",
    ]
    if software.get("llama_cpp_system_info"):
        lines.append(f"- **llama.cpp:** {_code(_one_line(software['llama_cpp_system_info']))}")
    return "\n".join(lines)


def _samples_table(samples: list[dict[str, Any]]) -> str:
    if not samples:
        return "*No sample finished.*"
    rows = []
    for s in samples:
        extracted = (s.get("extracted") or {}).get("text")
        rows.append((
            str(s["index"]), str(s["seed"]), _code(_one_line(s.get("group") or "")),
            _code(_one_line(extracted)) if extracted else "—", str(s["tokens"]),
            f"{s['seconds']:.2f}", str(s["finish_reason"]),
        ))  # fmt: skip
    return _table(("#", "Seed", "Group", "Extracted", "Tokens", "Seconds", "Finish"), rows)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _title(question: str) -> str:
    line = _one_line(question)
    if len(line) > _QUESTION_TITLE_CHARS:
        return line[: _QUESTION_TITLE_CHARS - 1] + "…"
    return line or "(empty question)"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _code(text: str) -> str:
    """An inline code span that a backtick inside the text cannot close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}" if text else ""


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _link_target(name: str) -> str:
    """A relative link that spaces and brackets in the file name cannot break."""
    return "<" + name.replace("<", "%3C").replace(">", "%3E") + ">"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
