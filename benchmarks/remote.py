"""Consensus through Quorum's server engine against the same llama-server request sent directly.

N=8 samples x 128 tokens: Quorum (ServerConsensusRunner: probe, template, n_cmpl
stream, splitter, grouping, statistics) against one hand-made streamed ``/completion``
request with the same prompt tokens, sampling, seed and ``n_cmpl``, so both decode the
same tokens. Prints aggregate completion tok/s of each and the ratio (goal: >= 0.9).

    python benchmarks/remote.py                 # starts llama-server with the test model
    python benchmarks/remote.py --url http://127.0.0.1:8080 [--api-key-env VAR]

Timings on a shared machine are noisy: it prints every repetition and the median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402

from app.core.consensus.runner import ConsensusFinished, ConsensusRequest  # noqa: E402
from app.core.inference.cpu_probe import FORCE_ENV, choose_config  # noqa: E402
from app.core.inference.sampling import SamplingParams  # noqa: E402
from app.core.remote.config import make_config  # noqa: E402
from app.core.remote.engine import ServerEngine  # noqa: E402
from app.core.remote.protocol import completion_body  # noqa: E402
from app.core.remote.runner import ServerConsensusRunner  # noqa: E402

QUESTION = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]


def through_quorum(
    runner: ServerConsensusRunner, sampling: SamplingParams, n: int
) -> tuple[float, float]:
    """Aggregate tok/s, and this process's CPU seconds per 1,000 tokens (its overhead)."""
    cpu = time.process_time()
    started = time.perf_counter()
    for event in runner.run(ConsensusRequest(QUESTION, sampling, samples=n)):
        if isinstance(event, ConsensusFinished):
            report = event.report
    seconds = time.perf_counter() - started
    assert report.error is None, report.error
    return report.tokens / seconds, (time.process_time() - cpu) * 1000 / max(1, report.tokens)


def direct(
    engine: ServerEngine, tokens: list[int], sampling: SamplingParams, n: int
) -> tuple[float, float]:
    body = {**completion_body(tokens, sampling, sampling.seed or 0, n), "stream": True}
    headers = {"Authorization": f"Bearer {engine.config.api_key}"} if engine.config.api_key else {}
    produced = 0
    cpu = time.process_time()
    started = time.perf_counter()
    with httpx2.stream(
        "POST", f"{engine.config.base_url}/completion", json=body, headers=headers, timeout=600
    ) as response:
        for event in httpx2.EventSource(response):
            if event.data.strip() == "[DONE]":
                break
            payload = event.json()
            if isinstance(payload, dict) and payload.get("stop"):
                produced += int(payload.get("tokens_predicted") or 0)
    seconds = time.perf_counter() - started
    return produced / seconds, (time.process_time() - cpu) * 1000 / max(1, produced)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running llama-server (default: start one)")
    parser.add_argument("--api-key-env", help="environment variable with its API key")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.url
        if url is None:
            from tests.fetch_test_model import fetch_test_model
            from tests.llama_server import LlamaServer

            model = fetch_test_model()
            os.environ.setdefault(FORCE_ENV, choose_config(model).config.name)
            server = LlamaServer(model, parallel=args.samples, threads=args.threads,
                                 ctx_per_slot=512 + args.tokens)  # fmt: skip
            url = stack.enter_context(server).url
            print(f"llama-server: {' '.join(server.command[1:])}")
        key = os.environ.get(args.api_key_env) if args.api_key_env else None
        engine = stack.enter_context(ServerEngine(make_config(url, api_key=key)))
        print("probe: " + "; ".join(engine.capabilities.lines()))
        runner = ServerConsensusRunner(engine)
        sampling = SamplingParams(temperature=0.8, top_p=0.95, top_k=40, min_p=0.05,
                                  max_tokens=args.tokens, seed=1234)  # fmt: skip
        tokens, _, _ = runner.prepare(ConsensusRequest(QUESTION, sampling, samples=args.samples))
        quorum_rates, direct_rates = [], []
        for i in range(args.repeat):
            rate, direct_cpu = direct(engine, tokens, sampling, args.samples)
            direct_rates.append(rate)
            rate, quorum_cpu = through_quorum(runner, sampling, args.samples)
            quorum_rates.append(rate)
            print(
                f"run {i + 1}: direct {direct_rates[-1]:7.1f} tok/s "
                f"({direct_cpu:.2f} client CPU s / 1k tokens)   Quorum "
                f"{quorum_rates[-1]:7.1f} tok/s ({quorum_cpu:.2f} CPU s / 1k tokens)"
            )
        d, q = statistics.median(direct_rates), statistics.median(quorum_rates)
        print(
            f"N={args.samples} x {args.tokens} tokens, median of {args.repeat}: direct n_cmpl "
            f"{d:.1f} tok/s, through Quorum {q:.1f} tok/s, ratio {q / d:.2f}"
        )


if __name__ == "__main__":
    main()
