"""Status bar: the engine in use, generation speed, time to first token, memory in use.

The engine reads "This computer: <model> · …" for the local model, or "Server: <kind>
<version> at <host> · model <id>" while questions go to a server (its probe's findings
in the tooltip); switching back shows the local model's line again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from app.core.history.records import RunRecord
from app.core.inference.requests import ModelDescription
from app.core.machine import resident_memory_bytes
from app.core.remote.description import ServerDescription
from app.core.run_clock import RunProgress
from app.core.units import memory_text
from app.ui.conversation.session import ChatSession
from app.ui.models.model_name import clean_model_name

_MEMORY_REFRESH_MS = 2000


class QuorumStatusBar(QStatusBar):
    """The engine in use (and how llama.cpp runs it), speed, first-token time and memory."""

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_label = QLabel("No model")
        self.model_label.setTextFormat(Qt.TextFormat.PlainText)
        self.speed_label = QLabel("")
        self.ttft_label = QLabel("")
        self.memory_label = QLabel("")
        self.speed_label.setToolTip("Tokens generated per second")
        self.ttft_label.setToolTip("Time from asking to the first token")
        self.memory_label.setToolTip("Memory this process uses")
        self._local_text, self._local_tip = "No model", ""  # shown when no server is used
        self.addWidget(self.model_label, 1)
        for label in (self.speed_label, self.ttft_label, self.memory_label):
            self.addPermanentWidget(label)
        self._memory_timer = QTimer(self, interval=_MEMORY_REFRESH_MS)
        self._memory_timer.timeout.connect(self._on_memory_due)
        self._memory_timer.start()
        self._on_memory_due()
        session.model_loading.connect(self._on_model_loading)
        session.model_loaded.connect(self._on_model_loaded)
        session.model_failed.connect(self._on_model_failed)
        session.server_connecting.connect(self._on_server_connecting)
        session.server_connected.connect(self._on_server_connected)
        session.server_failed.connect(self._show_local)
        session.server_closed.connect(self._show_local)
        self._session = session
        session.run_started.connect(self._on_run_started)
        session.progress_made.connect(self._on_progress_made)
        session.run_finished.connect(self._on_run_finished)

    def _on_memory_due(self) -> None:
        self.memory_label.setText(f"Memory {memory_text(resident_memory_bytes())}")

    def _on_model_loading(self, name: str) -> None:
        self._set_local(f"Loading {name}…", "")

    def _set_local(self, text: str, tip: str) -> None:
        self._local_text, self._local_tip = text, tip
        if self._session.server is None:
            self._show_local()

    def _show_local(self, *_args: object) -> None:
        self.model_label.setText(self._local_text)
        self.model_label.setToolTip(self._local_tip)

    def _on_server_connecting(self, url: str) -> None:
        self.model_label.setText(f"Server: connecting to {url}…")
        self.model_label.setToolTip("")

    def _on_server_connected(self, server: ServerDescription) -> None:
        self.model_label.setText(server.status_text())
        self.model_label.setToolTip("\n".join(server.findings))

    def _on_model_loaded(self, model: ModelDescription) -> None:
        quant = f" · {model.info.file_type}" if model.info.file_type else ""
        config = model.llama_config
        # A fallback is news a user should see; the fastest configuration goes unsaid.
        slow = f" · {config.config.name}" if config.note else ""
        name = clean_model_name(model.path, model.display_name)
        self._set_local(f"This computer: {name}{quant} · context {model.n_ctx}{slow}",
                        f"llama.cpp on this CPU: {config.summary()}")  # fmt: skip
        self._on_memory_due()

    def _on_model_failed(self, _message: str) -> None:
        self._set_local("No model loaded", "")

    def _on_run_started(self, _record: RunRecord) -> None:
        self.speed_label.setText("")
        self.ttft_label.setText("")

    def _on_progress_made(self, progress: RunProgress) -> None:
        if progress.tokens_per_second:
            self.speed_label.setText(f"{progress.tokens_per_second:.1f} tok/s")
        if progress.time_to_first_token is not None:
            self.ttft_label.setText(f"first token {progress.time_to_first_token:.2f} s")

    def _on_run_finished(self, record: RunRecord) -> None:
        if len(record.samples) > 1 and record.seconds > 0:
            # Consensus: the samples ran side by side, so speed is all tokens over the run.
            tokens = sum(s.tokens for s in record.samples)
            self.speed_label.setText(f"{tokens / record.seconds:.1f} tok/s (all samples)")
        elif record.samples and record.samples[0].seconds > 0 and record.samples[0].tokens:
            sample = record.samples[0]
            self.speed_label.setText(f"{sample.tokens / sample.seconds:.1f} tok/s")
        if record.time_to_first_token is not None:
            self.ttft_label.setText(f"first token {record.time_to_first_token:.2f} s")
        self._on_memory_due()
