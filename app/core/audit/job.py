"""Run an audit: every question x model x temperature x thinking budget, N samples each.

Each condition of a question is one ConsensusRunner run on the batched engine, exactly
what a single consensus run of N does, so the audit adds no decoding work beyond one
prompt per question (and the optional greedy baseline: one more sample at temperature 0).
Samples are saved as they finish (app.core.audit.store); a condition whose N samples are
all saved is not run again, and one that was cut off is run again with the same seeds,
keeping the samples saved before.

On a server (a ``ServerModel`` in place of a model file) each condition is one
ServerConsensusRunner run instead: the same runner, with a server sampler. A thinking
budget needs the local engine (the sampler refuses it); ``AuditConfig.check_server``
says so before anything runs.

Like Engine.generate, `AuditRunner.run` is a plain generator of events; the caller (CLI
or a worker thread) iterates it.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.core.audit.questions import AuditQuestion, QuestionSet
from app.core.audit.samples import GREEDY, AuditSample, RunKey
from app.core.audit.store import SampleStore
from app.core.consensus.runner import (
    ConsensusFinished,
    ConsensusRequest,
    ConsensusRunner,
    ConsensusSample,
)
from app.core.inference.engine import Engine, Finished, FinishReason
from app.core.inference.sampling import SamplingParams
from app.core.models.gguf import GGUFError, read_gguf_info
from app.core.remote.engine import ServerEngine
from app.core.remote.runner import ServerConsensusRunner


class AuditError(RuntimeError):
    """The audit stopped: a model failed to decode or a run could not start (for a user)."""


SERVER_BUDGET_REFUSAL = (
    "a thinking budget needs the local engine: on a server the reasoning cannot be closed "
    "at a budget from here (llama-server has a server-wide --reasoning-budget); drop "
    "--think-budget, or audit a local model"
)


@dataclass(frozen=True)
class ServerModel:
    """A model on a server, audited in place of a model file; identity is what the probe
    found (ServerEngine.identity: URL, kind, version, model, path; never the key)."""

    url: str
    model: str
    identity: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:  # where the report says the model is
        return self.url


AuditModel = Path | ServerModel


@dataclass(frozen=True)
class AuditConfig:
    """What to audit and how: the set, models, N, temperatures, budgets, tokens, thinking."""

    questions: QuestionSet
    models: tuple[AuditModel, ...]
    samples: int
    temperatures: tuple[float, ...]
    think_budgets: tuple[int | None, ...] = (None,)
    max_tokens: int = 512
    thinking: bool = True
    greedy: bool = True  # run one temperature-0 sample per question as a baseline

    def check_server(self) -> None:
        """Refuse, before anything runs, what a server cannot do (AuditError)."""
        budgets = [b for b in self.think_budgets if b is not None]
        if budgets and any(isinstance(m, ServerModel) for m in self.models):
            raise AuditError(SERVER_BUDGET_REFUSAL)

    @property
    def server(self) -> dict[str, Any] | None:
        """The server audited (its identity), or None for models on this computer."""
        return next((m.identity for m in self.models if isinstance(m, ServerModel)), None)

    def conditions(self) -> list[tuple[int | None, float]]:
        return [(b, t) for b in self.think_budgets for t in self.temperatures]

    @property
    def total_samples(self) -> int:
        per_model = len(self.questions.questions) * (
            len(self.conditions()) * self.samples + (len(self.think_budgets) if self.greedy else 0)
        )
        return per_model * len(self.models)


def model_key(path: AuditModel) -> str:
    """A model's key in saved samples: its file name and size (hashing GBs would be slow);
    a server's model: its id at the server's URL."""
    if isinstance(path, ServerModel):
        return f"{path.model}@{path.url}"
    return f"{path.name}:{path.stat().st_size}"


def condition_seed(base_seed: int, question_id: str) -> int:
    """The base seed of one question's samples; the same for every model and temperature
    (common random numbers make the sweeps' differences less noisy)."""
    digest = hashlib.sha256(f"{base_seed}|{question_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


@dataclass(frozen=True)
class ModelStarted:
    """A model is loaded; its samples follow."""

    path: AuditModel
    key: str
    name: str


@dataclass(frozen=True)
class AuditProgress:
    """After each sample: samples saved (the resumed ones included) of the total."""

    done: int
    total: int
    new_this_run: int
    seconds: float  # since this run started
    question: str
    model: str

    @property
    def eta_seconds(self) -> float | None:
        """Remaining samples at this run's own pace; None before the first new sample."""
        if not self.new_this_run or self.seconds <= 0:
            return None
        return (self.total - self.done) * self.seconds / self.new_this_run


@dataclass(frozen=True)
class ConditionDone:
    """One question's samples under one condition are all saved."""

    key: RunKey
    question: AuditQuestion
    reused: bool  # every sample came from the samples file


@dataclass(frozen=True)
class AuditDone:
    """Every condition of every model has its samples (the summary reads the store)."""

    seconds: float
    new_samples: int
    tokens: int  # completion tokens decoded in this run


AuditEvent = ModelStarted | AuditProgress | ConditionDone | AuditDone


@dataclass
class _Clock:
    """This run's own pace: seconds since it started, samples and tokens it decoded."""

    started: float = field(default_factory=time.perf_counter)
    new: int = 0
    tokens: int = 0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


class AuditRunner:
    """Runs an audit on one model at a time, opened by `open_engine` and closed after."""

    def __init__(
        self,
        config: AuditConfig,
        store: SampleStore,
        open_engine: Callable[[AuditModel], Engine | ServerEngine],
    ) -> None:
        self.config = config
        self.store = store
        self.open_engine = open_engine
        self._runner: ConsensusRunner | None = None
        self._engine: Engine | ServerEngine | None = None
        self._cancelled = False

    def cancel(self) -> None:
        """Stop after the sample in progress (callable from any thread); saved ones stay."""
        self._cancelled = True
        if self._runner is not None:
            self._runner.cancel()
        if self._engine is not None:
            self._engine.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def run(self) -> Iterator[AuditEvent]:
        clock = _Clock()
        done = self.store_count()
        names = model_names(self.config.models)
        for path in self.config.models:
            if self._cancelled:
                return
            key = model_key(path)
            if not self.missing(key):  # all saved: no need to load a multi-GB model
                yield ModelStarted(path, key, names[path])
                yield from self._all_saved(key)
                continue
            engine = self.open_engine(path)
            try:
                name = names[path] if isinstance(path, Path) else _engine_name(engine, path)
                yield ModelStarted(path, key, name)
                self._engine, self._runner = engine, _runner_for(engine)
                for event in self._model_events(engine, key, clock, done):
                    if isinstance(event, AuditProgress):
                        done = event.done
                    yield event
                    if self._cancelled:
                        return
            finally:
                self._engine = self._runner = None
                engine.close()
        yield AuditDone(clock.seconds, clock.new, clock.tokens)

    def missing(self, model: str) -> int:
        """Samples of one model (its key) not saved yet."""
        wanted = 0
        for q in self.config.questions.questions:
            for budget, temperature in self.config.conditions():
                saved = self.store.samples(self.key(q, model, temperature, budget))
                wanted += sum(1 for i in range(self.config.samples) if i not in saved)
            if self.config.greedy:
                for budget in self.config.think_budgets:
                    wanted += GREEDY not in self.store.samples(self.key(q, model, 0.0, budget))
        return wanted

    def _all_saved(self, model: str) -> Iterator[ConditionDone]:
        for budget in self.config.think_budgets:
            for q in self.config.questions.questions:
                for temperature in self.config.temperatures:
                    yield ConditionDone(self.key(q, model, temperature, budget), q, True)

    def store_count(self) -> int:
        """Saved samples that belong to this audit's conditions."""
        return self.config.total_samples - sum(
            self.missing(model_key(p)) for p in self.config.models
        )

    def key(self, q: AuditQuestion, model: str, temperature: float, budget: int | None) -> RunKey:
        return RunKey(q.id, model, temperature, budget, condition_seed(self.store.seed, q.id))

    def _model_events(
        self, engine: Engine | ServerEngine, model: str, clock: _Clock, done: int
    ) -> Iterator[AuditEvent]:
        base = engine.default_sampling(self.config.thinking)
        for budget in self.config.think_budgets:
            for q in self.config.questions.questions:
                if self.config.greedy:
                    key = self.key(q, model, 0.0, budget)
                    if GREEDY not in self.store.samples(key):
                        if not self._greedy(engine, q, key, base):
                            return  # cancelled
                        clock.new += 1
                        done += 1
                        yield AuditProgress(
                            done, self.config.total_samples, clock.new, clock.seconds, q.id, model
                        )
                for temperature in self.config.temperatures:
                    key = self.key(q, model, temperature, budget)
                    saved = self.store.samples(key)
                    reused = all(i in saved for i in range(self.config.samples))
                    if not reused:
                        for _ in self._consensus(q, key, base, saved, clock):
                            done += 1
                            yield AuditProgress(
                                done,
                                self.config.total_samples,
                                clock.new,
                                clock.seconds,
                                q.id,
                                model,
                            )
                            if self._cancelled:
                                return
                    yield ConditionDone(key, q, reused)

    def _sampling(self, base: SamplingParams, key: RunKey) -> SamplingParams:
        return replace(
            base, temperature=key.temperature, max_tokens=self.config.max_tokens, seed=key.seed
        ).validated()

    def _consensus(
        self,
        q: AuditQuestion,
        key: RunKey,
        base: SamplingParams,
        saved: dict[int, AuditSample],
        clock: _Clock,
    ) -> Iterator[int]:
        """Run the condition; yields each sample index newly saved."""
        assert self._runner is not None
        request = ConsensusRequest(
            messages=[{"role": "user", "content": q.question}],
            sampling=self._sampling(base, key),
            samples=self.config.samples,
            thinking=self.config.thinking,
            think_budget=key.think_budget,
        )
        for event in self._runner.run(request):
            if isinstance(event, ConsensusSample):
                clock.tokens += event.result.completion_tokens
                if event.index not in saved:
                    self.store.add(key, AuditSample.from_result(event.index, event.result))
                    clock.new += 1
                    yield event.index
            elif isinstance(event, ConsensusFinished):
                report = event.report
                if report.cancelled:
                    self._cancelled = True
                elif report.error:
                    raise AuditError(f"question {q.id}: {report.error}")

    def _greedy(
        self, engine: Engine | ServerEngine, q: AuditQuestion, key: RunKey, base: SamplingParams
    ) -> bool:
        """Decode and save the greedy baseline; False when it was cancelled."""
        sampling = self._sampling(base, key)
        messages = [{"role": "user", "content": q.question}]
        thinking = self.config.thinking
        if isinstance(engine, ServerEngine):  # no budget: check_server refused one
            events = engine.generate(messages, sampling, thinking)
        else:
            events = engine.generate(messages, sampling, thinking, key.think_budget)
        for event in events:
            if isinstance(event, Finished):
                result = event.result
                if result.finish_reason == FinishReason.CANCELLED or self._cancelled:
                    self._cancelled = True
                    return False
                if result.error:
                    raise AuditError(f"question {q.id} (greedy): {result.error}")
                self.store.add(key, AuditSample.from_result(GREEDY, result))
        return True


def _runner_for(engine: Engine | ServerEngine) -> ConsensusRunner:
    if isinstance(engine, ServerEngine):
        return ServerConsensusRunner(engine)
    return ConsensusRunner(engine)


def _engine_name(engine: Engine | ServerEngine, path: AuditModel) -> str:
    if isinstance(engine, ServerEngine):
        return engine.model_id or str(path)
    return engine.info.name or (path.stem if isinstance(path, Path) else str(path))


def model_names(paths: Sequence[AuditModel]) -> dict[AuditModel, str]:
    """Each model's name in the reports: the name in its GGUF header (a server's model
    id), with the file name added where two files share one (a model beside its
    re-templated copy), so a side-by-side table never shows two rows that cannot be
    told apart."""
    names = {path: _header_name(path) for path in paths}
    counts = Counter(names.values())
    return {
        path: f"{n} ({path.name})" if counts[n] > 1 and isinstance(path, Path) else n
        for path, n in names.items()
    }


def _header_name(path: AuditModel) -> str:
    if isinstance(path, ServerModel):
        return path.model
    try:
        return read_gguf_info(path).name or path.stem
    except GGUFError:
        return path.stem
