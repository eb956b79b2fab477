"""Consensus throughput: Quorum's batched sampler beside llama.cpp's own batched bench.

For each N, in one run and interleaved in pairs of alternating order (Quorum then bench,
bench then Quorum, ...) so that a machine shared with other work slows both sides
alike, this prints:
- Quorum's aggregate completion tokens per second (BatchSampler, N samples of one
  long-text question, every sample to max tokens unless it ends first),
- ``llama-batched-bench``'s for the same shape (shared prompt of the same length,
  ``-npl N``, ``-ntg`` max tokens, same threads, context cells per sequence, batch,
  KV layout and repacking choice), generated tokens over prompt + generation time,
- the ratio: the median over pairs (one Quorum run and one bench run, next to each
  other) of Quorum's rate over the bench's, with the pairs' quartiles. This VM's speed drifts by
  10% from one run to the next, more than the gap being measured, so a point repeats
  pairs until it has at least --repeats of them and has run --seconds: small N, whose
  runs take seconds, get tens of pairs; a pair's two runs are close in time, so a drift
  slows both,
- Quorum's peak RSS in that run against model + planned KV + 300 MiB (this process's,
  so an earlier run's heap counts; benchmarks/consensus_memory.py measures each point
  in a fresh process, and RSS figures, unlike speed, hold on a busy machine),
- how long making that shape's llama.cpp context takes ("new ctx"), and whether the
  timed runs reused it ("kept": it is no larger than the engine's own context, or its
  KV cache is small, so it stays open between batches, app/core/inference/contexts.py).
  Where it is not kept, each timed run pays for making it; the bench never does, so
  "no ctx" gives the ratio by the bench's own accounting as well: each Quorum run's
  time less its context's making (llama.cpp's work, measured in that run). The bench
  leaves out one more cost: with split caches, copying the prompt into each sequence
  (its untimed dummy decode applies the copies; Quorum's first step pays them).

A "refill" row runs more samples than slots (default 512 samples, 256 in parallel)
against the bench's rate at 256 sequences: slots are refilled as samples end.

Targets (issue 11): ratio >= 0.95 at N = 8, 32, 64 and >= 0.9 at 256; RSS within bound.

    python benchmarks/consensus.py [--sizes 8 32 64 256] [--refill 512 256]
        [--tokens 32] [--repeats 2] [--seconds 60] [--unified-kv] [--model PATH]
    python benchmarks/consensus.py --against sequential   # batched vs one by one
    python benchmarks/consensus.py --against token-stats --sizes 8   # stats on vs off

The token-stats mode runs the same N samples (same seeds, so the same tokens) with
per-token confidence off and on, interleaved, and prints both rates and their ratio
(issue 12's target: on >= 0.95 of off at N = 8).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.core.consensus.batch import BatchFinished, BatchSampler, sample_seeds  # noqa: E402
from app.core.consensus.memory_plan import (  # noqa: E402
    ConsensusPlan,
    context_spec,
    plan_consensus,
)
from app.core.consensus.runner import ConsensusRequest, ConsensusRunner  # noqa: E402
from app.core.inference.backend import ContextSpec  # noqa: E402
from app.core.inference.contexts import ContextHolder  # noqa: E402
from app.core.inference.engine import Engine, Finished, FinishReason, Message  # noqa: E402
from app.core.inference.sampling import RuntimeParams, SamplingParams, default_threads  # noqa: E402
from benchmarks.batched_bench import BenchShape, run_bench  # noqa: E402
from tests.fetch_test_model import fetch_test_model  # noqa: E402

LONG: list[Message] = [
    {"role": "user", "content": "Write a long, detailed story about a lighthouse."}
]
MIB = 1024**2
RSS_MARGIN = 300 * MIB  # beyond the model file and the planned KV cache
MAX_PAIRS = 40  # enough for a median; more only lengthens the run


def reset_peak_rss() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_bytes() -> int | None:
    """The process's peak resident memory since the last reset, where Linux tells it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class TimedContexts(ContextHolder):
    """The engine's kind of context holder, adding up the time spent opening contexts."""

    opening = 0.0

    def open(self, spec: ContextSpec) -> Any:
        started = time.perf_counter()
        try:
            return super().open(spec)
        finally:
            self.opening += time.perf_counter() - started


@dataclass(frozen=True)
class QuorumRun:
    """One BatchSampler run: tokens, wall time (context set-up included), memory."""

    tokens: int
    seconds: float
    ended_early: int  # samples that reached end-of-text before max tokens
    peak_rss: int | None
    setup: float = 0.0  # of the seconds, llama.cpp making (or emptying) the context

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def decoding_tokens_per_second(self) -> float:
        """The rate the bench's own accounting gives: context set-up left out."""
        return self.tokens / (self.seconds - self.setup)


def quorum_run(
    sampler: BatchSampler, prompt: list[int], sampling: SamplingParams, plan: ConsensusPlan,
    token_stats: bool = False,
) -> QuorumRun:  # fmt: skip
    reset_peak_rss()
    timed = sampler.contexts if isinstance(sampler.contexts, TimedContexts) else None
    opened = timed.opening if timed else 0.0
    started = time.perf_counter()
    seeds = sample_seeds(sampling.seed or 0, plan.samples)
    for event in sampler.run(prompt, sampling, seeds, plan, token_stats=token_stats):
        if isinstance(event, BatchFinished):
            seconds = time.perf_counter() - started
            if event.error:
                raise RuntimeError(event.error)
            early = sum(
                r is not None and r.finish_reason is FinishReason.STOP for r in event.results
            )
            setup = timed.opening - opened if timed else 0.0
            return QuorumRun(event.tokens, seconds, early, peak_rss_bytes(), setup)
    raise RuntimeError("the batch never finished")


def compare(args: argparse.Namespace) -> None:
    from tests.llama_tools import tool_path

    tool = tool_path("llama-batched-bench")
    model = args.model or fetch_test_model()
    engine = Engine(model, RuntimeParams(n_threads=args.threads))
    sampling = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, max_tokens=args.tokens, seed=2024
    )
    prompt = ConsensusRunner(engine).prepare(ConsensusRequest(LONG, sampling, 2))[0]
    # As ConsensusRunner does: the batch opens its context in place of the engine's, and
    # keeps it for the next batch of the same shape when it is no larger or its KV cache
    # is small (contexts.py).
    engine.release_context()
    contexts = TimedContexts(
        engine.model, idle_cells=engine.n_ctx, cell_bytes=engine.contexts.cell_bytes
    )
    sampler = BatchSampler(engine.model, args.threads, contexts)
    repack = engine.llama_config.config.use_extra_bufts
    points = [(n, n) for n in args.sizes]
    if args.refill:
        points.append((args.refill[0], args.refill[1]))
    kv = "unified" if args.unified_kv else "split"
    print(
        f"model {model.name} ({model.stat().st_size / MIB:.0f} MiB)  threads={args.threads}  "
        f"prompt={len(prompt)} tokens  max_tokens={args.tokens}  kv={kv}  "
        f"repack={'on' if repack else 'off'}  pairs: >= {args.repeats} and >= {args.seconds:.0f} s "
        "a point (pairs in alternating order)"
    )
    header = (
        f"{'samples':>7} {'par':>4} {'quorum t/s':>11} {'bench t/s':>10} {'ratio':>6} "
        f"{'quartiles':>11} {'no ctx':>6} {'pairs':>5} {'early':>5} {'peak RSS':>9} "
        f"{'bound':>8} {'new ctx':>8} {'kept':>4}"
    )
    print(header)
    for samples, parallel in points:
        plan = _plan(engine, samples, parallel, len(prompt), args)
        shape = BenchShape(model, args.threads, plan.n_ctx, 512, 512, plan.kv_unified, repack)
        ours: list[QuorumRun] = []
        theirs: list[float] = []
        # The bench warms up before it times; so does Quorum, on the same shape. The
        # warm-up also times making this shape's context, which the timed runs then
        # reuse where it is small enough to stay open ("kept"), as a user's next run would.
        setup = context_setup_seconds(contexts, plan, args.threads)
        quorum_run(sampler, prompt, sampling, plan)
        kept = contexts.spec == context_spec(plan, args.threads)
        started = time.perf_counter()
        while len(ours) < MAX_PAIRS and (
            len(ours) < args.repeats or time.perf_counter() - started < args.seconds
        ):
            # Each pair takes the other order from the last (A B, B A, ...): a side that
            # always ran first would always meet the machine as the other left it.
            bench_first = len(ours) % 2 == 1
            if bench_first:
                row = run_bench(tool, shape, len(prompt), args.tokens, plan.parallel)
            ours.append(quorum_run(sampler, prompt, sampling, plan))
            if not bench_first:
                row = run_bench(tool, shape, len(prompt), args.tokens, plan.parallel)
            theirs.append(row.tokens_per_second)
        q = statistics.median(r.tokens_per_second for r in ours)
        b = statistics.median(theirs)
        pairs = [r.tokens_per_second / t for r, t in zip(ours, theirs, strict=True)]
        ratio, low, high = paired_ratio(pairs)
        bare = [r.decoding_tokens_per_second / t for r, t in zip(ours, theirs, strict=True)]
        bound = model.stat().st_size + plan.kv_bytes + RSS_MARGIN
        rss = max((r.peak_rss or 0) for r in ours)
        print(
            f"{samples:>7} {plan.parallel:>4} {q:>11.1f} {b:>10.1f} {ratio:>6.3f} "
            f"{low:>5.2f}-{high:<5.2f} {paired_ratio(bare)[0]:>6.3f} {len(pairs):>5} "
            f"{max(r.ended_early for r in ours):>5} "
            f"{rss / MIB if rss else float('nan'):>5.0f} MiB {bound / MIB:>4.0f} MiB"
            + ("" if rss <= bound else "  OVER")
            + f" {setup * 1000:>5.0f} ms {'yes' if kept else 'no':>4}"
        )
    engine.close()


def paired_ratio(pairs: list[float]) -> tuple[float, float, float]:
    """The median of the pairs' ratios, with the lower and upper quartile."""
    if len(pairs) < 2:
        return pairs[0], pairs[0], pairs[0]
    low, middle, high = statistics.quantiles(pairs, n=4, method="inclusive")
    return middle, low, high


def context_setup_seconds(contexts: ContextHolder, plan: ConsensusPlan, threads: int) -> float:
    """How long llama.cpp takes to make (and free) a context of this plan's shape."""
    contexts.release()
    started = time.perf_counter()
    contexts.open(context_spec(plan, threads))
    contexts.release()
    return time.perf_counter() - started


def _plan(
    engine: Engine, samples: int, parallel: int, prompt: int, args: argparse.Namespace
) -> ConsensusPlan:
    return plan_consensus(
        engine.info,
        samples=samples,
        prompt_tokens=prompt,
        max_tokens=args.tokens,
        max_parallel=parallel,
        kv_unified=args.unified_kv,
    )


def against_sequential(args: argparse.Namespace) -> None:
    """N samples batched against the same N one after another on the single engine."""
    model = args.model or fetch_test_model()
    engine = Engine(model, RuntimeParams(n_threads=args.threads))
    params = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, max_tokens=args.tokens, seed=2024
    )
    runner = ConsensusRunner(engine)
    prompt = runner.prepare(ConsensusRequest(LONG, params, 2))[0]
    sampler = BatchSampler(engine.model, args.threads, engine.contexts)
    print(f"model {model.name}  threads={args.threads}  max_tokens={args.tokens}")
    for n in args.sizes:
        batched = quorum_run(sampler, prompt, params, _plan(engine, n, n, len(prompt), args))
        tokens, started = 0, time.perf_counter()
        for seed in sample_seeds(params.seed or 0, n):
            seeded = SamplingParams(**{**params.to_dict(), "seed": seed})
            for event in engine.generate(LONG, seeded):
                if isinstance(event, Finished):
                    tokens += event.result.completion_tokens
        one_by_one = tokens / (time.perf_counter() - started)
        print(
            f"N={n:>4} batched {batched.tokens_per_second:8.1f} tok/s  sequential "
            f"{one_by_one:8.1f} tok/s  ratio {batched.tokens_per_second / one_by_one:.2f}"
        )
    engine.close()


def against_token_stats(args: argparse.Namespace) -> None:
    """The same N samples with token confidence off and on, interleaved."""
    model = args.model or fetch_test_model()
    engine = Engine(model, RuntimeParams(n_threads=args.threads))
    params = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, max_tokens=args.tokens, seed=2024
    )
    prompt = ConsensusRunner(engine).prepare(ConsensusRequest(LONG, params, 2))[0]
    sampler = BatchSampler(engine.model, args.threads, engine.contexts)
    print(f"model {model.name}  threads={args.threads}  max_tokens={args.tokens}  "
          f"repeats={args.repeats} (interleaved off, on)")  # fmt: skip
    for n in args.sizes:
        plan = _plan(engine, n, n, len(prompt), args)
        quorum_run(sampler, prompt, params, plan, token_stats=True)  # warm-up
        off, on = [], []
        for _ in range(args.repeats):
            off.append(quorum_run(sampler, prompt, params, plan).tokens_per_second)
            on.append(quorum_run(sampler, prompt, params, plan, True).tokens_per_second)
        pairs = [b / a for a, b in zip(off, on, strict=True)]
        a, b = statistics.median(off), statistics.median(on)
        print(
            f"N={n:>4} stats off {a:8.1f} tok/s  on {b:8.1f} tok/s  on/off {b / a:.3f} "
            f"(pairs {min(pairs):.3f}-{max(pairs):.3f}; target >= 0.95)"
        )
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--against", choices=("batched-bench", "sequential", "token-stats"),
                        default="batched-bench")  # fmt: skip
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32, 64, 256])
    parser.add_argument(
        "--refill", type=int, nargs=2, metavar=("SAMPLES", "PARALLEL"), default=[512, 256],
        help="more samples than slots; 0 0 to skip",
    )  # fmt: skip
    parser.add_argument("--tokens", type=int, default=32, help="max tokens per sample (-ntg)")
    parser.add_argument("--repeats", type=int, default=2, help="fewest pairs a point")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="keep adding pairs until a point has run this long")  # fmt: skip
    parser.add_argument("--threads", type=int, default=min(2, default_threads()))
    parser.add_argument("--unified-kv", action="store_true", help="one KV stream for all")
    args = parser.parse_args()
    if args.refill and 0 in args.refill:
        args.refill = None
    if args.against == "sequential":
        against_sequential(args)
    elif args.against == "token-stats":
        against_token_stats(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
