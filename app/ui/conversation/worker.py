"""The inference thread: one QThread owns the Engine; the GUI talks to it by signals.

llama.cpp must see one model from one thread only, so the Engine is created, used and
closed inside `InferenceWorker`'s slots, which all run on its thread. The GUI never
touches the Engine except through `InferenceWorker.cancel`, whose only effect is
Engine.cancel (documented thread-safe) and a flag, and `InferenceWorker.watch`, which
names the consensus sample whose text the progress events carry (one reference).

A small model produces a token every few milliseconds. Emitting a signal per token
would queue thousands of events for the GUI, so text is accumulated per channel and
emitted at most every ``flush_interval_s`` (100 ms): the generator loop blocks the
worker's own event loop, so the batching is a time check per token, not a timer. The
views apply text at most ten times a second anyway (app.ui.widgets.paced_text); a faster
flush would only add per-update work (labels, the clock, layout) that on a small machine
comes out of llama.cpp's time. A slow model's tokens, over 100 ms apart, show at once.

A consensus run (`generate_consensus`) runs on the same thread, through ConsensusRunner:
its memory plan is computed first (a request it cannot serve is refused before anything
starts), its samples are reported as they finish, its progress at the same pace,
and its report data is built here too, since that may hash a multi-GB model file.

With a server chosen (`connect_server`), single answers and consensus go to its
ServerEngine instead (app.core.remote), through the same loops and the same signals;
the local model, if one is loaded, stays loaded for when the user switches back.

The plain data that crosses the thread (`ModelDescription`, `GenerationRequest`) lives in
app.core.inference.requests.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from app.core.consensus.job import ConsensusJob, ConsensusSoFar, ProgressThrottle, report_data
from app.core.consensus.runner import (
    ConsensusError,
    ConsensusFinished,
    ConsensusProgress,
    ConsensusReport,
    ConsensusRunner,
    ConsensusSample,
    ConsensusStarted,
)
from app.core.inference.engine import (
    Engine,
    Finished,
    FinishReason,
    GenerationResult,
    ModelLoadError,
    PromptEvaluated,
    TextChunk,
)
from app.core.inference.reasoning import Channel
from app.core.inference.requests import GenerationRequest, ModelDescription, failed_result
from app.core.inference.sampling import RuntimeParams
from app.core.remote.client import ServerError
from app.core.remote.config import ServerConfig
from app.core.remote.description import ServerDescription, server_report_data
from app.core.remote.engine import ServerEngine
from app.core.remote.runner import ServerConsensusRunner

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.1
SHUTDOWN_TIMEOUT_MS = 60_000  # a big model still loading must finish before we can free it
STOPPED_BEFORE_START = "Stopped before the consensus run started; nothing was recorded."


class InferenceWorker(QObject):
    """Lives on the inference thread. Slots are requests; signals report back.

    Signals:
        model_loaded(ModelDescription): the model is loaded and ready.
        model_failed(str): why it could not be loaded (a message for the user).
        server_connected(ServerDescription): questions go to this server now.
        server_failed(str): the server could not be used (a message for the user).
        server_closed(): questions go to the local model again.
        prompt_evaluated(int, float): prompt tokens and the seconds they took.
        chunk_received(str, str, int): new trace text, new answer text, tokens so far.
        run_finished(GenerationResult): a single-answer run ended, however it ended.
        consensus_planned(ConsensusPlan): a consensus run fits and starts right after.
        consensus_refused(str): it cannot start (a message for the user); nothing ran.
        consensus_started(ConsensusStarted): the shared prompt is evaluated.
        consensus_sampled(ConsensusSample): one sample finished.
        consensus_progressed(ConsensusProgress): tokens and samples so far, at most
            once per flush interval.
        consensus_finished(ConsensusReport, dict | None): the report and its data
            (None: the data could not be built).
    """

    model_loaded = Signal(object)  # ModelDescription
    model_failed = Signal(str)  # a message for the user
    server_connected = Signal(object)  # ServerDescription
    server_failed = Signal(str)  # a message for the user
    server_closed = Signal()
    prompt_evaluated = Signal(int, float)  # prompt tokens, seconds
    chunk_received = Signal(str, str, int)  # new trace text, new answer text, tokens so far
    run_finished = Signal(object)  # GenerationResult
    consensus_planned = Signal(object)  # ConsensusPlan: the run starts right after
    consensus_refused = Signal(str)  # it cannot start (a message for the user); nothing ran
    consensus_started = Signal(object)  # ConsensusStarted
    consensus_sampled = Signal(object)  # ConsensusSample
    consensus_progressed = Signal(object)  # ConsensusProgress, at most every flush interval
    consensus_finished = Signal(object, object)  # ConsensusReport, report data (None: failed)

    def __init__(self, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        super().__init__()
        self.flush_interval_s = flush_interval_s
        self._engine: Engine | None = None
        self._server: ServerEngine | None = None  # set: questions go there
        self._engine_lock = threading.Lock()  # guards the references, for cancel()
        self._runner: ConsensusRunner | None = None
        self._watched: int | None = None  # the consensus sample whose text to stream
        self._stop = threading.Event()
        self._closing = threading.Event()  # the app is quitting: don't hash the model now

    def cancel(self) -> None:
        """Stop the current run (any thread). Also stops a run requested but not begun."""
        self._stop.set()
        with self._engine_lock:
            if self._engine is not None:
                self._engine.cancel()
            if self._server is not None:
                self._server.cancel()
            if self._runner is not None:
                self._runner.cancel()

    def watch(self, index: int | None) -> None:
        """Stream this consensus sample's text in each progress event (any thread; None:
        none). It holds for the run going and for the next ones until changed."""
        with self._engine_lock:
            self._watched = index
            if self._runner is not None:
                self._runner.watch(index)

    def close_soon(self) -> None:
        """The app is closing (any thread): cancel, and keep the last report quick."""
        self._closing.set()
        self.cancel()

    def arm(self) -> None:
        """Clear an earlier stop; called by the GUI just before it requests a run."""
        self._stop.clear()

    @Slot(object, object)
    def load(self, path: Path, runtime: RuntimeParams) -> None:
        self._close_engine()
        try:
            engine = Engine(path, runtime)
        except ModelLoadError as exc:
            self.model_failed.emit(str(exc))
            return
        except Exception as exc:  # a user must see a message, never a dead thread
            log.exception("loading %s failed", path)
            self.model_failed.emit(f"Could not load {Path(path).name}: {exc}")
            return
        with self._engine_lock:
            self._engine = engine
        self.model_loaded.emit(ModelDescription.of(engine))

    @Slot(object)
    def connect_server(self, config: ServerConfig) -> None:
        """Probe the server and send questions there from now on (the probe's requests
        are the first this app sends it: nothing goes to a server not configured)."""
        self._close_server()
        try:
            server = ServerEngine(config)
            description = ServerDescription.of(server)
        except ServerError as exc:
            self.server_failed.emit(str(exc))
            return
        except Exception as exc:  # a user must see a message, never a dead thread
            log.exception("connecting to %s failed", config.public_url)
            self.server_failed.emit(f"Could not use {config.public_url}: {exc}")
            return
        with self._engine_lock:
            self._server = server
        self.server_connected.emit(description)

    @Slot()
    def disconnect_server(self) -> None:
        """Close the server's connections; the local model answers again."""
        self._close_server()
        self.server_closed.emit()

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        engine: Engine | ServerEngine | None = self._server or self._engine
        if engine is None:
            self.run_finished.emit(
                failed_result(request, FinishReason.ERROR, "No model is loaded.")
            )
            return
        if self._stop.is_set():
            self.run_finished.emit(failed_result(request, FinishReason.CANCELLED, None))
            return
        try:
            result = self._stream(engine, request)
        except Exception as exc:
            log.exception("generation failed")
            result = failed_result(request, FinishReason.ERROR, str(exc) or type(exc).__name__)
        self.run_finished.emit(result)

    def _stream(
        self, engine: Engine | ServerEngine, request: GenerationRequest
    ) -> GenerationResult:
        trace: list[str] = []
        answer: list[str] = []
        tokens = 0
        last_flush = time.monotonic()

        def flush() -> None:
            if trace or answer:
                self.chunk_received.emit("".join(trace), "".join(answer), tokens)
                trace.clear()
                answer.clear()

        # The seed is drawn here, not in the engine, so a cancelled-before-start run has one too.
        sampling = request.sampling.with_seed()
        # Token statistics cost about 1% of the decode time: always on, so that the window
        # can shade the answer by confidence (app.ui.confidence) without asking again.
        events = engine.generate(request.messages, sampling, request.thinking, token_stats=True)
        for event in events:
            if self._stop.is_set():
                engine.cancel()  # covers a Stop that came before generate() cleared the flag
            if isinstance(event, TextChunk):
                (trace if event.channel is Channel.TRACE else answer).append(event.text)
                tokens = event.completion_tokens
                now = time.monotonic()
                if now - last_flush >= self.flush_interval_s:
                    flush()
                    last_flush = now
            elif isinstance(event, PromptEvaluated):
                self.prompt_evaluated.emit(event.prompt_tokens, event.seconds)
            elif isinstance(event, Finished):
                flush()
                return event.result
        raise RuntimeError("the engine stopped without a result")

    @Slot(object)
    def generate_consensus(self, job: ConsensusJob) -> None:
        engine, server = self._engine, self._server
        runner: ConsensusRunner
        if server is not None:
            runner = ServerConsensusRunner(server)
        elif engine is not None:
            runner = ConsensusRunner(engine)
        else:
            self.consensus_refused.emit("No model is loaded.")
            return
        try:
            _tokens, plan, _opens_trace = runner.prepare(job.request)
        except ConsensusError as exc:
            self.consensus_refused.emit(f"Consensus cannot start: {exc}.")
            return
        except Exception as exc:  # e.g. a chat template that fails to render
            log.exception("planning the consensus run failed")
            self.consensus_refused.emit(f"Consensus cannot start: {exc or type(exc).__name__}")
            return
        if self._stop.is_set():  # Stop was pressed while the run was being planned
            self.consensus_refused.emit(STOPPED_BEFORE_START)
            return
        self.consensus_planned.emit(plan)
        with self._engine_lock:
            self._runner = runner
            runner.watch(self._watched)
        try:
            thinking = job.request.thinking if runner.engine.supports_thinking else None
            report = self._run_consensus(runner, job, ConsensusSoFar(job.request, plan, thinking))
        finally:
            with self._engine_lock:
                self._runner = None
        if server is not None:
            data = server_report_data(server, report, question=job.question,
                                      early_stop=job.request.early_stop,
                                      created_at=job.created_at)  # fmt: skip
        else:
            assert engine is not None
            data = report_data(engine, job, report, hash_model=not self._closing.is_set())
        self.consensus_finished.emit(report, data)

    def _run_consensus(
        self, runner: ConsensusRunner, job: ConsensusJob, so_far: ConsensusSoFar
    ) -> ConsensusReport:
        throttle = ProgressThrottle(self.flush_interval_s)
        try:
            for event in runner.run(job.request):
                if self._stop.is_set():
                    runner.cancel()  # the sampler clears a cancel that came before it started
                so_far.add(event)
                if isinstance(event, ConsensusStarted):
                    self.consensus_started.emit(event)
                elif isinstance(event, ConsensusSample):
                    self.consensus_sampled.emit(event)
                elif isinstance(event, ConsensusProgress):
                    if throttle.due():
                        self.consensus_progressed.emit(event)
                elif isinstance(event, ConsensusFinished):
                    return event.report
            raise RuntimeError("the consensus run stopped without a report")
        except Exception as exc:  # keep the finished samples; the run is saved as an error
            log.exception("the consensus run failed")
            return so_far.report(str(exc) or type(exc).__name__)

    @Slot()
    def shut_down(self) -> None:
        """Free the model and end the thread (queued after any run in progress)."""
        self._close_engine()
        self._close_server()
        # Hand ourselves back to the GUI thread so Python can delete us from there.
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        thread = QThread.currentThread()
        thread.quit()

    def _close_engine(self) -> None:
        with self._engine_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def _close_server(self) -> None:
        with self._engine_lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()
