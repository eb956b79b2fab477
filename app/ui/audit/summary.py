"""The set's summary under the table, from the report data the Markdown and HTML use.

Plain text only: model names, answers and the claim are the user's or the model's words
and must show literally. Every share keeps its interval and its n (share_text).
"""

from __future__ import annotations

from typing import Any

from app.core.audit.markdown import budget_cell, mean_agreement_text, share_text
from app.core.consensus.figure_lines import format_share

DASH = "—"


def condition_lines(condition: dict[str, Any], model_name: str) -> list[str]:
    f = condition["figures"]
    single = f["single_sample_accuracy"]
    low, high = f["samples_per_question"]
    n = str(low) if low == high else f"{low}–{high}"
    distance = f["mean_edit_distance"]
    pairs = f["identical_trace_pairs"]
    entropy = f["mean_entropy_bits"]
    return [
        f"{model_name}, T {condition['temperature']:g}, thinking budget {budget_cell(condition)}:"
        f" {f['questions']} questions, n = {n} samples each",
        f"  Mean agreement {mean_agreement_text(f)} (bootstrap 95% over questions)",
        f"  Majority accuracy {share_text(f['majority_accuracy'])}; single sample "
        f"{DASH if single is None else format_share(single)}; first sample "
        f"{share_text(f['first_sample_accuracy'])}; greedy (T 0) "
        f"{share_text(f['greedy_accuracy'])}",
        f"  Questions at 100% agreement {share_text(f['unanimous'])}",
        f"  Entropy mean {DASH if entropy is None else f'{entropy:.2f}'} bits (plug-in); trace "
        f"distance {DASH if distance is None else f'{distance:.3f}'}; identical trace pairs "
        f"{share_text(pairs)}",
        ("  FLAGGED: " if condition["collapse"]["flagged"] else "  ")
        + condition["collapse"]["text"],
    ]


def summary_text(data: dict[str, Any]) -> str:
    """What the window shows once an audit is done: each condition's figures, the collapse
    check, the temperature and budget sweeps, then the claim card."""
    names = {m["key"]: m["name"] for m in data["models"]}
    settings = data["settings"]
    qs = data["question_set"]
    lines = [
        f"{qs['name']}: {qs['questions']} questions ({qs['with_reference']} with a reference), "
        f"{settings['samples']} samples per question, seed {settings['seed']}.",
        "",
    ]
    for condition in data["conditions"]:
        lines += condition_lines(condition, names.get(condition["model"], condition["model"]))
        lines.append("")
    for sweep in data["sweeps"]:
        model = names.get(sweep["model"], sweep["model"])
        budget = "unlimited" if sweep["think_budget"] is None else sweep["think_budget"]
        head = "FLAGGED: " if sweep["flagged"] else ""
        lines.append(f"Temperature sweep, {model}, thinking budget {budget}: {head}{sweep['text']}")
    sweep_lines = _sweep_table(data, names)
    if sweep_lines:
        lines += ["", *sweep_lines]
    claim = data.get("claim")
    if claim:
        lines += ["", "Claim card"]
        for label, card in claim["cards"].items():
            lines.append(f"{label}:")
            lines += [f"  {line}" for line in card]
    timings = data.get("timings") or {}
    seconds = timings.get("this_run_seconds")
    if seconds is not None:
        tokens = timings.get("this_run_completion_tokens") or 0
        lines += ["", f"This run: {seconds:.1f} s, {tokens} completion tokens decoded."]
    return "\n".join(lines).rstrip() + "\n"


def _sweep_table(data: dict[str, Any], names: dict[str, str]) -> list[str]:
    """Agreement and accuracy against temperature and budget, one line per condition,
    when the audit swept either (the HTML report draws them as charts)."""
    settings = data["settings"]
    if len(settings["temperatures"]) < 2 and len(settings["think_budgets"]) < 2:
        return []
    lines = ["Sweeps (mean agreement; majority accuracy):"]
    for c in data["conditions"]:
        f = c["figures"]
        budget = "unlimited" if c["think_budget"] is None else c["think_budget"]
        lines.append(
            f"  {names.get(c['model'], c['model'])}, budget {budget}, T {c['temperature']:g}: "
            f"{mean_agreement_text(f)}; {share_text(f['majority_accuracy'])}"
        )
    return lines
