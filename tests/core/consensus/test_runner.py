"""Consensus runs on the real SmolLM2 model: batched decoding, grouping, early stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.answers.grouping import NO_ANSWER
from app.core.consensus.memory_plan import plan_consensus
from app.core.consensus.runner import (
    ConsensusError,
    ConsensusFinished,
    ConsensusReport,
    ConsensusRequest,
    ConsensusRunner,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.inference.contexts import kv_bytes_per_token
from app.core.inference.engine import Engine, Finished
from app.core.inference.sampling import RuntimeParams, SamplingParams

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is 7 * 8? Answer with a number."}]
PARAMS = SamplingParams(temperature=0.8, top_p=0.95, top_k=40, min_p=0.05, max_tokens=40, seed=5)


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=2048)) as eng:
        yield eng


def run(engine: Engine, request: ConsensusRequest) -> tuple[list[object], ConsensusReport]:
    events = list(ConsensusRunner(engine).run(request))
    final = events[-1]
    assert isinstance(final, ConsensusFinished)
    return events, final.report


def test_samples_have_own_seeds_and_reproduce(engine: Engine) -> None:
    events, report = run(engine, ConsensusRequest(QUESTION, PARAMS, 8))
    assert isinstance(events[0], ConsensusStarted)
    assert len(report.finished) == 8
    seeds = [r.seed for _, r in report.finished]
    assert len(set(seeds)) == 8 and seeds == report.seeds
    assert len({r.answer for _, r in report.finished}) > 1, "samples must differ"
    assert report.stats.n == 8
    assert sum(count for _, count, _ in report.stats.groups) == 8
    live = [e for e in events if isinstance(e, ConsensusSample)]
    assert [e.stats.n for e in live] == list(range(1, 9)), "statistics grow sample by sample"
    _, again = run(engine, ConsensusRequest(QUESTION, PARAMS, 8))
    assert [r.answer for _, r in again.finished] == [r.answer for _, r in report.finished]


def test_sample_matches_single_run_with_its_seed(engine: Engine) -> None:
    # Greedy decoding removes sampling noise; the batched logits must lead to the same
    # text as the one-sequence engine.
    greedy = replace(PARAMS, temperature=0.0)
    _, report = run(engine, ConsensusRequest(QUESTION, greedy, 3))
    single = next(e for e in engine.generate(QUESTION, greedy) if isinstance(e, Finished))
    assert {r.answer for _, r in report.finished} == {single.result.answer}
    assert report.stats.deterministic and report.stats.agreement == 1.0
    assert "construction" in (report.stats.note or "")


def test_more_samples_than_slots_refills(engine: Engine) -> None:
    per_token = kv_bytes_per_token(engine.info)
    budget = per_token * 300  # room for about two samples of 40 tokens beside the prompt
    _, report = run(engine, ConsensusRequest(QUESTION, PARAMS, 7, budget_bytes=budget))
    assert report.plan.parallel < 7 and report.plan.limited_by == "memory"
    assert len(report.finished) == 7
    assert len(set(report.seeds)) == 7


def test_cancel_keeps_finished_samples(engine: Engine) -> None:
    runner = ConsensusRunner(engine)
    report: ConsensusReport | None = None
    long = replace(PARAMS, max_tokens=200, temperature=1.2)
    for event in runner.run(ConsensusRequest(QUESTION, long, 24)):
        if isinstance(event, ConsensusSample) and event.stats.n == 2:
            threading.Thread(target=runner.cancel).start()
        if isinstance(event, ConsensusFinished):
            report = event.report
    assert report is not None and report.cancelled
    assert 2 <= len(report.finished) < 24
    assert report.stats.n == len(report.finished)


def test_early_stop_when_leader_cannot_lose(engine: Engine) -> None:
    greedy = replace(PARAMS, temperature=0.0)
    _, report = run(engine, ConsensusRequest(QUESTION, greedy, 16, early_stop="cannot_lose"))
    assert report.stopped_early
    assert report.saved == 16 - len(report.finished) > 0
    assert "still lead" in (report.early_stop_reason or "")


def test_no_answer_is_its_own_group(engine: Engine) -> None:
    # One token is too few to reach an answer: every sample lands in "no answer"
    # or gets a number; none is silently dropped.
    tiny = replace(PARAMS, max_tokens=1)
    _, report = run(engine, ConsensusRequest(QUESTION, tiny, 4))
    assert report.stats.n == 4
    labels = [label for label, _, _ in report.stats.groups]
    assert report.stats.no_answer == 0 or NO_ANSWER in labels


def test_sample_count_limits(engine: Engine) -> None:
    for n in (1, 513):
        with pytest.raises(ConsensusError, match="between 2 and 512"):
            list(ConsensusRunner(engine).run(ConsensusRequest(QUESTION, PARAMS, n)))


def test_plan_for_a_4b_model_at_512_samples_is_bounded(engine: Engine) -> None:
    per_token = kv_bytes_per_token(engine.info)
    assert per_token == 30 * 3 * (64 + 64) * 2  # SmolLM2-135M: 30 layers, 3 KV heads of 64
    plan = plan_consensus(
        engine.info, samples=512, prompt_tokens=100, max_tokens=2048, budget_bytes=1024**3
    )
    assert plan.parallel < 256 and plan.kv_bytes <= 1024**3 * 1.01
    assert plan.waves >= 2 and plan.limited_by == "memory"
    assert "MiB" in plan.describe()


def test_early_stop_decides_on_the_prefix_by_index(engine: Engine) -> None:
    # Sampled, but cool enough that the small model mostly agrees with itself.
    easy = [{"role": "user", "content": "What is 2 + 2? Answer with a number."}]
    cool = replace(PARAMS, temperature=0.1)
    request = ConsensusRequest(easy, cool, 16, early_stop="beta")
    _, report = run(engine, request)
    assert report.stopped_early, report.stats.groups
    k = report.decided_on
    assert k is not None and 2 <= k < 16
    assert all(r is not None for r in report.samples[:k]), "a complete prefix"
    assert report.stats.n == k, "the figures use the prefix, not whatever finished"
    assert k <= len(report.finished) <= 16
    assert report.saved == 16 - len(report.finished)
    assert report.seconds_saved_estimate is not None and report.seconds_saved_estimate > 0
    assert "complete prefix" in (report.early_stop_reason or "")
    _, again = run(engine, request)
    assert again.decided_on == k
    assert [r.answer if r else None for r in again.samples] == [
        r.answer if r else None for r in report.samples
    ]
    assert again.stats.groups == report.stats.groups
