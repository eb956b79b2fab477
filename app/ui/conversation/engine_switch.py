"""Carries out the Engine choice: questions to the local model, or to a server.

The choice row (app.ui.settings.engine_choice) says what the user wants; this asks the
session for it and shows the outcome: the row set to what answers now, the probe's
findings in the server form, a failure in the banner (the local model then answers,
loaded if it was not). At start a server is used only if the user chose one before:
a fresh settings file sends nothing to any server.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from app.core.conversation import ConversationError
from app.core.remote.config import ServerConfig
from app.core.remote.description import ServerDescription
from app.core.settings import update_settings
from app.ui.conversation.session import ChatSession
from app.ui.settings.engine_choice import LOCAL, SERVER, EngineChoice, saved_engine, saved_server
from app.ui.widgets.banner import Banner


class EngineSwitch(QObject):
    """Connects the Engine choice to the chat session (no signals of its own)."""

    def __init__(
        self,
        choice: EngineChoice,
        session: ChatSession,
        banner: Banner,
        load_local: Callable[[], None],
        show_questions: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.choice, self.session, self.banner = choice, session, banner
        self._load_local, self._show_questions = load_local, show_questions
        choice.local_chosen.connect(self.use_this_computer)
        choice.server_chosen.connect(self.use_server)
        session.server_connected.connect(self._on_server_connected)
        session.server_failed.connect(self._on_server_failed)
        session.server_closed.connect(self._on_server_closed)
        session.model_loading.connect(self._on_model_loading)

    def start(self) -> bool:
        """Use the server chosen last time; False (nothing sent) when none was."""
        config = saved_server() if saved_engine() == SERVER else None
        if config is None:
            return False
        self.use_server(config)
        return True

    def use_server(self, config: ServerConfig) -> None:
        try:
            self.session.use_server(config)
        except ConversationError as exc:
            self.banner.show_message(str(exc))
            self.choice.show_engine(SERVER if self.session.server else LOCAL)
            return
        self.choice.show_engine(SERVER)

    def use_this_computer(self) -> None:
        if self.session.server is None:
            if self.session.model is None and not self.session.loading:
                self._load_local()
            return
        try:
            self.session.use_this_computer()
        except ConversationError as exc:
            self.banner.show_message(str(exc))
            self.choice.show_engine(SERVER)

    def _on_server_connected(self, server: ServerDescription) -> None:
        self.choice.show_engine(SERVER)
        self._show_questions()  # the first-run page asks for a model this does not need
        dialog = self.choice.dialog
        if dialog is not None:
            dialog.form.findings.setText("\n".join(server.findings))

    def _on_server_failed(self, message: str) -> None:
        self.choice.show_engine(LOCAL)
        if self.session.model is None:  # first: it may post a notice of its own
            self._load_local()
        self.banner.show_message(
            f"Could not use the server: {message}. Questions go to this computer.", "error"
        )

    def _on_server_closed(self) -> None:
        self.choice.show_engine(LOCAL)
        if self.session.model is None and not self.session.loading:
            self._load_local()

    def _on_model_loading(self, _name: str) -> None:
        # Opening a model here means the user wants this computer to answer.
        if self.session.server is not None:
            update_settings(engine=LOCAL)
            self.use_this_computer()
