"""DeepConf, the fork and the spots on the real test model's statistics (a few seeds)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.confidence.deepconf import WINDOW, sample_confidence
from app.core.confidence.fork import fork_between
from app.core.confidence.spots import uncertain_spots
from app.core.inference.engine import Engine, Finished, GenerationResult
from app.core.inference.sampling import RuntimeParams, SamplingParams

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def results(test_model_path: Path) -> Iterator[list[GenerationResult]]:
    messages = [{"role": "user", "content": "Is seven a prime number? Answer briefly."}]
    out = []
    with Engine(test_model_path, RuntimeParams(n_ctx=1024)) as engine:
        for seed in (1, 2, 3):
            sampling = SamplingParams(temperature=1.0, top_k=40, top_p=0.95, min_p=0.0,
                                      max_tokens=48, seed=seed)  # fmt: skip
            for event in engine.generate(messages, sampling, None, token_stats=True):
                if isinstance(event, Finished):
                    out.append(event.result)
    yield out


def test_deepconf_on_real_stats_matches_a_plain_loop(results: list[GenerationResult]) -> None:
    for result in results:
        stats = result.token_stats
        assert stats is not None and len(stats) == result.completion_tokens > 0
        per_token = [-sum(row) / len(row) for row in stats.top_logprobs]
        window = min(WINDOW, len(per_token))
        groups = [sum(per_token[s : s + window]) / window
                  for s in range(len(per_token) - window + 1)]  # fmt: skip
        lowest = sorted(groups)[: max(1, len(groups) // 10)]
        confidence = sample_confidence(stats)
        assert confidence is not None
        assert confidence == pytest.approx(sum(lowest) / len(lowest), rel=1e-9)
        assert 0 < min(per_token) <= confidence <= max(per_token)


def test_fork_of_real_samples_shares_exactly_the_prefix(results: list[GenerationResult]) -> None:
    first, second = results[0].token_stats, results[1].token_stats
    assert first is not None and second is not None
    fork = fork_between("one", "two", {"one": [first], "two": [second]})
    assert fork is not None
    at = fork.position
    assert first.token_ids[:at] == second.token_ids[:at]
    assert fork.prefix_text == "".join(first.texts[t] for t in first.token_ids[:at])
    nexts = {b.token_id for b in fork.branches}
    assert len(nexts) == 2  # the seeds differ in what they wrote, so they part somewhere
    if at < min(len(first), len(second)):
        assert first.token_ids[at] != second.token_ids[at]


def test_spots_on_real_stats_are_the_least_likely_tokens(results: list[GenerationResult]) -> None:
    stats = results[0].token_stats
    assert stats is not None
    spots = uncertain_spots(stats, "answer", limit=3, threshold=1.0)
    assert spots == sorted(spots) and len(spots) == min(3, len(stats))
    worst = max(math.exp(stats.logprob[i]) for i in spots)
    others = [math.exp(p) for i, p in enumerate(stats.logprob) if i not in spots]
    assert all(p >= worst - 1e-12 for p in others if stats.ends[0] >= 0)
