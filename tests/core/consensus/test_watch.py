"""Watching one sample of a consensus run: its text so far rides on each progress event.

On the real SmolLM2 model: the watched sample's text is absent until it starts, then
grows a token a step, and ends as the start of its finished result.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from app.core.consensus.batch import BatchSampler, BatchStep, SampleFinished, sample_seeds
from app.core.consensus.memory_plan import plan_consensus
from app.core.consensus.report import sample_record
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusProgress,
    ConsensusRequest,
    ConsensusRunner,
)
from app.core.consensus.sampler import WatchedSample
from app.core.inference.engine import Engine, GenerationResult
from app.core.inference.sampling import RuntimeParams, SamplingParams

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "Name a colour and say why you like it."}]
PARAMS = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05, max_tokens=12, seed=3)


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=512, n_threads=2)) as eng:
        yield eng


def _assert_grows_into(seen: Sequence[WatchedSample], result: GenerationResult) -> None:
    """Each view extends the one before by a token; the last is the start of the result."""
    assert len(seen) >= 2, "the sample was never seen decoding"
    for before, after in itertools.pairwise(seen):
        assert after.tokens == before.tokens + 1
        assert after.trace.startswith(before.trace) and after.answer.startswith(before.answer)
    last = seen[-1]
    assert result.answer.startswith(last.answer) and result.trace.startswith(last.trace)
    # A sample cut by max tokens is retired in the step that fed its last token.
    assert last.tokens in (result.completion_tokens, result.completion_tokens - 1)
    assert len(last.answer) + len(last.trace) > 0


def test_watched_sample_is_absent_until_it_starts_then_grows(engine: Engine) -> None:
    prompt = engine.model.tokenize(engine.render_prompt(QUESTION, None))
    plan = plan_consensus(engine.info, samples=3, prompt_tokens=len(prompt),
                          max_tokens=PARAMS.max_tokens, budget_bytes=1024**3)  # fmt: skip
    sampler = BatchSampler(engine.model, 2)
    sampler.watch(2)
    finished: dict[int, GenerationResult] = {}
    seen: list[WatchedSample] = []
    events = sampler.run(prompt, PARAMS, sample_seeds(3, 3), plan, max_in_flight=1)
    for event in events:
        if isinstance(event, SampleFinished):
            finished[event.index] = event.result
        elif isinstance(event, BatchStep):
            if 1 not in finished:  # one sample at a time: sample 3 waits for the first two
                assert event.watched is None
            elif 2 not in finished:
                assert event.watched is not None and event.watched.index == 2
                seen.append(event.watched)
    assert sorted(finished) == [0, 1, 2]
    _assert_grows_into(seen, finished[2])


def test_runner_watches_by_sample_index_when_a_resumed_run_skips_kept_ones(
    engine: Engine,
) -> None:
    # The sampler decodes only the samples a resumed run lacks, by position in its own
    # seed list; the runner maps the index the window asked for onto that position.
    first = ConsensusRequest(QUESTION, PARAMS, 3)
    events = list(ConsensusRunner(engine).run(first))
    final = events[-1]
    assert isinstance(final, ConsensusFinished)
    done = final.report.samples
    assert all(r is not None for r in done)
    kept = {0: sample_record(0, done[0], final.report.groups[0])}  # type: ignore[arg-type]
    runner = ConsensusRunner(engine)
    runner.watch(2)
    resumed = ConsensusRequest(QUESTION, PARAMS, 3, kept=kept)
    watched = [
        e.watched
        for e in runner.run(resumed)
        if isinstance(e, ConsensusProgress) and e.watched is not None
    ]
    assert {w.index for w in watched} == {2}
    result = done[2]
    assert result is not None  # the same seed: the same text as in the first run
    _assert_grows_into(watched, result)
