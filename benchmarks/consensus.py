"""Consensus throughput: N samples decoded together against one after another.

Same question, same seeds, same sampling, same threads. Prints tokens per second and
wall time for both paths, their ratio (targets on a 2-core machine: >= 1.8x at N=8,
>= 2.0x at N=32), the KV cache each batched run allocates and the process's peak RSS.

    python benchmarks/consensus.py [--model PATH] [--sizes 8 32] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.core.batch import sample_seeds  # noqa: E402
from app.core.consensus_run import ConsensusFinished, ConsensusRequest, ConsensusRunner  # noqa: E402
from app.core.engine import Engine, Finished  # noqa: E402
from app.core.sampling import RuntimeParams, SamplingParams, default_threads  # noqa: E402
from tests.fetch_test_model import fetch_test_model  # noqa: E402

QUESTION = [
    {
        "role": "user",
        "content": "A train travels 60 km in 45 minutes. What is its speed in km/h? "
        "Think step by step, then give the answer.",
    }
]


def batched(
    engine: Engine, params: SamplingParams, n: int, unified: bool
) -> tuple[int, float, int]:
    runner = ConsensusRunner(engine)
    request = ConsensusRequest(QUESTION, params, n, kv_unified=unified)
    started = time.perf_counter()
    for event in runner.run(request):
        if isinstance(event, ConsensusFinished):
            report = event.report
            tokens = sum(r.completion_tokens for _, r in report.finished)
            return tokens, time.perf_counter() - started, report.plan.kv_bytes
    raise RuntimeError("no report")


def sequential(engine: Engine, params: SamplingParams, n: int) -> tuple[int, float]:
    tokens = 0
    started = time.perf_counter()
    for seed in sample_seeds(params.seed or 0, n):
        for event in engine.generate(
            QUESTION, SamplingParams(**{**params.to_dict(), "seed": seed})
        ):
            if isinstance(event, Finished):
                tokens += event.result.completion_tokens
    return tokens, time.perf_counter() - started


def peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--gpu-layers", type=int, default=0)
    parser.add_argument("--split-kv", action="store_true", help="one KV stream per sequence")
    args = parser.parse_args()
    model = args.model or fetch_test_model()
    engine = Engine(
        model, RuntimeParams(n_ctx=4096, n_threads=args.threads, n_gpu_layers=args.gpu_layers)
    )
    params = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, max_tokens=args.max_tokens, seed=2024
    )
    unified = not args.split_kv
    batched(engine, params, 2, unified)  # warm-up
    print(
        f"model {model.name}  threads={args.threads}  max_tokens={args.max_tokens}  "
        f"kv={'unified' if unified else 'split'}"
    )
    print(f"{'N':>4} {'path':<11} {'tokens':>7} {'wall s':>8} {'tok/s':>8}")
    for n in args.sizes:
        bt, bs, kv = batched(engine, params, n, unified)
        st, ss = sequential(engine, params, n)
        print(
            f"{n:>4} {'batched':<11} {bt:>7} {bs:>8.2f} {bt / bs:>8.1f}   KV {kv / 1024**2:.0f} MiB"
        )
        print(f"{n:>4} {'sequential':<11} {st:>7} {ss:>8.2f} {st / ss:>8.1f}")
        print(f"     ratio batched/sequential tokens/s = {(bt / bs) / (st / ss):.2f}")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    engine.close()


if __name__ == "__main__":
    main()
