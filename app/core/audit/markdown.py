"""The audit's Markdown summary, from the report data (app.core.audit.report_data).

Every value that did not come from Quorum (question text, model output, model names, the
claim) goes through app.core.markdown_text, so it shows literally and forms no markup.
"""

from __future__ import annotations

from typing import Any

from app.core.consensus.figure_lines import format_bound, format_share
from app.core.markdown_text import code_span, inline, table

_DASH = "—"


def share_text(share: dict[str, Any]) -> str:
    """k of n as "62% [48–74%] (31/50)"; a dash when n is 0."""
    if not share["n"]:
        return _DASH
    low, high = share["ci95"]
    return (
        f"{format_share(share['value'])} [{format_share(low)}–{format_share(high)}] "
        f"({share['k']}/{share['n']})"
    )


def mean_agreement_text(figures: dict[str, Any]) -> str:
    mean, ci = figures["mean_agreement"], figures["mean_agreement_ci95"]
    if mean is None:
        return _DASH
    return f"{format_share(mean)} [{format_share(ci[0])}–{format_share(ci[1])}]"


def _number(value: float | None, digits: int = 2) -> str:
    return _DASH if value is None else f"{value:.{digits}f}"


def _budget(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def budget_cell(condition: dict[str, Any]) -> str:
    """The condition's thinking budget and how many samples' traces it cut."""
    budget = condition["think_budget"]
    if budget is None:
        return "unlimited"
    return f"{budget} ({condition['figures']['trace_cuts']} traces cut)"


def _server_line(server: dict[str, Any] | None) -> str:
    if not server:
        return ""
    software = " ".join(str(server[k]) for k in ("kind", "version") if server.get(k))
    return (
        f". Decoded on the server {code_span(str(server.get('url')))} ({inline(software)}, "
        f"consensus path: {inline(str(server.get('consensus_path')))})"
    )


def audit_markdown(data: dict[str, Any], *, details: bool = True) -> str:
    """The summary; details=False leaves out the per-condition calibration and question
    tables (what the CLI prints)."""
    names = {m["key"]: m["name"] for m in data["models"]}
    settings = data["settings"]
    qs = data["question_set"]
    parts = [
        f"# Quorum audit: {inline(qs['name'])}",
        (
            f"{qs['questions']} questions ({qs['with_reference']} with a reference answer), "
            f"{settings['samples']} samples per question, temperatures "
            f"{', '.join(f'{t:g}' for t in settings['temperatures'])}, thinking budgets "
            f"{', '.join(_budget(b) for b in settings['think_budgets'])}, at most "
            f"{settings['max_tokens']} tokens per sample, seed {settings['seed']}. "
            f"Set sha256 {code_span(qs['sha256'][:16])}…"
        ),
        "Models: "
        + "; ".join(f"{inline(m['name'])} ({code_span(m['path'])})" for m in data["models"])
        + _server_line(data.get("server")),
        "## Results",
        _results_table(data["conditions"], names),
        (
            "Agreement: the largest answer group's share of all samples, no-answer counted "
            "as a group. Mean agreement: bootstrap 95% interval over questions. Other "
            "shares: Wilson 95% intervals over questions. Single sample: mean share of "
            "samples that were right. Entropy: plug-in bits (0.00 is no bound). Trace "
            "distance: mean pairwise normalised word edit distance (0 identical, 1 disjoint)."
        ),
    ]
    if data.get("claim"):
        parts.append("## Claim card")
        for label, lines in data["claim"]["cards"].items():
            parts.append(f"### {inline(label)}")
            parts.append("\n".join(f"- {inline(line)}" for line in lines))
    parts.append("## Collapse check")
    parts.append(
        "\n".join(
            f"- {inline(c['label'])}: {inline(c['collapse']['text'])}" for c in data["conditions"]
        )
    )
    for sweep in data["sweeps"]:
        parts.append(
            f"- Temperature sweep, {inline(names.get(sweep['model'], sweep['model']))}"
            f": {inline(sweep['text'])}"
        )
    for c in data["conditions"] if details else []:
        parts.append(f"## {inline(c['label'])}")
        parts.append(_calibration_table(c["figures"]))
        parts.append(_questions_table(c["questions"]))
    return "\n\n".join(parts) + "\n"


def _results_table(conditions: list[dict[str, Any]], names: dict[str, str]) -> str:
    rows = []
    for c in conditions:
        f = c["figures"]
        single = f["single_sample_accuracy"]
        rows.append(
            [
                inline(names.get(c["model"], c["model"])),
                f"{c['temperature']:g}",
                budget_cell(c),
                str(f["questions"]),
                mean_agreement_text(f),
                share_text(f["unanimous"]),
                share_text(f["majority_accuracy"]),
                _DASH if single is None else format_share(single),
                share_text(f["greedy_accuracy"]),
                f"{_number(f['mean_entropy_bits'])} / {_number(f['max_entropy_bits'])}",
                _number(f["mean_edit_distance"], 3),
                "**flagged**" if c["collapse"]["flagged"] else "no",
            ]
        )
    header = [
        "Model",
        "T",
        "Think budget",
        "Questions",
        "Mean agreement",
        "100% agreement",
        "Majority accuracy",
        "Single sample",
        "Greedy (T 0)",
        "Entropy mean / max",
        "Trace distance",
        "Collapse",
    ]
    return table(header, rows)


def _calibration_table(f: dict[str, Any]) -> str:
    rows = [
        [
            "exactly 100%" if b["low"] == 1.0 else f"{b['low']:.0%}–{b['high']:.0%}",
            str(b["questions"]),
            _DASH if b["mean_agreement"] is None else format_share(b["mean_agreement"]),
            share_text(b["majority_accuracy"]),
        ]
        for b in f["calibration"]
    ]
    ece = f["calibration_error"]
    note = "" if ece is None else f"\n\nExpected calibration error {ece:.3f}."
    return (
        "Calibration (agreement against majority correctness):\n\n"
        + table(["Agreement", "Questions", "Mean agreement", "Majority accuracy"], rows)
        + note
    )


def _questions_table(questions: list[dict[str, Any]]) -> str:
    rows = []
    for q in questions:
        low, high = q["agreement_ci95"]
        agreement = f"{format_share(q['agreement'])} [{format_share(low)}–{format_share(high)}]"
        if q["other_answer_bound"] is not None:
            agreement += f"; others ≤ {format_bound(q['other_answer_bound'])}"
        majority = "no answer" if q["majority_is_no_answer"] else inline(q["majority"] or _DASH)
        greedy = q["greedy"]
        rows.append(
            [
                inline(q["id"]),
                str(q["n"]),
                majority,
                agreement,
                f"{q['entropy_bits']:.2f} ({q['entropy_bits_mm']:.2f})",
                inline(q["reference"]) if q["reference"] is not None else _DASH,
                {True: "yes", False: "no", None: _DASH}[q["majority_correct"]],
                inline(greedy["extracted"] or "no answer") if greedy else _DASH,
            ]
        )
    header = [
        "Question",
        "n",
        "Majority",
        "Agreement [95%]",
        "Entropy bits (MM)",
        "Reference",
        "Majority right",
        "Greedy answer",
    ]
    return table(header, rows)
