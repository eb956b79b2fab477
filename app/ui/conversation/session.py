"""The window's model of a conversation: asks, streams, records, reopens.

`ChatSession` is the one object the views listen to. It owns the inference thread and
the history store, turns the worker's raw signals into `RunProgress` updates, and
records every run: begun in the history before the first token, finished (done,
cancelled or error) when the worker reports back. Widgets hold no state of their own
beyond what these signals tell them.

The conversation itself (turns, the run in progress, records) is a core
`Conversation`, shared with the window's `ConsensusSession`: runs either of them
begins or ends reach this session's signals through the conversation's listener, so
the views hear of every run and neither session needs the other.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from app.core.conversation import (
    Conversation,
    ConversationError,
    ConversationEvent,
    RunBegun,
    finish_single_run,
)
from app.core.history.records import RunRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import GenerationResult
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import RuntimeParams, SamplingParams
from app.core.remote.config import ServerConfig
from app.core.remote.description import ServerDescription
from app.core.run_clock import RunClock
from app.ui.confidence.book import BOOK
from app.ui.conversation.inference_thread import InferenceThread

log = logging.getLogger(__name__)


class ChatSession(QObject):
    """The window's model of a conversation: load a model, ask, stream, record, reopen.

    Signals:
        model_loading(str): the model file's name, as loading starts.
        model_loaded(ModelDescription): the worker holds a model now.
        model_failed(str): why the model could not be loaded.
        server_connecting(str): the server's URL, as its probe starts.
        server_connected(ServerDescription): questions go to this server now.
        server_failed(str): the server could not be used (a message for the user).
        server_closed(): questions go to the local model again.
        run_started(RunRecord): a run (single or consensus) was begun in the history.
        progress_made(RunProgress): more text of the single run streaming now.
        run_finished(RunRecord): a run ended (done, cancelled or error) and was stored.
        run_opened(RunRecord): a past run was reopened from the history.
        conversation_reset(): a new conversation was started.
        conversation_rewound(int): the conversation keeps only its first N turns now
            (a turn is about to be asked again).
        history_changed(): the history has a new or changed entry.
        history_failed(str): a history write failed; the run went on, its record was lost.
    """

    model_loading = Signal(str)
    model_loaded = Signal(object)
    model_failed = Signal(str)
    server_connecting = Signal(str)
    server_connected = Signal(object)
    server_failed = Signal(str)
    server_closed = Signal()
    run_started = Signal(object)
    progress_made = Signal(object)
    run_finished = Signal(object)
    run_opened = Signal(object)
    conversation_reset = Signal()
    conversation_rewound = Signal(int)
    history_changed = Signal()
    history_failed = Signal(str)

    def __init__(self, store: HistoryStore, inference: InferenceThread | None = None,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.conversation = Conversation(store)
        self.conversation.listen(self._on_conversation_event)
        self.inference = inference or InferenceThread(self)
        self._clock = RunClock()
        self._asked_here: RunRecord | None = None  # the single run this session asked
        worker = self.inference.worker
        worker.model_loaded.connect(self._on_model_loaded)
        worker.model_failed.connect(self._on_model_failed)
        worker.server_connected.connect(self._on_server_connected)
        worker.server_failed.connect(self._on_server_failed)
        worker.server_closed.connect(self._on_server_closed)
        worker.chunk_received.connect(self._on_chunk_received)
        worker.run_finished.connect(self._on_run_finished)

    @property
    def store(self) -> HistoryStore:
        return self.conversation.store

    @property
    def model(self) -> ModelDescription | None:
        return self.conversation.model

    @property
    def server(self) -> ServerDescription | None:
        """The server questions go to, or None: the local model answers."""
        return self.conversation.server

    @property
    def ready(self) -> bool:
        """Something can answer: a server, or a loaded local model."""
        return not self.loading and (self.server is not None or self.model is not None)

    @property
    def loading(self) -> bool:
        return self.conversation.loading

    @property
    def busy(self) -> bool:
        return self.conversation.busy

    @property
    def current_run(self) -> RunRecord | None:
        """The run being recorded now (begun in the history), if any."""
        return self.conversation.current

    @property
    def turns(self) -> list[RunRecord]:
        return self.conversation.turns

    def load_model(self, path: Path, runtime: RuntimeParams, sha256: str | None = None) -> None:
        if self.busy:
            raise ConversationError("Stop the current answer before changing the model.")
        self.conversation.loading = True
        self.conversation.model_sha256 = sha256
        self.model_loading.emit(Path(path).name)
        self.inference.load_model(Path(path), runtime)

    def use_server(self, config: ServerConfig) -> None:
        """Send questions to this server (once its probe answers: server_connected)."""
        if self.busy:
            raise ConversationError("Stop the current answer before changing the engine.")
        self.conversation.loading = True
        self.server_connecting.emit(config.public_url)
        self.inference.connect_server(config)

    def use_this_computer(self) -> None:
        """Send questions to the local model again (server_closed when done)."""
        if self.busy:
            raise ConversationError("Stop the current answer before changing the engine.")
        self.conversation.server = None
        self.inference.disconnect_server()

    def ask(self, question: str, sampling: SamplingParams, thinking: bool) -> RunRecord:
        record = self.conversation.new_record(question, sampling, thinking)
        self._clock = RunClock()
        self._asked_here = record
        self.conversation.begin(record)
        messages = self.conversation.messages_for(record.question)
        self.inference.generate(messages, sampling, record.params["thinking"])
        return record

    def ask_again(self, turn: int, question: str, sampling: SamplingParams,
                  thinking: bool) -> RunRecord:  # fmt: skip
        """Ask turn ``turn`` (0-based) again: ``question`` follows the turns before it only.
        Regenerating passes the same question and a seed of None (a fresh one)."""
        self.conversation.new_record(question, sampling, thinking)  # refuse before rewinding
        self.conversation.rewind(turn)
        self.conversation_rewound.emit(turn)
        return self.ask(question, sampling, thinking)

    def stop(self) -> None:
        if self.busy:
            self.inference.stop()

    def new_conversation(self) -> None:
        self.conversation.reset()
        self.conversation_reset.emit()

    def open_run(self, run_id: int) -> RunRecord:
        """Show a past run; a follow-up question then continues its conversation."""
        record = self.conversation.reopen(run_id)
        self.run_opened.emit(record)
        return record

    def shutdown(self) -> None:
        """Stop any run, end the thread, record a single run's outcome, close the history.

        A consensus run's own session records it when the thread ends (see
        ConsensusSession.shutdown); call that first.
        """
        self.inference.shutdown()
        if self.busy:  # the worker's last word may still be queued for us
            QCoreApplication.sendPostedEvents(self)
        if self._asked_here is not None and self.conversation.current is self._asked_here:
            self._finish(None)
        self.store.close()

    def _on_conversation_event(self, event: ConversationEvent) -> None:
        if event.history_error:
            self.history_failed.emit(event.history_error)
        if isinstance(event, RunBegun):
            self.run_started.emit(event.record)
        else:
            self.run_finished.emit(event.record)
            self.history_changed.emit()

    def _on_model_loaded(self, model: ModelDescription) -> None:
        self.conversation.loading = False
        self.conversation.model = model
        self.model_loaded.emit(model)

    def _on_server_connected(self, server: ServerDescription) -> None:
        self.conversation.loading = False
        self.conversation.server = server
        self.server_connected.emit(server)

    def _on_server_failed(self, message: str) -> None:
        self.conversation.loading = False
        self.conversation.server = None
        self.server_failed.emit(message)

    def _on_server_closed(self) -> None:
        self.conversation.server = None
        self.server_closed.emit()

    def _on_model_failed(self, message: str) -> None:
        self.conversation.loading = False
        self.conversation.model = None
        self.model_failed.emit(message)

    def _on_chunk_received(self, trace: str, answer: str, tokens: int) -> None:
        self.progress_made.emit(self._clock.record(trace, answer, tokens))

    def _on_run_finished(self, result: GenerationResult) -> None:
        if self._asked_here is not None and self.conversation.current is self._asked_here:
            self._finish(result)

    def _finish(self, result: GenerationResult | None) -> None:
        record, self._asked_here = self._asked_here, None
        if record is None:
            return
        finish_single_run(record, self._clock, result)
        if result is not None and record.samples:  # before the views hear of the run
            BOOK.put(record.samples[0], result.token_stats)
        self.conversation.end(record)
