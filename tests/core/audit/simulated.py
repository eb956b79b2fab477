"""Simulated sample results, fed straight into the audit's aggregation (no model runs).

Named as such: these stand in for decoded samples only where a test checks the figures
on hand-computed cases; the real end-to-end audit is in test_job.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.core.audit.samples import AuditSample


def simulated_samples(
    answers: Sequence[str | None], traces: Sequence[str] | None = None
) -> list[AuditSample]:
    traces = traces if traces is not None else ["" for _ in answers]
    return [
        AuditSample(
            index=i,
            seed=1000 + i,
            trace=trace,
            answer=f"Answer: {a}",
            extracted=a,
            finish_reason="stop",
            tokens=10,
            seconds=0.1,
        )
        for i, (a, trace) in enumerate(zip(answers, traces, strict=True))
    ]


HEALTHY_TRACES = [
    "First multiply seven by six to get forty two, then the answer follows directly.",
    "Seven sixes: six plus six is twelve, twelve more is twenty four, and so on to 42.",
    "I recall the times table; 7 x 6 sits on the sixth row, which reads forty-two.",
    "Break it up: 7 x 5 = 35 and one more seven makes 42, so that is the product.",
    "Doubling three sevens, 21, gives 42; a quick check with 6 x 7 agrees with it.",
    "Count by sevens six times: 7, 14, 21, 28, 35, 42 and stop at the sixth step.",
    "Using 6 x 7 = (6 x 10) - (6 x 3) = 60 - 18 = 42 gives the result in one line.",
    "Square of six is 36, add one more six for 42; I think that is right here too.",
]
