"""The GUI's handle on the inference thread: it starts the thread, forwards requests to
the `InferenceWorker` living there (queued signals, so each runs on that thread) and shuts
it all down, freeing the model on its own thread."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from app.core.consensus.job import ConsensusJob
from app.core.inference.engine import Message
from app.core.inference.requests import GenerationRequest
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.remote.config import ServerConfig
from app.ui.conversation.worker import FLUSH_INTERVAL_S, SHUTDOWN_TIMEOUT_MS, InferenceWorker

log = logging.getLogger(__name__)


class InferenceThread(QObject):
    """GUI-side handle: starts the thread, forwards requests, shuts it all down.

    Signals: (private: requests queued to the worker's thread)
        _load_requested(Path, RuntimeParams), _server_requested(ServerConfig),
        _server_closing(), _generate_requested(GenerationRequest),
        _consensus_requested(ConsensusJob), _shutdown_requested().
    """

    _load_requested = Signal(object, object)
    _server_requested = Signal(object)
    _server_closing = Signal()
    _generate_requested = Signal(object)
    _consensus_requested = Signal(object)
    _shutdown_requested = Signal()

    def __init__(self, parent: QObject | None = None,
                 flush_interval_s: float = FLUSH_INTERVAL_S) -> None:  # fmt: skip
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("quorum-inference")
        self.worker = InferenceWorker(flush_interval_s)
        self.worker.moveToThread(self._thread)
        # Cross-thread connections are queued: the slots run on the inference thread.
        self._load_requested.connect(self.worker.load)
        self._server_requested.connect(self.worker.connect_server)
        self._server_closing.connect(self.worker.disconnect_server)
        self._generate_requested.connect(self.worker.generate)
        self._consensus_requested.connect(self.worker.generate_consensus)
        self._shutdown_requested.connect(self.worker.shut_down)
        self._thread.start()
        self._running = True

    @property
    def qthread(self) -> QThread:
        return self._thread

    def load_model(self, path: Path, runtime: RuntimeParams) -> None:
        self._load_requested.emit(Path(path), runtime)

    def connect_server(self, config: ServerConfig) -> None:
        self._server_requested.emit(config)

    def disconnect_server(self) -> None:
        self._server_closing.emit()

    def generate(self, messages: list[Message], sampling: SamplingParams,
                 thinking: bool | None) -> None:  # fmt: skip
        self.worker.arm()
        self._generate_requested.emit(GenerationRequest(list(messages), sampling, thinking))

    def generate_consensus(self, job: ConsensusJob) -> None:
        if job.request.sampling.seed is None:  # seeded here so the job knows every seed
            job = replace(
                job, request=replace(job.request, sampling=job.request.sampling.with_seed())
            )
        self.worker.arm()
        self._consensus_requested.emit(job)

    def stop(self) -> None:
        self.worker.cancel()

    def shutdown(self, timeout_ms: int = SHUTDOWN_TIMEOUT_MS) -> bool:
        """Cancel, free the model on its own thread and wait for the thread to end."""
        if not self._running:
            return True
        self._running = False
        self.worker.close_soon()
        self._shutdown_requested.emit()
        finished = self._thread.wait(timeout_ms)
        if not finished:
            log.error("the inference thread did not stop within %d ms", timeout_ms)
        return bool(finished)
