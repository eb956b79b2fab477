"""A server's address, key and model, and a Test button showing what the probe found.

The probe runs on a short-lived thread (it waits on the network); its answer comes
back as a signal. A successful test remembers the URL and model in the settings and
the key where ``app.core.remote.keys`` keeps keys (never in settings.json). The form
sits in the Server dialog of the Engine choice (app.ui.settings.engine_choice), which
sends the window's questions to the server it names.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.core.remote import keys
from app.core.remote.client import ServerClient, ServerError
from app.core.remote.config import ServerConfig, ServerConfigError, make_config, url_warning
from app.core.remote.probe import ServerCapabilities, probe
from app.core.settings import load_settings, update_settings


class ServerForm(QWidget):
    """Base URL, API key and model id of one server, with a Test button.

    Signals:
        tested(ServerCapabilities): the probe answered; the form shows what it found.
        test_failed(str): the server could not be used (a message for the user).
    """

    tested = Signal(object)  # ServerCapabilities
    test_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        saved = load_settings()
        self.url = QLineEdit(str(saved.get("server_url", "")))
        self.url.setPlaceholderText("http://127.0.0.1:8080")
        saved_key = keys.load_key(self.url.text()) if self.url.text() else None
        self.key = QLineEdit(saved_key or "")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("none")
        self.model = QLineEdit(str(saved.get("server_model", "")))
        self.model.setPlaceholderText("the server's first model")
        self.test_button = QPushButton("&Test")
        self.findings = QLabel("")
        self.findings.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Server &URL", self.url)
        form.addRow("API &key", self.key)
        form.addRow("&Model", self.model)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.test_button)
        layout.addWidget(self.findings)
        self._thread: threading.Thread | None = None
        self.test_button.clicked.connect(self._on_test_clicked)
        self.tested.connect(self._on_tested)
        self.test_failed.connect(self._on_test_failed)

    def config(self) -> ServerConfig:
        """The server as typed; raises ServerConfigError with a message for the user."""
        return make_config(self.url.text(), self.model.text(), self.key.text())

    def remember(self, config: ServerConfig) -> None:
        """Keep the URL and model in the settings and the key in the key store."""
        keys.save_key(config.base_url, config.api_key)
        update_settings(server_url=config.base_url, server_model=config.model)

    def _on_test_clicked(self) -> None:
        try:
            config = self.config()
        except ServerConfigError as exc:
            self.test_failed.emit(str(exc))
            return
        self.test_button.setEnabled(False)
        self.findings.setText(f"Asking {config.base_url} …")

        def ask() -> None:
            client = ServerClient(config)
            try:
                found = probe(client, config.model)
            except ServerError as exc:
                self.test_failed.emit(str(exc))
                return
            finally:
                client.close()
            self.remember(config)
            self.tested.emit(found)

        self._thread = threading.Thread(target=ask, name="quorum-server-test", daemon=True)
        self._thread.start()

    def wait_for_test(self, timeout_s: float = 30.0) -> None:
        """Join the probe thread (tests, and closing the window)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _on_tested(self, found: ServerCapabilities) -> None:
        self.test_button.setEnabled(True)
        lines = found.lines()
        warning = url_warning(found.url)
        if warning:
            lines.append(f"Warning: {warning}")
        if self.key.text().strip():
            lines.append(f"The key is kept in {keys.storage_name()}.")
        self.findings.setText("\n".join(lines))

    def _on_test_failed(self, message: str) -> None:
        self.test_button.setEnabled(True)
        self.findings.setText(f"Could not use this server: {message}")
