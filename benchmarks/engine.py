"""Engine overhead: Quorum's engine against plain llama-cpp-python, side by side.

Both generate from the same rendered prompt with the same seed, sampling settings and
thread count; runs alternate so background load hits both alike. Prints tokens per
second for each and their ratio (target: engine / plain >= 0.95), for every llama.cpp
configuration (app.core.inference.cpu_probe) that survives on this CPU: each is first tried in
a probe child, then measured in a process of its own, so a crashing one is reported
and skipped instead of killing the benchmark.

    python benchmarks/engine.py [--model PATH] [--tokens 256] [--rounds 5] [--config NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.core.inference.cpu_probe import CONFIGS, FORCE_ENV, config_named, run_child  # noqa: E402
from app.core.inference.engine import Engine, Finished  # noqa: E402
from app.core.inference.sampling import RuntimeParams, SamplingParams, default_threads  # noqa: E402
from tests.fetch_test_model import fetch_test_model  # noqa: E402

QUESTION = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper."}]


def run_engine(
    engine: Engine, params: SamplingParams, token_stats: bool = False
) -> tuple[int, float]:
    started = time.perf_counter()
    for event in engine.generate(QUESTION, params, token_stats=token_stats):
        if isinstance(event, Finished):
            return event.result.completion_tokens, time.perf_counter() - started
    raise RuntimeError("no result")


def run_plain(llm: object, prompt: str, params: SamplingParams) -> tuple[int, float]:
    started = time.perf_counter()
    out = llm.create_completion(  # type: ignore[attr-defined]
        prompt,
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=params.top_k,
        min_p=params.min_p,
        repeat_penalty=params.repeat_penalty,
        seed=params.seed,
    )
    return int(out["usage"]["completion_tokens"]), time.perf_counter() - started


def plain_llama(model: Path, threads: int, gpu_layers: int, use_extra_bufts: bool) -> object:
    """llama-cpp-python's own Llama, under the same configuration as the engine."""
    import llama_cpp.llama_cpp as low
    from llama_cpp import Llama

    # Llama takes no use_extra_bufts argument; it builds its params from this function.
    default_params = low.llama_model_default_params

    def with_config() -> object:
        params = default_params()
        params.use_extra_bufts = use_extra_bufts
        return params

    low.llama_model_default_params = with_config
    try:
        return Llama(str(model), n_ctx=2048, n_threads=threads, n_threads_batch=threads,
                     n_gpu_layers=gpu_layers, verbose=False)  # fmt: skip
    finally:
        low.llama_model_default_params = default_params


def measure(args: argparse.Namespace, model: Path) -> None:
    config = config_named(args.config)
    os.environ[FORCE_ENV] = config.name
    runtime = RuntimeParams(n_ctx=2048, n_threads=args.threads, n_gpu_layers=args.gpu_layers)
    engine = Engine(model, runtime)
    llm = plain_llama(model, args.threads, args.gpu_layers, config.use_extra_bufts)
    prompt = engine.render_prompt(QUESTION, None)
    params = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, max_tokens=args.tokens, seed=1234
    )
    run_engine(engine, params), run_plain(llm, prompt, params)  # warm-up
    engine_rates, plain_rates, stats_rates = [], [], []
    for _ in range(args.rounds):
        n, s = run_engine(engine, params)
        engine_rates.append(n / s)
        n2, s2 = run_plain(llm, prompt, params)
        plain_rates.append(n2 / s2)
        n3, s3 = run_engine(engine, params, token_stats=True)
        stats_rates.append(n3 / s3)
    e, p = statistics.median(engine_rates), statistics.median(plain_rates)
    t = statistics.median(stats_rates)
    print(f"[{config.name}] {config.description}")
    print(f"  quorum engine    {e:8.1f} tok/s  (median of {args.rounds}; tokens last run {n})")
    print(f"  llama-cpp-python {p:8.1f} tok/s  (median of {args.rounds}; tokens last run {n2})")
    print(f"  ratio engine/plain = {e / p:.3f}  (target >= 0.95)")
    print(f"  with token stats {t:8.1f} tok/s: {t / e:.3f} of the engine without (target >= 0.95)")
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--gpu-layers", type=int, default=0)
    parser.add_argument("--config", help="measure this configuration only, in this process")
    args = parser.parse_args()
    model = args.model or fetch_test_model()
    if args.config:
        measure(args, model)
        return
    print(f"model {model.name}  threads={args.threads}  max_tokens={args.tokens}")
    for config in CONFIGS:
        attempt = run_child(model, config)
        if attempt.outcome != "ok":
            print(f"[{config.name}] skipped: the probe child {attempt.outcome} ({attempt.detail})")
            continue
        rest = [a for a in sys.argv[1:] if a != "--config"]
        subprocess.run([sys.executable, __file__, *rest, "--model", str(model),
                        "--config", config.name], check=False)  # fmt: skip


if __name__ == "__main__":
    main()
