"""The audit's own thread: loads each model, runs the core AuditRunner, reports back.

An audit loads its models itself (one at a time, closed after), on a QThread of its own,
so the window never waits on llama.cpp and the conversation's model is not touched: the
Llama object of the inference thread is never used from here. Every event crosses to the
GUI as a queued signal carrying plain data. The figures of a finished condition are
computed here, from the samples file the runner writes on this thread, so the GUI never
reads the store while it is being written.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from app.core.audit.job import (
    AuditDone,
    AuditError,
    AuditModel,
    AuditProgress,
    AuditRunner,
    ConditionDone,
    ModelStarted,
)
from app.core.audit.report_data import audit_report
from app.core.audit.results import ModelInfo, question_result, summarise
from app.core.audit.store import SampleStore, SampleStoreError
from app.core.consensus.runner import ConsensusError
from app.core.inference.backend import LlamaError
from app.core.inference.engine import Engine, ModelLoadError
from app.core.inference.sampling import RuntimeParams, new_seed
from app.ui.audit.inputs import AuditPlan

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_MS = 60_000  # a model still loading must finish before it can be freed


def saved_count(plan: AuditPlan) -> int:
    """Samples of this audit already in its samples file (0 when there is none)."""
    path = plan.samples_file
    if not path.is_file() or not path.stat().st_size:
        return 0  # (an empty file would get a header from SampleStore: leave it alone)
    config = plan.config
    try:
        with SampleStore(path, seed=0, set_sha256=config.questions.sha256) as store:
            return AuditRunner(config, store, _no_engine).store_count()
    except (SampleStoreError, OSError):
        return 0  # Start says what is wrong with the file


def _no_engine(path: AuditModel) -> Engine:
    raise AssertionError(f"counting saved samples never opens {path}")


class AuditWorker(QObject):
    """Runs one audit on its thread (run), stoppable from any thread (cancel).

    Signals:
        model_started(str, str): a model is loaded (or all its samples are saved): its
            key in the samples file and its name.
        progressed(AuditProgress): a sample was saved (the resumed ones counted too).
        question_done(QuestionResult): one question's samples under one condition are
            all saved; its figures.
        finished(dict): every sample is saved; the report data (app.core.audit.report_data).
        cancelled(int, int): stopped by the user; samples saved and the audit's total.
        failed(str): it stopped on an error (a message for the user); samples so far stay.
        ended(): the run is over, however it ended (the thread quits on it).
    """

    model_started = Signal(str, str)
    progressed = Signal(object)
    question_done = Signal(object)
    finished = Signal(object)
    cancelled = Signal(int, int)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, plan: AuditPlan, runtime: RuntimeParams) -> None:
        super().__init__()
        self.plan = plan
        self.runtime = runtime
        self._lock = threading.Lock()  # guards _runner and _stop for cancel()
        self._runner: AuditRunner | None = None
        self._stop = False

    def cancel(self) -> None:
        """Stop after the sample in flight (any thread); a run not begun never starts."""
        with self._lock:
            self._stop = True
            if self._runner is not None:
                self._runner.cancel()

    @property
    def cancel_requested(self) -> bool:
        with self._lock:
            return self._stop

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # the user must see a message, never a dead thread
            log.exception("the audit failed")
            self.failed.emit(f"The audit stopped: {exc or type(exc).__name__}.")
        finally:
            self.ended.emit()

    def _open(self, path: AuditModel) -> Engine:
        if not isinstance(path, Path):  # the window's form offers model files only
            raise AuditError(f"this window audits model files, not {path}")
        try:
            return Engine(path, self.runtime)
        except ModelLoadError as exc:
            raise AuditError(str(exc)) from exc

    def _run(self) -> None:
        config = self.plan.config
        path = self.plan.samples_file
        try:
            store = SampleStore(path, seed=new_seed(), set_sha256=config.questions.sha256)
        except (SampleStoreError, OSError) as exc:
            self.failed.emit(f"The samples file cannot be used: {exc}")
            return
        with store:
            runner = AuditRunner(config, store, self._open)
            with self._lock:
                self._runner = runner
                if self._stop:
                    runner.cancel()
            models: dict[str, ModelInfo] = {}
            done: AuditDone | None = None
            try:
                for event in runner.run():
                    if isinstance(event, ModelStarted):
                        models[event.key] = ModelInfo(event.key, event.name, str(event.path))
                        self.model_started.emit(event.key, event.name)
                    elif isinstance(event, AuditProgress):
                        self.progressed.emit(event)
                    elif isinstance(event, ConditionDone):
                        result = question_result(config, store, event.key, event.question)
                        self.question_done.emit(result)
                    elif isinstance(event, AuditDone):
                        done = event
            except (AuditError, ConsensusError, LlamaError) as exc:
                self.failed.emit(f"{exc}. The samples so far are saved; Resume continues.")
                return
            finally:
                with self._lock:
                    self._runner = None
            if runner.cancelled or done is None:
                self.cancelled.emit(runner.store_count(), config.total_samples)
                return
            results = summarise(config, store, list(models.values()), self.plan.claim)
            data: dict[str, Any] = audit_report(
                config, results, seconds=done.seconds, tokens=done.tokens
            )
            self.finished.emit(data)


class AuditThread(QObject):
    """One audit on a QThread of its own; `stop` cancels, `shutdown` also waits for it.

    Signals: the worker's, reached through `worker`; this object adds none.
    """

    def __init__(self, plan: AuditPlan, runtime: RuntimeParams,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("quorum-audit")
        self.worker = AuditWorker(plan, runtime)
        self.worker.moveToThread(self._thread)
        self._thread.started.connect(self.worker.run)
        # Direct: quit is thread-safe, and shutdown() waits on the GUI thread, where a
        # queued quit would never be delivered.
        self.worker.ended.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def stop(self) -> None:
        self.worker.cancel()

    def wait(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> bool:
        return self._thread.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> bool:
        """Cancel and wait for the thread to end (the model is closed on it)."""
        self.worker.cancel()
        finished = self._thread.wait(timeout_ms)
        if not finished:
            log.error("the audit thread did not stop within %d ms", timeout_ms)
        return finished
