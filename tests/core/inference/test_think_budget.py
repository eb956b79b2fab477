"""The thinking budget: the closing text from the template, the counting, and the real
engine and batched sampler closing a trace the model would never close itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.consensus.runner import ConsensusFinished, ConsensusRequest, ConsensusRunner
from app.core.inference.engine import Engine, Finished, GenerationResult
from app.core.inference.reasoning import Channel
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.inference.think_budget import ThinkBudget, check_budget, closing_text
from tests.core.inference.test_chat_template import HYBRID_TEMPLATE, OPENS_THINK_TEMPLATE
from tests.gguf_edit import copy_with_string

QUESTION = [{"role": "user", "content": "What is 3 + 4?"}]
CLOSE = [901, 902]


def test_closing_text_follows_the_template() -> None:
    assert closing_text(HYBRID_TEMPLATE) == "</think>\n\n"
    one_break = HYBRID_TEMPLATE.replace("</think>\n\n{% endif %}", "</think>\n{% endif %}")
    assert closing_text(one_break) == "</think>\n"
    assert closing_text(OPENS_THINK_TEMPLATE) == "</think>\n\n"  # no toggle: the default
    assert closing_text(None) == "</think>\n\n"


def _drive(budget: ThinkBudget, channels: list[Channel]) -> list[int]:
    """Feed the budget one channel per step; sampled tokens are 1, 2, 3, ..."""
    counter = iter(range(1, 100))
    accepted: list[int] = []
    tokens = []
    for channel in channels:
        tokens.append(budget.next_token(lambda: next(counter), accepted.append))
        budget.observe(channel)
    assert accepted == [t for t in tokens if t in CLOSE], "forced tokens reach the chain"
    return tokens


def test_budget_closes_after_b_trace_tokens() -> None:
    budget = ThinkBudget(3, CLOSE, starts_in_trace=True)
    T, A = Channel.TRACE, Channel.ANSWER
    tokens = _drive(budget, [T, T, T, T, T, A, A])
    # Three trace tokens, then the two closing tokens in place of samples, then answer.
    assert tokens == [1, 2, 3, 901, 902, 4, 5]
    assert budget.cut_at == 3 and budget.trace_tokens == 3


def test_answer_tokens_do_not_count_and_a_closed_trace_is_left_alone() -> None:
    budget = ThinkBudget(2, CLOSE, starts_in_trace=False)
    T, A = Channel.TRACE, Channel.ANSWER
    assert _drive(budget, [A, A, T, A, A]) == [1, 2, 3, 4, 5]  # the model closed it at 1
    assert budget.cut_at is None and budget.trace_tokens == 1


def test_zero_budget_means_no_thinking() -> None:
    opened = ThinkBudget(0, CLOSE, starts_in_trace=True)
    assert _drive(opened, [Channel.TRACE, Channel.ANSWER, Channel.ANSWER]) == [901, 902, 1]
    assert opened.cut_at == 0
    self_opened = ThinkBudget(0, CLOSE, starts_in_trace=False)
    T, A = Channel.TRACE, Channel.ANSWER
    assert _drive(self_opened, [T, T, A, A]) == [1, 901, 902, 2]  # closed after its <think>
    assert self_opened.cut_at == 0
    with pytest.raises(ValueError, match="0 or more"):
        check_budget(-1)


@pytest.fixture(scope="module")
def thinking_engine(
    test_model_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    # SmolLM2 with a template that opens <think>: it never writes </think> itself, so
    # without a budget everything it writes is trace (see test_chat_template).
    model = copy_with_string(
        test_model_path,
        tmp_path_factory.mktemp("think") / "r1.gguf",
        "tokenizer.chat_template",
        OPENS_THINK_TEMPLATE,
    )
    with Engine(model, RuntimeParams(n_ctx=1024, n_threads=2)) as engine:
        yield engine


def _generate(engine: Engine, budget: int | None, seed: int = 3) -> GenerationResult:
    params = SamplingParams(temperature=0.0, seed=seed, max_tokens=24)
    final = list(engine.generate(QUESTION, params, None, budget))[-1]
    assert isinstance(final, Finished)
    return final.result


@pytest.mark.model
def test_engine_closes_the_trace_and_the_model_answers(thinking_engine: Engine) -> None:
    unlimited = _generate(thinking_engine, None)
    assert unlimited.answer == "" and unlimited.trace_cut_at is None
    capped = _generate(thinking_engine, 6)
    assert capped.trace_cut_at == 6 and capped.answer.strip(), "the model answers after the cut"
    assert len(capped.trace) < len(unlimited.trace)
    assert unlimited.trace.startswith(capped.trace.strip()), "the same trace, cut short"
    none = _generate(thinking_engine, 0)
    assert none.trace == "" and none.trace_cut_at == 0 and none.answer.strip()


@pytest.mark.model
def test_batched_samples_are_cut_like_the_single_engine(thinking_engine: Engine) -> None:
    greedy = SamplingParams(temperature=0.0, seed=3, max_tokens=24)
    request = ConsensusRequest(QUESTION, greedy, 2, think_budget=6)
    final = list(ConsensusRunner(thinking_engine).run(request))[-1]
    assert isinstance(final, ConsensusFinished)
    single = _generate(thinking_engine, 6)
    for _, result in final.report.finished:
        assert result.trace_cut_at == 6
        assert (result.trace, result.answer) == (single.trace, single.answer)
