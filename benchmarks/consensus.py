"""Consensus throughput: N samples decoded together against one after another.

Same question, same seeds, same sampling, same threads. Prints tokens per second and
wall time for both paths and their ratio (targets on a 2-core machine: >= 1.8x at
N=8, >= 2.0x at N=32), the KV cache each batched run allocates and the peak RSS.

Two workloads, both reported:
- "long": a request for a long text, so every sample runs to max tokens. This is the
  steady state llama.cpp's own batched bench measures.
- "maths": a short word problem whose samples end at different lengths; as samples
  finish the batch thins out, so this ratio is lower and closer to a typical run.

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

from app.core.consensus.batch import sample_seeds  # noqa: E402
from app.core.consensus.runner import ConsensusFinished, ConsensusRequest, ConsensusRunner  # noqa: E402
from app.core.inference.engine import Engine, Finished, Message  # noqa: E402
from app.core.inference.sampling import RuntimeParams, SamplingParams, default_threads  # noqa: E402
from tests.fetch_test_model import fetch_test_model  # noqa: E402

WORKLOADS: dict[str, list[Message]] = {
    "long": [{"role": "user", "content": "Write a long, detailed story about a lighthouse."}],
    "maths": [
        {
            "role": "user",
            "content": "A train travels 60 km in 45 minutes. What is its speed in km/h? "
            "Think step by step, then give the answer.",
        }
    ],
}


def batched(
    engine: Engine, question: list[Message], params: SamplingParams, n: int, unified: bool
) -> tuple[int, float, int]:
    runner = ConsensusRunner(engine)
    request = ConsensusRequest(question, params, n, kv_unified=unified)
    started = time.perf_counter()
    for event in runner.run(request):
        if isinstance(event, ConsensusFinished):
            report = event.report
            tokens = sum(r.completion_tokens for _, r in report.finished)
            return tokens, time.perf_counter() - started, report.plan.kv_bytes
    raise RuntimeError("no report")


def sequential(
    engine: Engine, question: list[Message], params: SamplingParams, n: int
) -> tuple[int, float]:
    tokens = 0
    started = time.perf_counter()
    for seed in sample_seeds(params.seed or 0, n):
        seeded = SamplingParams(**{**params.to_dict(), "seed": seed})
        for event in engine.generate(question, seeded):
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
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--unified-kv", action="store_true", help="one KV stream for all")
    args = parser.parse_args()
    model = args.model or fetch_test_model()
    runtime = RuntimeParams(n_ctx=4096, n_threads=args.threads, n_gpu_layers=args.gpu_layers)
    engine = Engine(model, runtime)
    params = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, max_tokens=args.max_tokens, seed=2024
    )
    unified = args.unified_kv
    batched(engine, WORKLOADS["maths"], params, 2, unified)  # warm-up
    kv = "unified" if unified else "split"
    print(f"model {model.name}  threads={args.threads}  max_tokens={args.max_tokens}  kv={kv}")
    print(f"{'workload':<8} {'N':>4} {'path':<11} {'tokens':>7} {'wall s':>8} {'tok/s':>8}")
    for name in args.workloads:
        question = WORKLOADS[name]
        for n in args.sizes:
            bt, bs, kv_bytes = batched(engine, question, params, n, unified)
            st, ss = sequential(engine, question, params, n)
            mib = kv_bytes / 1024**2
            print(
                f"{name:<8} {n:>4} {'batched':<11} {bt:>7} {bs:>8.2f} {bt / bs:>8.1f}"
                f"   KV {mib:.0f} MiB"
            )
            print(f"{name:<8} {n:>4} {'sequential':<11} {st:>7} {ss:>8.2f} {st / ss:>8.1f}")
            print(
                f"{name:<8} {n:>4} ratio batched/sequential tokens/s = {(bt / bs) / (st / ss):.2f}"
            )
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    engine.close()


if __name__ == "__main__":
    main()
