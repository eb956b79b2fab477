"""A consensus report as Markdown for people: the figures, the groups, the chart, the samples.

Reads only the report data made by app.core.consensus.report.build_report (or rebuilt from
history), so an export from a live run and one from a reopened run read the same. Full
traces and answers stay in the JSON report; a table of 512 traces would help no one.

Every value taken from the data goes through app.core.markdown_text: the question, the
model's name (GGUF metadata), answers and group labels (model output), file names and
even figures, since the data may be a history record read back from disk.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from app.core.consensus.figure_lines import format_share
from app.core.markdown_text import code_span, inline, table, text_block

_QUESTION_TITLE_CHARS = 80


def report_markdown(data: dict[str, Any], chart_png_name: str | None = None) -> str:
    """The Markdown summary; chart_png_name is linked as an image when given."""
    consensus = data["consensus"]
    parts = [f"# Quorum consensus: {inline(_title(data.get('question', '')))}", _overview(data)]
    parts += ["## Question", text_block(data.get("question", "")) or "*(empty)*"]
    parts += ["## Result", _figures(consensus)]
    if consensus.get("note"):
        parts.append("> " + inline(consensus["note"]))
    if consensus.get("stopped_early") and consensus.get("early_stop_reason"):
        parts.append(
            f"Stopped early, {inline(consensus.get('samples_saved', 0))} samples saved: "
            + inline(consensus["early_stop_reason"])
        )
    if chart_png_name:
        parts.append(f"![Answer groups]({_link_target(chart_png_name)})")
    parts += ["## Answer groups", _groups_table(consensus)]
    parts += ["## Parameters", _parameters_table(data.get("parameters", {}))]
    parts += ["## Environment", _environment(data)]
    parts += ["## Samples", _samples_table(data.get("samples", []))]
    if data.get("unfinished"):
        skipped = ", ".join(inline(s["index"] + 1) for s in data["unfinished"])
        parts.append(f"Not run (stopped early or cancelled): samples {skipped}.")
    parts.append("*Every sample's full reasoning and answer are in the JSON report.*")
    return "\n\n".join(parts) + "\n"


def _overview(data: dict[str, Any]) -> str:
    model = data.get("model", {})
    consensus = data["consensus"]
    timings = data.get("timings", {})
    described = f"{inline(model.get('name'))} ({code_span(model.get('file_name') or '')})"
    if model.get("sha256"):
        described += f", sha256 {code_span(model['sha256'])}"
    status = inline(data.get("status", ""))
    if data.get("error"):
        status += ": " + inline(data["error"])
    lines = [
        f"- **Asked:** {inline(data.get('created_at_utc', ''))}",
        f"- **Model:** {described}",
        f"- **Status:** {status}",
        f"- **Samples:** {inline(consensus['n'])} of {inline(consensus['requested'])} finished",
        f"- **Time:** {timings.get('seconds', 0.0):.2f} s, "
        f"{inline(timings.get('tokens', 0))} tokens "
        f"({timings.get('tokens_per_second', 0.0):.1f} tokens/s)",
    ]
    if data.get("plan", {}).get("description"):
        lines.append(f"- **Memory plan:** {inline(data['plan']['description'])}")
    return "\n".join(lines)


def _figures(consensus: dict[str, Any]) -> str:
    n = consensus["n"]
    leader = consensus["groups"][0]["count"] if consensus["groups"] else 0
    if consensus["majority"] is not None:
        majority = f"{inline(consensus['majority'])} ({inline(leader)} of {inline(n)})"
    elif consensus["majority_is_no_answer"]:
        majority = f"none: no answer leads ({inline(leader)} of {inline(n)})"
    else:
        majority = "none (no samples)"
    low, high = consensus["agreement_ci95"]
    rows = [
        ("Majority answer", majority),
        ("Agreement", f"{format_share(consensus['agreement'])} "
                      f"(Wilson 95% interval {format_share(low)}–{format_share(high)})"),
        ("Entropy", f"{consensus['entropy_bits']:.2f} bits "
                    f"(Miller–Madow {consensus['entropy_bits_mm']:.2f} bits)"),
        ("Distinct answers", inline(consensus["distinct"])),
        ("No answer", inline(consensus["no_answer"])),
    ]  # fmt: skip
    return table(("Figure", "Value"), rows)


def _groups_table(consensus: dict[str, Any]) -> str:
    n = consensus["n"] or 1
    rows = [
        (str(rank), inline(g["answer"]), inline(g["count"]),
         format_share(g["count"] / n), inline(", ".join(str(m + 1) for m in sorted(g["samples"]))))
        for rank, g in enumerate(consensus["groups"], start=1)
    ]  # fmt: skip
    if not rows:
        return "*No sample finished.*"
    return table(("#", "Answer", "Count", "Share", "Samples"), rows)


def _parameters_table(parameters: dict[str, Any]) -> str:
    flat: list[tuple[str, str]] = []
    for key, value in parameters.items():
        if isinstance(value, dict):
            flat += [(inline(f"{key}.{k}"), inline(_json(v))) for k, v in value.items()]
        else:
            flat.append((inline(key), inline(_json(value))))
    return table(("Parameter", "Value"), flat) if flat else "*None recorded.*"


def _environment(data: dict[str, Any]) -> str:
    software, hardware = data.get("software", {}), data.get("hardware", {})
    ram = hardware.get("ram_bytes")
    lines = [
        f"- **Quorum** {inline(software.get('quorum'))}, **llama-cpp-python** "
        f"{inline(software.get('llama_cpp_python'))}, **Python** {inline(software.get('python'))}",
        f"- **Platform:** {inline(hardware.get('platform'))}",
        f"- **CPU:** {inline(hardware.get('cpu_model') or 'unknown')}, "
        f"{inline(hardware.get('cpu_count'))} logical cores "
        f"({inline(hardware.get('cpus_usable'))} usable)",
        f"- **RAM:** {f'{ram / 1024**3:.1f} GiB' if ram else 'unknown'}",
    ]
    if software.get("llama_cpp_system_info"):
        lines.append(f"- **llama.cpp:** {code_span(software['llama_cpp_system_info'])}")
    return "\n".join(lines)


def _samples_table(samples: list[dict[str, Any]]) -> str:
    if not samples:
        return "*No sample finished.*"
    rows = []
    for s in samples:
        extracted = (s.get("extracted") or {}).get("text")
        rows.append((
            inline(s["index"] + 1), inline(s["seed"]), inline(s.get("group") or ""),
            inline(extracted) if extracted else "—", inline(s["tokens"]),
            f"{s['seconds']:.2f}", inline(s["finish_reason"]),
        ))  # fmt: skip
    return table(("#", "Seed", "Group", "Extracted", "Tokens", "Seconds", "Finish"), rows)


def _title(question: str) -> str:
    line = " ".join(str(question).split())
    if len(line) > _QUESTION_TITLE_CHARS:
        return line[: _QUESTION_TITLE_CHARS - 1] + "…"
    return line or "(empty question)"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _link_target(name: str) -> str:
    """A relative link to the file, whatever its name holds: inside <...> a destination may
    hold spaces and brackets; everything else a URL or Markdown would read ("<", ">", "\\",
    "%", line breaks, non-ASCII) is percent-encoded, which a viewer decodes back."""
    return "<" + quote(name, safe=" ()[]") + ">"
