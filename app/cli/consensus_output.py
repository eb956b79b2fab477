"""How ``quorum solve --samples N`` (local or on a server) shows a consensus run: on
stderr as it goes, as a readable table at the end, and in its exit code."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterator
from typing import Any

from app.cli.errors import EXIT_CANCELLED, EXIT_OK
from app.core.consensus.figure_lines import figure_lines, same_samples_warning
from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.record import basis_of
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusReport,
    ConsensusRequest,
    ConsensusSample,
    ConsensusStarted,
)
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


def follow_consensus(
    events: Iterator[Any], request: ConsensusRequest,
    describe: Callable[[ConsensusPlan], str], as_json: bool,
) -> ConsensusReport:  # fmt: skip
    """Show a consensus run on stderr as it goes (the greedy warning, its plan, a progress
    line on a terminal) and return its report. The events' errors reach the caller."""
    progress = sys.stderr.isatty() and not as_json
    if request.sampling.deterministic:
        print(f"quorum: warning: {same_samples_warning(request.samples)}", file=sys.stderr)
    report = None
    for event in events:
        if isinstance(event, ConsensusStarted):
            print(f"quorum: {describe(event.plan)}", file=sys.stderr)
        elif isinstance(event, ConsensusSample) and progress:
            sys.stderr.write(
                f"\r{event.stats.n}/{request.samples} samples finished; "
                f"leading: {event.stats.majority}   "
            )
            sys.stderr.flush()
        elif isinstance(event, ConsensusFinished):
            report = event.report
    if progress:
        sys.stderr.write("\n")
    if report is None:
        raise RuntimeError("consensus ended without a report")
    return report


def consensus_exit_code(report: ConsensusReport, error_code: int) -> int:
    """Cancelled, failed (error_code: the engine's kind of failure) or ok, said on stderr."""
    if report.cancelled:
        print("quorum: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    if report.error:
        print(f"quorum: error: {report.error}", file=sys.stderr)
        return error_code
    return EXIT_OK
