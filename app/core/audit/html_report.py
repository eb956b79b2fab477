"""The audit report as one self-contained HTML file: inline CSS and SVG, no script, no
network. Every value that did not come from Quorum is escaped (html.escape), so an answer
such as "<script>...</script>" shows as text.

The page lists each question's samples up to SAMPLES_SHOWN; the JSON report holds all.
"""

from __future__ import annotations

from html import escape
from typing import Any

from app.core.audit.charts import agreement_chart, reliability_chart, sweep_chart
from app.core.audit.markdown import budget_cell, mean_agreement_text, share_text
from app.core.consensus.figure_lines import format_bound, format_share

SAMPLES_SHOWN = 16
_DASH = "—"
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.flag { color: #c62828; font-weight: bold; }
pre { white-space: pre-wrap; background: #f7f7f7; padding: 6px; max-height: 18em;
      overflow: auto; }
details { margin: 0.3em 0; }
.note { color: #555; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _budget(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are already escaped (or Quorum's own markup)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _server(server: dict[str, Any] | None) -> str:
    if not server:
        return ""
    software = " ".join(str(server[k]) for k in ("kind", "version") if server.get(k))
    return (
        f". Decoded on the server <code>{_e(str(server.get('url')))}</code> ({_e(software)}, "
        f"consensus path: {_e(str(server.get('consensus_path')))})"
    )


def audit_html(data: dict[str, Any]) -> str:
    names = {m["key"]: m["name"] for m in data["models"]}
    qs, settings = data["question_set"], data["settings"]
    parts = [
        f"<h1>Quorum audit: {_e(qs['name'])}</h1>",
        f"<p>{qs['questions']} questions ({qs['with_reference']} with a reference answer), "
        f"{settings['samples']} samples per question, temperatures "
        f"{_e(', '.join(f'{t:g}' for t in settings['temperatures']))}, thinking budgets "
        f"{_e(', '.join(_budget(b) for b in settings['think_budgets']))}, at most "
        f"{settings['max_tokens']} tokens per sample, seed {settings['seed']}; made "
        f"{_e(data['created_at_utc'])}. Set sha256 <code>{_e(qs['sha256'])}</code>.</p>",
        "<p>Models: "
        + "; ".join(f"{_e(m['name'])} (<code>{_e(m['path'])}</code>)" for m in data["models"])
        + _server(data.get("server"))
        + "</p>",
        "<h2>Results</h2>",
        _results(data["conditions"], names),
        '<p class="note">Agreement: the largest answer group\'s share of all samples, '
        "no-answer counted as a group. Mean agreement: bootstrap 95% interval over questions; "
        "other shares: Wilson 95% intervals. Single sample: mean share of samples that were "
        "right. Entropy: plug-in bits (0.00 is no bound). Trace distance: mean pairwise "
        "normalised word edit distance (0 identical, 1 disjoint). Charts: green bars where "
        "the majority is right, red where wrong, light grey where most samples gave no "
        "answer; whiskers are Wilson 95% intervals.</p>",
    ]
    if data.get("claim"):
        parts.append("<h2>Claim card</h2>")
        for label, lines in data["claim"]["cards"].items():
            items = "".join(f"<li>{_e(line)}</li>" for line in lines)
            parts.append(f"<h3>{_e(label)}</h3><ul>{items}</ul>")
    parts.append("<h2>Collapse check</h2><ul>")
    for c in data["conditions"]:
        css = ' class="flag"' if c["collapse"]["flagged"] else ""
        parts.append(f"<li{css}>{_e(c['label'])}: {_e(c['collapse']['text'])}</li>")
    for s in data["sweeps"]:
        css = ' class="flag"' if s["flagged"] else ""
        model = names.get(s["model"], s["model"])
        parts.append(f"<li{css}>Temperature sweep, {_e(model)}: {_e(s['text'])}</li>")
    parts.append("</ul>")
    parts += _sweeps(data, names)
    for c in data["conditions"]:
        parts += _condition(c)
    page = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Quorum audit: {_e(qs['name'])}</title><style>{_STYLE}</style></head>"
        f"<body>\n{page}\n</body></html>\n"
    )


def _results(conditions: list[dict[str, Any]], names: dict[str, str]) -> str:
    rows = []
    for c in conditions:
        f = c["figures"]
        single = f["single_sample_accuracy"]
        distance = f["mean_edit_distance"]
        rows.append(
            [
                _e(names.get(c["model"], c["model"])),
                f"{c['temperature']:g}",
                budget_cell(c),
                str(f["questions"]),
                _e(mean_agreement_text(f)),
                _e(share_text(f["unanimous"])),
                _e(share_text(f["majority_accuracy"])),
                _DASH if single is None else format_share(single),
                _e(share_text(f["greedy_accuracy"])),
                _e(f"{f['mean_entropy_bits'] or 0:.2f} / {f['max_entropy_bits'] or 0:.2f}"),
                _DASH if distance is None else f"{distance:.3f}",
                '<span class="flag">flagged</span>' if c["collapse"]["flagged"] else "no",
            ]
        )
    return _table(
        [
            "Model",
            "T",
            "Think budget",
            "Questions",
            "Mean agreement",
            "100% agreement",
            "Majority accuracy",
            "Single sample",
            "Greedy (T 0)",
            "Entropy mean / max (bits)",
            "Trace distance",
            "Collapse",
        ],
        rows,
    )


def _sweeps(data: dict[str, Any], names: dict[str, str]) -> list[str]:
    out = []
    for title, svg in sweep_charts(data, names):
        out += [f"<h2>{_e(title)}</h2>", svg]
    return out


def sweep_charts(data: dict[str, Any], names: dict[str, str]) -> list[tuple[str, str]]:
    """(title, SVG) of each sweep the audit ran: agreement and accuracy against the
    temperature (per budget) and against the thinking budget (per temperature)."""
    conditions = data["conditions"]
    budgets = data["settings"]["think_budgets"]
    temperatures = data["settings"]["temperatures"]
    out = []

    def point(c: dict[str, Any], x: float) -> tuple[float, float | None, float | None]:
        f = c["figures"]
        return (x, f["mean_agreement"], f["majority_accuracy"]["value"])

    if len(temperatures) > 1:
        for b in budgets:
            series = [
                (
                    names.get(key, key),
                    [
                        point(c, c["temperature"])
                        for c in conditions
                        if c["model"] == key and c["think_budget"] == b
                    ],
                )
                for key in names
            ]
            title = f"Agreement and accuracy against temperature (budget {_budget(b)})"
            out.append((title, sweep_chart(series, title, "temperature")))
    if len(budgets) > 1:
        labels = [_budget(b) for b in budgets]
        for t in temperatures:
            series = [
                (
                    names.get(key, key),
                    [
                        point(c, float(budgets.index(c["think_budget"])))
                        for c in conditions
                        if c["model"] == key and c["temperature"] == t
                    ],
                )
                for key in names
            ]
            title = f"Agreement and accuracy against thinking budget (T {t:g})"
            out.append((title, sweep_chart(series, title, "thinking budget (tokens)", labels)))
    return out


def _condition(c: dict[str, Any]) -> list[str]:
    f = c["figures"]
    out = [
        f"<h2>{_e(c['label'])}</h2>",
        agreement_chart(c["questions"], f"Agreement per question: {c['label']}"),
        reliability_chart(f["calibration"], f"Reliability diagram: {c['label']}"),
        _calibration(f),
        _questions(c["questions"]),
    ]
    for q in c["questions"]:
        out.append(_samples(q))
    return out


def _calibration(f: dict[str, Any]) -> str:
    rows = [
        [
            "exactly 100%" if b["low"] == 1.0 else f"{b['low']:.0%}–{b['high']:.0%}",
            str(b["questions"]),
            _DASH if b["mean_agreement"] is None else format_share(b["mean_agreement"]),
            _e(share_text(b["majority_accuracy"])),
        ]
        for b in f["calibration"]
    ]
    ece = f["calibration_error"]
    note = "" if ece is None else f"<p>Expected calibration error {ece:.3f}.</p>"
    return _table(["Agreement", "Questions", "Mean agreement", "Majority accuracy"], rows) + note


def _questions(questions: list[dict[str, Any]]) -> str:
    rows = []
    for q in questions:
        low, high = q["agreement_ci95"]
        agreement = f"{format_share(q['agreement'])} [{format_share(low)}–{format_share(high)}]"
        if q["other_answer_bound"] is not None:
            agreement += f"; others ≤ {format_bound(q['other_answer_bound'])}"
        greedy = q["greedy"]
        rows.append(
            [
                _e(q["id"]),
                str(q["n"]),
                "no answer" if q["majority_is_no_answer"] else _e(q["majority"] or _DASH),
                _e(agreement),
                f"{q['entropy_bits']:.2f} ({q['entropy_bits_mm']:.2f})",
                _e(q["reference"]) if q["reference"] is not None else _DASH,
                {True: "yes", False: "no", None: _DASH}[q["majority_correct"]],
                _e(greedy["extracted"] or "no answer") if greedy else _DASH,
            ]
        )
    return _table(
        [
            "Question",
            "n",
            "Majority",
            "Agreement [95%]",
            "Entropy bits (MM)",
            "Reference",
            "Majority right",
            "Greedy answer",
        ],
        rows,
    )


def _samples(q: dict[str, Any]) -> str:
    groups = "".join(f"<li>{_e(g['answer'])}: {g['count']}</li>" for g in q["groups"])
    shown = q["samples"][:SAMPLES_SHOWN]
    more = len(q["samples"]) - len(shown)
    items = "".join(
        f"<details><summary>sample {s['index']} (seed {s['seed']}, {_e(s['finish_reason'])}"
        f", {s['tokens']} tokens): {_e(s['extracted'] or 'no answer')}</summary>"
        f"<p>Trace:</p><pre>{_e(s['trace'])}</pre><p>Answer:</p><pre>{_e(s['answer'])}</pre>"
        "</details>"
        for s in shown
    )
    tail = f'<p class="note">{more} more samples are in the JSON report.</p>' if more else ""
    return (
        f"<details><summary>{_e(q['id'])}: {_e(q['question'])}</summary>"
        f"<ul>{groups}</ul>{items}{tail}</details>"
    )
