"""The batched sampler on the real SmolLM2 model: shared prompt, refilled slots, memory."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp as llama
import pytest

from app.core.consensus.batch import BatchFinished, BatchSampler, sample_seeds
from app.core.consensus.memory_plan import ConsensusPlan, plan_consensus
from app.core.inference.contexts import ContextHolder
from app.core.inference.engine import Engine
from app.core.inference.sampling import RuntimeParams, SamplingParams

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[3]
QUESTION = [{"role": "user", "content": "Name a colour and say why you like it."}]
PARAMS = SamplingParams(temperature=0.9, top_p=0.95, top_k=40, min_p=0.05, max_tokens=6, seed=11)
MIB = 1024**2


@pytest.fixture(scope="module")
def engine(test_model_path: Path) -> Iterator[Engine]:
    with Engine(test_model_path, RuntimeParams(n_ctx=512, n_threads=2)) as eng:
        yield eng


def _prompt(engine: Engine) -> list[int]:
    return engine.model.tokenize(engine.render_prompt(QUESTION, None))


def _plan(engine: Engine, samples: int, slots: int) -> ConsensusPlan:
    return plan_consensus(
        engine.info, samples=samples, prompt_tokens=len(_prompt(engine)),
        max_tokens=PARAMS.max_tokens, max_parallel=slots, budget_bytes=1024**3,
    )  # fmt: skip


def _texts(
    engine: Engine, plan: ConsensusPlan, sampler: BatchSampler | None = None, **options: Any
) -> list[str]:
    sampler = sampler or BatchSampler(engine.model, 2)
    seeds = sample_seeds(PARAMS.seed or 0, plan.samples)
    events = list(sampler.run(_prompt(engine), PARAMS, seeds, plan, **options))
    final = events[-1]
    assert isinstance(final, BatchFinished) and final.error is None
    assert all(r is not None for r in final.results)
    return [r.trace + r.answer for r in final.results if r is not None]


def test_refilled_slots_start_from_the_shared_prompt(engine: Engine) -> None:
    # Two slots for four samples: each refill reuses a slot cut back to the prompt.
    # A slot that kept a token of its last sample, or lost one of the prompt's, would
    # condition the next sample on other text and change it.
    wide, narrow = _plan(engine, 4, 4), _plan(engine, 4, 2)
    assert (wide.parallel, narrow.parallel, narrow.waves) == (4, 2, 2)
    together = _texts(engine, wide)
    assert len(set(together)) > 1, "seeded samples must differ"
    assert _texts(engine, narrow) == together


def test_in_flight_cap_below_the_slots_gives_the_same_samples(engine: Engine) -> None:
    plan = _plan(engine, 3, 3)
    assert _texts(engine, plan, max_in_flight=1) == _texts(engine, plan)


def test_a_batch_in_a_kept_context_draws_what_a_fresh_context_draws(engine: Engine) -> None:
    plan = _plan(engine, 3, 3)
    fresh = _texts(engine, plan)
    holder = ContextHolder(engine.model, idle_cells=plan.n_ctx)
    sampler = BatchSampler(engine.model, 2, holder)
    cancelled = sampler.run(_prompt(engine), PARAMS, sample_seeds(5, 3), plan)
    next(cancelled)  # one step in, with llama.cpp's abort callback possibly set
    sampler.cancel()
    assert isinstance(list(cancelled)[-1], BatchFinished)
    kept = holder.spec
    assert kept is not None and kept.n_ctx == plan.n_ctx
    # The cells the cancelled run wrote, and the first run's, must not show through.
    assert _texts(engine, plan, sampler) == fresh
    assert _texts(engine, plan, sampler) == fresh
    assert holder.spec == kept
    holder.release()


_PEAK_RSS_CHILD = """
import json, sys
from pathlib import Path
from typing import Any
from app.core.consensus.batch import BatchFinished, BatchSampler, sample_seeds
from app.core.consensus.memory_plan import plan_consensus
from app.core.inference.backend import LoadedModel
from app.core.inference.cpu_probe import choose_config
from app.core.inference.sampling import SamplingParams
from app.core.models.gguf import read_gguf_info

path, samples, max_tokens = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
model = LoadedModel(path, use_extra_bufts=choose_config(path).config.use_extra_bufts)
prompt = model.tokenize("<|im_start|>user\\nTell me a story.<|im_end|>\\n<|im_start|>assistant\\n")
# The plan has room for max_tokens a sample, so its KV cache (allocated and cleared
# whole when the context is made) is large; one token a sample keeps it quick (every
# buffer is in use from the first step on).
plan = plan_consensus(read_gguf_info(path), samples=samples, prompt_tokens=len(prompt),
                      max_tokens=max_tokens, budget_bytes=4 * 1024**3)
sampling = SamplingParams(temperature=0.8, max_tokens=1, seed=3)
for event in BatchSampler(model, 2).run(prompt, sampling, sample_seeds(3, samples), plan):
    if isinstance(event, BatchFinished):
        assert event.error is None and event.tokens > 0
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"peak": hwm, "kv": plan.kv_bytes, "parallel": plan.parallel}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
@pytest.mark.parametrize(
    ("slots", "max_tokens"), [(32, 400), pytest.param(256, 32, marks=pytest.mark.slow)]
)
def test_peak_memory_stays_within_model_kv_and_300_mib(
    test_model_path: Path, slots: int, max_tokens: int
) -> None:
    # A fresh process, so the peak is this run's: interpreter, model, KV, buffers. At
    # 256 slots llama.cpp's logits buffers (96 MiB) and, before they shared one buffer,
    # the sampler chains' candidates (144 MiB) come on top of a 1440 MiB KV cache.
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_CHILD, str(test_model_path), str(slots),
         str(max_tokens)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["parallel"] == slots and figures["kv"] > 300 * MIB
    bound = test_model_path.stat().st_size + figures["kv"] + 300 * MIB
    assert figures["peak"] <= bound, (figures["peak"] / MIB, bound / MIB)


SHORT_ANSWER = [{"role": "user", "content": "Name one colour. Answer in a few words."}]
VARIED = SamplingParams(temperature=1.0, top_p=0.95, top_k=40, max_tokens=24, seed=5)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """The sequence ids of every sampling step's batch, and every prompt copy or move."""
    seen: dict[str, list[Any]] = {"steps": [], "copies": []}
    decode, copy = llama.llama_decode, llama.llama_memory_seq_cp

    def recording_decode(ctx: Any, batch: Any) -> int:
        if batch.n_tokens and batch.logits[0]:  # a sampling step, not the prompt
            seen["steps"].append([batch.seq_id[i][0] for i in range(batch.n_tokens)])
        return int(decode(ctx, batch))

    def recording_copy(memory: Any, source: int, target: int, p0: int, p1: int) -> bool:
        seen["copies"].append((source, target))
        return bool(copy(memory, source, target, p0, p1))

    monkeypatch.setattr(llama, "llama_decode", recording_decode)
    monkeypatch.setattr(llama, "llama_memory_seq_cp", recording_copy)
    return seen


@pytest.mark.parametrize(
    ("question", "params", "samples", "slots", "ends_apart"),
    [(QUESTION, PARAMS, 6, 3, False), (SHORT_ANSWER, VARIED, 10, 4, True)],
    ids=["equal-lengths-refill", "early-ends"],
)
def test_each_step_is_one_run_of_sequences_from_zero(
    engine: Engine, recorded: dict[str, list[Any]], question: Any, params: SamplingParams,
    samples: int, slots: int, ends_apart: bool,
) -> None:  # fmt: skip
    # With split KV caches llama.cpp decodes each run of consecutive, increasing sequence
    # ids as a micro-batch of its own (sequences.py): slots refilled in reverse order, or
    # a hole left by a sample that ended, would cost a pass over the weights each.
    prompt = engine.model.tokenize(engine.render_prompt(question, None))
    plan = plan_consensus(
        engine.info, samples=samples, prompt_tokens=len(prompt), max_tokens=params.max_tokens,
        max_parallel=slots, budget_bytes=1024**3,
    )  # fmt: skip
    assert not plan.kv_unified and plan.parallel == slots

    def run(**options: Any) -> list[Any]:
        seeds = sample_seeds(params.seed or 0, samples)
        final = list(BatchSampler(engine.model, 2).run(prompt, params, seeds, plan, **options))[-1]
        assert isinstance(final, BatchFinished) and final.error is None
        return final.results

    results = run()
    assert recorded["steps"] and all(s == list(range(len(s))) for s in recorded["steps"])
    lengths = {r.completion_tokens for r in results if r is not None}
    moves = [c for c in recorded["copies"] if c[0] != 0]
    # Samples that end apart leave holes below samples still running, which move down.
    assert (len(lengths) > 1) == ends_apart and bool(moves) == ends_apart, (lengths, moves)
    # Moved or not, the samples are the ones decoded one at a time in one slot.
    alone = run(max_in_flight=1)
    assert [(r.trace, r.answer) for r in results] == [(r.trace, r.answer) for r in alone]
    assert len({r.answer for r in results}) > 1, "seeded samples must differ"
