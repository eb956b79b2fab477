"""How ``quorum solve --samples N`` shows a consensus run as a readable table."""

from __future__ import annotations

import statistics
import sys

from app.core.consensus.figure_lines import figure_lines
from app.core.consensus.record import basis_of
from app.core.consensus.runner import ConsensusReport
from app.core.consensus.summary import consensus_json

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
    out.write("\n")
    for name, text in figure_lines(stats, basis_of(consensus_json(report))).rows():
        out.write(f"{name}: {text}\n")
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
