"""Early-stopping rules against the full run, on simulated length-biased samples.

Each simulated run has N samples; the leading answer is long, the wrong answers short
(as measured in issue 11), so the first samples to finish are mostly wrong. For each
rule and leader share the table prints the share of runs whose early majority differs
from the full run's majority, and the mean samples used, deciding either on the complete
prefix by sample index (exchangeable) or on the first finished (sorted by length).

    python benchmarks/early_stop.py [--samples 64] [--runs 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.core.consensus.stopping import RULES, simulate  # noqa: E402

SHARES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"N={args.samples}, {args.runs} runs per cell; cell = disagreement / mean used")
    print(f"{'rule':12} {'order':15} " + " ".join(f"{s:>13}" for s in SHARES))
    for rule in RULES:
        for first in (False, True):
            cells = []
            for share in SHARES:
                wrong, used = simulate(
                    rule,
                    share,
                    first_finished=first,
                    total=args.samples,
                    runs=args.runs,
                    seed=args.seed,
                )
                cells.append(f"{wrong:6.1%} {used:5.1f}")
            order = "first finished" if first else "prefix by index"
            print(f"{rule:12} {order:15} " + " ".join(f"{c:>13}" for c in cells))


if __name__ == "__main__":
    main()
