"""A real audit on the SmolLM2 test model: 2 questions x 4 samples (kept tiny for CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.audit.job import (
    AuditConfig,
    AuditDone,
    AuditProgress,
    AuditRunner,
    ConditionDone,
    condition_seed,
    model_key,
)
from app.core.audit.questions import parse_question_set
from app.core.audit.results import ModelInfo, summarise
from app.core.audit.samples import GREEDY
from app.core.audit.store import SampleStore
from app.core.consensus.batch import sample_seeds
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams

pytestmark = [pytest.mark.model, pytest.mark.slow]

SET = parse_question_set(
    b'{"id": "mul", "question": "What is 7 * 8? Answer with a number.", "answer": "56"}\n'
    b'{"id": "add", "question": "What is 2 + 3? Answer with a number.", "answer": "5"}\n',
    name="tiny.jsonl",
)


def _config(model: Path) -> AuditConfig:
    return AuditConfig(SET, (model,), samples=4, temperatures=(0.8,), max_tokens=32)


def _open(path: Path) -> Engine:
    return Engine(path, RuntimeParams(n_ctx=1024, n_threads=2))


def test_real_audit_saves_every_sample_and_resumes_without_redoing(
    test_model_path: Path, tmp_path: Path
) -> None:
    config = _config(test_model_path)
    path = tmp_path / "tiny.samples.jsonl"
    with SampleStore(path, seed=123, set_sha256=SET.sha256) as store:
        events = list(AuditRunner(config, store, _open).run())
        progress = [e for e in events if isinstance(e, AuditProgress)]
        assert [p.done for p in progress] == list(range(1, 11))  # 2 x (4 + greedy)
        assert progress[-1].total == 10 and progress[-1].eta_seconds == 0
        done = events[-1]
        assert isinstance(done, AuditDone) and done.new_samples == 10 and done.tokens > 0
        assert [e.reused for e in events if isinstance(e, ConditionDone)] == [False, False]
        key = model_key(test_model_path)
        results = summarise(config, store, [ModelInfo(key, "smol", str(test_model_path))])
    (condition,) = results.conditions
    for q in condition.questions:
        assert q.n == 4 and q.stats.n == 4
        samples = condition.samples[q.question_id]
        seeds = sample_seeds(condition_seed(123, q.question_id), 4)
        assert [s.seed for s in samples] == seeds, "sample i uses seed i of its condition"
        assert condition.greedy[q.question_id].index == GREEDY
    assert condition.figures.questions == 2
    assert condition.figures.greedy_accuracy.n == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 10
    # Again on the same file: nothing left to decode, the same figures.
    with SampleStore(path, seed=999, set_sha256=SET.sha256) as store:
        runner = AuditRunner(config, store, _open)
        assert runner.store_count() == 10
        again = list(runner.run())
        assert not [e for e in again if isinstance(e, AuditProgress)]
        assert isinstance(again[-1], AuditDone) and again[-1].new_samples == 0
        same = summarise(config, store, [ModelInfo(key, "smol", str(test_model_path))])
    assert same.conditions[0].figures == condition.figures
    assert path.read_text(encoding="utf-8").splitlines() == lines


def test_real_budget_sweep_records_where_traces_were_cut(
    test_model_path: Path, tmp_path: Path
) -> None:
    from tests.core.inference.test_chat_template import OPENS_THINK_TEMPLATE
    from tests.gguf_edit import copy_with_string

    # SmolLM2 with a template that opens <think>: it never closes it, so only the budget can.
    model = copy_with_string(
        test_model_path, tmp_path / "r1.gguf", "tokenizer.chat_template", OPENS_THINK_TEMPLATE
    )
    one = parse_question_set(
        b'{"id": "mul", "question": "What is 7 * 8?", "answer": "56"}\n', name="one.jsonl"
    )
    config = AuditConfig(
        one,
        (model,),
        samples=2,
        temperatures=(0.8,),
        think_budgets=(0, 5),
        max_tokens=16,
        greedy=False,
    )
    with SampleStore(tmp_path / "b.jsonl", seed=4, set_sha256=one.sha256) as store:
        list(AuditRunner(config, store, _open).run())
        results = summarise(config, store, [ModelInfo(model_key(model), "r1", str(model))])
    by_budget = {c.think_budget: c for c in results.conditions}
    assert set(by_budget) == {0, 5}
    for budget, condition in by_budget.items():
        samples = condition.samples["mul"]
        assert [s.trace_cut_at for s in samples] == [budget, budget]
        assert condition.figures.trace_cuts == 2
    assert all(s.trace == "" for s in by_budget[0].samples["mul"]), "B = 0: no thinking"
    assert all(s.trace for s in by_budget[5].samples["mul"])
