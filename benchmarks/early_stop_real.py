"""Seconds and samples an early stop saves on a real run, both measured.

The same question, seed and N, run once with early stop off and once with each rule,
side by side in one process on the same loaded model: wall seconds, samples decoded,
samples and seconds saved, and whether the early majority is the full run's.

    python benchmarks/early_stop_real.py [--model PATH] [--samples 64] [--seeds 1 2 3]
        [--question TEXT]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import cast

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.core.consensus.runner import (  # noqa: E402
    ConsensusFinished,
    ConsensusReport,
    ConsensusRequest,
    ConsensusRunner,
)
from app.core.consensus.stopping import EarlyStopChoice  # noqa: E402
from app.core.inference.engine import Engine  # noqa: E402
from app.core.inference.sampling import RuntimeParams, SamplingParams  # noqa: E402
from tests.fetch_test_model import fetch_test_model  # noqa: E402

QUESTION = "What is 2+3?"


def run(
    engine: Engine, samples: int, seed: int, rule: str, max_tokens: int, question: str
) -> tuple[ConsensusReport, float]:
    sampling = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=max_tokens, seed=seed)
    mode = cast(EarlyStopChoice, rule)
    request = ConsensusRequest(
        [{"role": "user", "content": question}], sampling, samples, None, mode
    )
    started = time.perf_counter()
    report = None
    for event in ConsensusRunner(engine).run(request):
        if isinstance(event, ConsensusFinished):
            report = event.report
    assert report is not None
    return report, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--rules", nargs="+", default=["beta", "settled"])
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()
    model = args.model or fetch_test_model()
    with Engine(model, RuntimeParams(n_ctx=4096)) as engine:
        print(
            f"{model.name}, N={args.samples}, max {args.max_tokens} tokens, "
            f"{engine.runtime.n_threads} threads"
        )
        print(
            f"{'seed':>4} {'rule':8} {'seconds':>8} {'decoded':>7} {'saved':>5} "
            f"{'s saved':>8} {'est.':>6} {'majority':>10} {'same':>5}"
        )
        for seed in args.seeds:
            full, full_s = run(engine, args.samples, seed, "off", args.max_tokens, args.question)
            print(
                f"{seed:>4} {'off':8} {full_s:8.1f} {len(full.finished):7} {0:5} "
                f"{'':>8} {'':>6} {full.stats.majority!s:>10}"
            )
            for rule in args.rules:
                early, early_s = run(
                    engine, args.samples, seed, rule, args.max_tokens, args.question
                )
                same = early.stats.majority == full.stats.majority
                estimate = early.seconds_saved_estimate
                print(
                    f"{seed:>4} {rule:8} {early_s:8.1f} {len(early.finished):7} "
                    f"{early.saved:5} {full_s - early_s:8.1f} "
                    f"{estimate if estimate is not None else float('nan'):6.1f} "
                    f"{early.stats.majority!s:>10} {'yes' if same else 'NO':>5}"
                )


if __name__ == "__main__":
    main()
