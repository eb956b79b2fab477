"""Audit throughput against plain consensus runs of the same N, and the time an audit takes.

The audit runs each question as one ConsensusRunner run; this measures what the audit adds
on top (saving each sample, its events, the summary at the end). Same model, questions,
seeds, N, temperature and threads on both paths, so both decode the same tokens:

- consensus: ConsensusRunner.run on each question in turn (what `quorum solve -n N` does);
- audit: AuditRunner over the same questions into a fresh samples file (no greedy
  baseline, which would add one more sample per question), then the summary.

Prints completion tokens per second for both, their ratio (target >= 0.95), and the
audit's wall time with and without the summary. Timings on a shared machine are noisy;
run it on a quiet one. The issue asks for 50 questions x 16 samples on the test model:

    python benchmarks/audit.py --questions 50 --samples 16 [--model PATH] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from app.core.audit.job import AuditConfig, AuditDone, AuditRunner, condition_seed, model_key  # noqa: E402
from app.core.audit.questions import AuditQuestion, QuestionSet, load_question_set  # noqa: E402
from app.core.audit.results import ModelInfo, summarise  # noqa: E402
from app.core.audit.store import SampleStore  # noqa: E402
from app.core.consensus.runner import ConsensusFinished, ConsensusRequest, ConsensusRunner  # noqa: E402
from app.core.inference.engine import Engine  # noqa: E402
from app.core.inference.sampling import RuntimeParams, default_threads  # noqa: E402
from tests.fetch_test_model import fetch_test_model  # noqa: E402

SEED = 2026


def question_set(count: int) -> QuestionSet:
    """The bundled sets, repeated with fresh ids until there are `count` questions."""
    pool = [*load_question_set("arithmetic").questions, *load_question_set("choice").questions]
    questions = tuple(
        AuditQuestion(
            f"{pool[i % len(pool)].id}#{i // len(pool)}",
            pool[i % len(pool)].question,
            pool[i % len(pool)].answer,
        )
        for i in range(count)
    )
    return QuestionSet(f"bench-{count}", questions, f"bench-{count}")


def consensus_runs(engine: Engine, config: AuditConfig) -> tuple[int, float]:
    """Plain consensus runs of each question with the seeds the audit uses."""
    runner = ConsensusRunner(engine)
    base = engine.default_sampling(config.thinking)
    tokens, started = 0, time.perf_counter()
    for q in config.questions.questions:
        sampling = replace(
            base,
            temperature=config.temperatures[0],
            max_tokens=config.max_tokens,
            seed=condition_seed(SEED, q.id),
        )
        request = ConsensusRequest(
            [{"role": "user", "content": q.question}], sampling, config.samples, config.thinking
        )
        for event in runner.run(request):
            if isinstance(event, ConsensusFinished):
                tokens += event.report.tokens
    return tokens, time.perf_counter() - started


def audit_run(engine: Engine, config: AuditConfig, folder: Path) -> tuple[int, float, float]:
    with SampleStore(
        folder / "bench.samples.jsonl", seed=SEED, set_sha256=config.questions.sha256
    ) as store:
        runner = AuditRunner(config, store, lambda _path: engine)
        started = time.perf_counter()
        done = None
        for event in runner.run():
            if isinstance(event, AuditDone):
                done = event
        decoded = time.perf_counter() - started
        path = config.models[0]
        summarise(config, store, [ModelInfo(model_key(path), path.stem, str(path))])
        total = time.perf_counter() - started
    assert done is not None
    return done.tokens, decoded, total


class _KeepOpen(Engine):
    """The benchmark's one engine, shared by both paths: the audit closes each model it
    opens, which here must leave the engine loaded for the next measurement."""

    def close(self) -> None:
        pass

    def really_close(self) -> None:
        super().close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=min(2, default_threads()))
    args = parser.parse_args()
    path = args.model or fetch_test_model()
    config = AuditConfig(
        question_set(args.questions),
        (path,),
        args.samples,
        (args.temperature,),
        max_tokens=args.max_tokens,
        greedy=False,
    )
    engine = _KeepOpen(path, RuntimeParams(n_ctx=4096, n_threads=args.threads))
    try:
        c_tokens, c_seconds = consensus_runs(engine, config)
        with tempfile.TemporaryDirectory() as folder:
            a_tokens, a_decoded, a_total = audit_run(engine, config, Path(folder))
    finally:
        engine.really_close()
    c_tps, a_tps = c_tokens / c_seconds, a_tokens / a_total
    print(
        f"model {path.name}, {args.questions} questions x {args.samples} samples, "
        f"T {args.temperature:g}, max {args.max_tokens} tokens, {args.threads} threads"
    )
    print(f"consensus runs: {c_tokens} tokens in {c_seconds:.1f} s = {c_tps:.1f} tok/s")
    print(
        f"audit:          {a_tokens} tokens in {a_total:.1f} s = {a_tps:.1f} tok/s "
        f"(decoding {a_decoded:.1f} s, summary {a_total - a_decoded:.1f} s)"
    )
    print(f"audit / consensus throughput: {a_tps / c_tps:.3f} (target >= 0.95)")
    if c_tokens != a_tokens:
        print(f"note: the paths decoded different token counts ({c_tokens} vs {a_tokens})")


if __name__ == "__main__":
    main()
