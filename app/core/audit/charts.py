"""The audit's charts as inline SVG text: agreement per question, the reliability diagram,
and agreement and accuracy against temperature (or thinking budget).

Plain SVG strings with no script and no external reference, so the HTML report stays one
self-contained file. Every label passes through html.escape: model names and answers are
not Quorum's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

RIGHT, WRONG, UNGRADED, NO_ANSWER = "#2e7d32", "#c62828", "#757575", "#d5d5d5"
SERIES = ("#1565c0", "#ef6c00", "#6a1b9a", "#00838f")
_W, _H, _PAD = 640, 240, 44


def _frame(width: int, height: int, title: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _axes(width: int, height: int, x_label: str, y_label: str) -> list[str]:
    left, bottom = _PAD, height - _PAD
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{left}" y1="10" x2="{left}" y2="{bottom}" stroke="#333"/>',
        f'<text x="{width / 2:.0f}" y="{height - 8}" text-anchor="middle" '
        f'font-size="12">{escape(x_label)}</text>',
        f'<text x="12" y="{height / 2:.0f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 12 {height / 2:.0f})">{escape(y_label)}</text>',
    ]
    for tick in (0.0, 0.5, 1.0):
        y = _y(tick, height)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{tick:.0%}</text>"
        )
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>'
        )
    return parts


def _y(share: float, height: int) -> float:
    return height - _PAD - share * (height - _PAD - 10)


def agreement_chart(questions: Sequence[dict[str, Any]], title: str) -> str:
    """One bar per question (its agreement), its Wilson 95% interval as a whisker; green
    where the majority is right, red where wrong, dark grey without a reference, light
    grey where most samples gave no answer."""
    n = max(1, len(questions))
    step = min(40.0, (_W - _PAD - 20) / n)
    width = int(_PAD + 20 + step * n)
    body = _axes(width, _H, "questions (in set order)", "agreement")
    for i, q in enumerate(questions):
        x = _PAD + 6 + i * step
        colour = {True: RIGHT, False: WRONG, None: UNGRADED}[q["majority_correct"]]
        if q["majority_is_no_answer"]:
            colour = NO_ANSWER
        top, bottom = _y(q["agreement"], _H), _y(0.0, _H)
        low, high = q["agreement_ci95"]
        mid = x + step * 0.35
        body.append(
            f'<rect x="{x:.1f}" y="{top:.1f}" width="{step * 0.7:.1f}" '
            f'height="{bottom - top:.1f}" fill="{colour}">'
            f"<title>{escape(str(q['id']))}: {q['agreement']:.0%} of {q['n']}</title></rect>"
        )
        body.append(
            f'<line x1="{mid:.1f}" y1="{_y(low, _H):.1f}" x2="{mid:.1f}" '
            f'y2="{_y(high, _H):.1f}" stroke="#000" stroke-width="1"/>'
        )
    return _frame(width, _H, title, body)


def reliability_chart(bins: Sequence[dict[str, Any]], title: str) -> str:
    """Majority accuracy against mean agreement per bin, sized by questions, with Wilson
    whiskers; the diagonal is perfect calibration."""
    body = _axes(_W, _H, "mean agreement in bin", "majority accuracy")
    span = _W - _PAD - 10
    for tick in (0.0, 0.5, 1.0):
        body.append(
            f'<text x="{_PAD + tick * span:.1f}" y="{_H - _PAD + 14}" text-anchor="middle" '
            f'font-size="10">{tick:.0%}</text>'
        )
    body.append(
        f'<line x1="{_PAD}" y1="{_y(0, _H):.1f}" x2="{_PAD + span}" y2="{_y(1, _H):.1f}" '
        'stroke="#999" stroke-dasharray="4 3"/>'
    )
    for b in bins:
        if not b["questions"] or b["mean_agreement"] is None:
            continue
        acc = b["majority_accuracy"]
        x = _PAD + b["mean_agreement"] * span
        low, high = acc["ci95"]
        radius = 3 + min(12, b["questions"] ** 0.5 * 2)
        body.append(
            f'<line x1="{x:.1f}" y1="{_y(low, _H):.1f}" x2="{x:.1f}" y2="{_y(high, _H):.1f}" '
            'stroke="#000"/>'
        )
        body.append(
            f'<circle cx="{x:.1f}" cy="{_y(acc["value"] or 0.0, _H):.1f}" r="{radius:.1f}" '
            f'fill="{SERIES[0]}" fill-opacity="0.7"><title>{b["questions"]} questions: '
            f"accuracy {acc['k']}/{acc['n']}</title></circle>"
        )
    return _frame(_W, _H, title, body)


def sweep_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float | None, float | None]]]],
    title: str,
    x_label: str,
    x_names: Sequence[str] | None = None,
) -> str:
    """Per model, mean agreement (solid) and majority accuracy (dashed) at each x.

    series: (model name, [(x, mean agreement, majority accuracy), ...]); x_names, when
    given, label the x positions (budgets: "0", "256", "unlimited") evenly spaced.
    """
    xs = sorted({x for _, points in series for x, _, _ in points})
    if not xs:
        return _frame(_W, _H, title, _axes(_W, _H, x_label, "share"))
    span = _W - _PAD - 30

    def px(x: float) -> float:
        if x_names is not None or len(xs) == 1 or xs[-1] == xs[0]:
            return _PAD + 10 + xs.index(x) * span / max(1, len(xs) - 1)
        return _PAD + 10 + (x - xs[0]) / (xs[-1] - xs[0]) * span

    body = _axes(_W, _H, x_label, "share")
    for i, x in enumerate(xs):
        name = x_names[i] if x_names is not None else f"{x:g}"
        body.append(
            f'<text x="{px(x):.1f}" y="{_H - _PAD + 14}" text-anchor="middle" font-size="10">'
            f"{escape(name)}</text>"
        )
    for k, (name, points) in enumerate(series):
        colour = SERIES[k % len(SERIES)]
        for which, dash in ((1, ""), (2, ' stroke-dasharray="5 3"')):
            coords = [(px(p[0]), _y(v, _H)) for p in points if (v := p[which]) is not None]
            if coords:
                path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
                body.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{dash}/>'
                )
                body += [
                    f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in coords
                ]
        body.append(
            f'<text x="{_PAD + 8}" y="{22 + 14 * k}" font-size="11" fill="{colour}">'
            f"{escape(name)}: agreement (solid), majority accuracy (dashed)</text>"
        )
    return _frame(_W, _H, title, body)
