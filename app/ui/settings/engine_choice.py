"""Where questions are answered: This computer (the local model) or a server.

A row at the top of Settings: the choice, and a "Server…" button opening the server
form (URL, API key, model, Test). "Use this server" there, or choosing Server when a
server was used before, asks for the server; choosing This computer asks for the local
model. The row only says what the user chose: the engine switch
(app.ui.conversation.engine_switch) does it, and shows the outcome here with
show_engine. The choice is kept in settings.json ("engine"); the key never is.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.remote import keys
from app.core.remote.config import ServerConfig, ServerConfigError, make_config
from app.core.settings import load_settings, update_settings
from app.ui.settings.server_form import ServerForm

LOCAL, SERVER = "local", "server"
_CHOICES = ((LOCAL, "This computer"), (SERVER, "Server"))


def saved_engine() -> str:
    """The engine chosen last time; "local" unless a server was chosen (offline default)."""
    return SERVER if load_settings().get("engine") == SERVER else LOCAL


def saved_server() -> ServerConfig | None:
    """The server used last time, its key from the key store; None if none was set."""
    saved = load_settings()
    url = str(saved.get("server_url") or "")
    if not url:
        return None
    try:
        return make_config(url, str(saved.get("server_model") or ""), keys.load_key(url))
    except ServerConfigError:
        return None


class ServerDialog(QDialog):
    """The server form with "Use this server" (window-modal, opened without blocking).

    Signals:
        use_requested(ServerConfig): the user asked to send questions to this server.
    """

    use_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Server engine")
        self.form = ServerForm()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.use_button = QPushButton("&Use this server")
        self.buttons.addButton(self.use_button, QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)
        self.use_button.clicked.connect(self._on_use_clicked)

    def _on_use_clicked(self) -> None:
        try:
            config = self.form.config()
        except ServerConfigError as exc:
            self.form.findings.setText(f"Could not use this server: {exc}")
            return
        self.form.remember(config)
        self.use_requested.emit(config)
        self.accept()


class EngineChoice(QWidget):
    """Engine: This computer or Server, and the button opening the server form.

    Signals:
        local_chosen(): the user chose This computer.
        server_chosen(ServerConfig): the user chose this server.
    """

    local_chosen = Signal()
    server_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        for value, text in _CHOICES:
            self.combo.addItem(text, value)
        self.combo.setToolTip("Where questions are answered: the model here, or a server")
        label = QLabel("E&ngine")
        label.setBuddy(self.combo)
        self.server_button = QPushButton("Ser&ver…")
        self.server_button.setToolTip("The server's URL, API key and model, and a Test")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label)
        row.addWidget(self.combo, 1)
        row.addWidget(self.server_button)
        self.dialog: ServerDialog | None = None
        self._showing = False  # True while the combo is set by code, not by the user
        self.combo.currentIndexChanged.connect(self._on_combo_changed)
        self.server_button.clicked.connect(self.open_server_dialog)

    def choice(self) -> str:
        return str(self.combo.currentData())

    def show_engine(self, engine: str) -> None:
        """Show what answers now (no signal: nothing is asked for)."""
        self._showing = True
        try:
            self.combo.setCurrentIndex(self.combo.findData(engine))
        finally:
            self._showing = False

    def open_server_dialog(self) -> ServerDialog:
        if self.dialog is None:
            self.dialog = ServerDialog(self)
            self.dialog.use_requested.connect(self._on_use_requested)
        self.dialog.open()
        return self.dialog

    def _on_combo_changed(self, _index: int) -> None:
        if self._showing:
            return
        if self.choice() == LOCAL:
            update_settings(engine=LOCAL)
            self.local_chosen.emit()
            return
        config = saved_server()
        if config is None:  # nothing configured yet: the form first, nothing is sent
            self.show_engine(LOCAL)
            self.open_server_dialog()
            return
        update_settings(engine=SERVER)
        self.server_chosen.emit(config)

    def _on_use_requested(self, config: ServerConfig) -> None:
        update_settings(engine=SERVER)
        self.show_engine(SERVER)
        self.server_chosen.emit(config)
