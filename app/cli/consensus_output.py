"""How ``quorum solve --samples N`` shows a consensus run as a readable table."""

from __future__ import annotations

import statistics
import sys

from app.core.consensus.runner import ConsensusReport

BAR_WIDTH = 30


def _bar(share: float) -> str:
    return "█" * max(1 if share > 0 else 0, round(share * BAR_WIDTH))


def print_consensus_table(report: ConsensusReport) -> None:
    stats = report.stats
    out = sys.stdout
    done = report.finished
    out.write(
        f"\nConsensus over {stats.n} of {len(report.samples)} samples "
        f"(seed {report.sampling.seed}; {report.plan.describe()})\n\n"
    )
    width = max([6, *(len(label) for label, _, _ in stats.groups)])
    width = min(width, 40)
    out.write(f"  {'answer':<{width}}  count  share\n")
    for label, count, _members in stats.groups:
        share = count / stats.n if stats.n else 0.0
        shown = label if len(label) <= width else label[: width - 1] + "…"
        out.write(f"  {shown:<{width}}  {count:>5}  {share:>5.0%}  {_bar(share)}\n")
    low, high = stats.agreement_ci95
    leader = stats.majority if stats.majority is not None else "(no answer leads)"
    out.write(
        f"\nMajority: {leader}; agreement {stats.agreement:.0%} "
        f"(95% Wilson interval {low:.0%}–{high:.0%})\n"
    )
    out.write(
        f"Entropy: {stats.entropy_bits:.2f} bits (Miller–Madow {stats.entropy_bits_mm:.2f}); "
        f"distinct answers: {stats.distinct}; no answer: {stats.no_answer}\n"
    )
    if done:
        tokens = statistics.mean(r.completion_tokens for _, r in done)
        seconds = statistics.mean(r.seconds for _, r in done)
        out.write(
            f"Per sample: {tokens:.1f} tokens, {seconds:.2f} s on average; "
            f"{report.tokens / report.seconds if report.seconds else 0:.1f} tokens/s "
            "over the whole run\n"
        )
    if report.stopped_early:
        out.write(f"Early stop saved {report.saved} samples: {report.early_stop_reason}\n")
    if stats.note:
        out.write(f"Note: {stats.note}\n")
