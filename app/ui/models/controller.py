"""The main window's models: which one to open, how to get one, and the demo notice.

`ModelController` opens models (from the picker, the settings' Reload, the first-run
panel and the model manager) and reacts when one is loaded or fails. With no model on
disk at start-up it shows the first-run panel in place of the question and answer,
and the panel stays reachable later ("Get a model…"). While the demo model is in use a
notice says so and cannot be dismissed: its answers are poor by design, and a user
must never mistake them for what Quorum's real model does.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.conversation import ConversationError
from app.core.inference.requests import ModelDescription
from app.core.models import catalog, demo_model, library
from app.core.models.entry import ModelEntry
from app.core.units import size_text
from app.ui.conversation.session import ChatSession
from app.ui.models.download_worker import DownloadWorker, import_task
from app.ui.models.first_run import FirstRunPanel
from app.ui.models.manager import ModelManagerDialog
from app.ui.models.model_name import clean_model_name
from app.ui.models.picker import ModelChoice, ModelPicker
from app.ui.settings.panel import SettingsPanel
from app.ui.settings.store import WindowSettings
from app.ui.widgets.banner import Banner

log = logging.getLogger(__name__)

DEMO_NOTICE = "Demo model: SmolLM2 135M — answers will be poor."
GET_REAL_MODEL = "Get the real model…"
NO_MODEL_YET = (
    "No model yet. Quorum needs one to answer: download one, try the demo, "
    "or open a GGUF file you already have (Ctrl+O)."
)
WELCOME = "Welcome to Quorum"
GET_A_MODEL = "Get a model"


def demo_file() -> Path:
    return library.demo_dir() / demo_model.FILENAME


def is_demo_model(path: Path) -> bool:
    """Is this the demo model's file (by its place in the demo cache, links followed)?"""
    demo, path = demo_file(), Path(path)
    if path == demo:
        return True
    try:
        return demo.exists() and path.resolve() == demo.resolve()
    except OSError:  # a link loop or an unreadable folder: not the demo we fetched
        return False


class DemoNotice(QFrame):
    """A strip above the question that stays while the demo model is in use.

    Signals:
        get_model_requested(): the user asked for a real model instead of the demo.
    """

    get_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("demo_notice")
        self.setStyleSheet("QFrame#demo_notice { background: #8a5a00; } QLabel { color: white; }")
        self.label = QLabel(DEMO_NOTICE)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.get_button = QPushButton(GET_REAL_MODEL)
        default = catalog.default_entry()
        if default is not None:
            self.get_button.setToolTip(
                f"Download {default.display_name} ({size_text(default.approx_size)}), "
                "or open a model file you already have"
            )
        self.setAccessibleName("Demo model in use")
        self.setAccessibleDescription(DEMO_NOTICE)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.get_button)
        self.get_button.clicked.connect(self.get_model_requested)
        self.hide()


class FirstRunPage(QScrollArea):
    """The first-run panel under a heading, with a way back to the questions."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.panel = FirstRunPanel()
        self.back_button = QPushButton("Back to the questions")
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addWidget(self.heading)
        layout.addWidget(self.panel, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.back_button)
        layout.addLayout(row)
        # Scrolls rather than squeezes: the panel's messages can outgrow a small window.
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(content)


class ModelController(QObject):
    """Opens models for the window and owns the first-run page and the model manager.

    Signals:
        library_changed(): a file opened with Ctrl+O was added to the model library.
    """

    library_changed = Signal()

    def __init__(
        self,
        window: QMainWindow,
        session: ChatSession,
        picker: ModelPicker,
        settings_panel: SettingsPanel,
        banner: Banner,
        window_settings: WindowSettings,
        views: QStackedWidget,
        notice: DemoNotice,
    ) -> None:
        super().__init__(window)
        self._window, self._session, self._picker = window, session, picker
        self._settings_panel, self._banner = settings_panel, banner
        self._window_settings, self._views, self.notice = window_settings, views, notice
        self.first_run_page: FirstRunPage | None = None
        self.first_run_panel: FirstRunPanel | None = None
        self.manager: ModelManagerDialog | None = None
        self._import_worker: DownloadWorker | None = None
        picker.model_chosen.connect(self._on_model_chosen)
        picker.message_posted.connect(banner.show_message)
        settings_panel.reload_requested.connect(self._on_reload_requested)
        session.model_loaded.connect(self._on_model_loaded)
        session.model_failed.connect(self._on_model_failed)
        notice.get_model_requested.connect(self.show_first_run)

    # -- commands ---------------------------------------------------------------------

    def start(self) -> None:
        """Load the model used last time, else the library's default, else offer one."""
        last = self._window_settings.last_model()
        if last is not None and last.is_file():
            self.open_model(last)
            return
        entry = library.default_model()
        if entry is not None and entry.path is not None:
            self.open_model(Path(entry.path), entry.sha256)
            return
        self._banner.show_message(NO_MODEL_YET, "info")
        self._show_first_run(welcome=True)

    def open_model(self, path: Path, sha256: str | None = None) -> None:
        try:
            self._session.load_model(Path(path), self._settings_panel.runtime(), sha256)
        except ConversationError as exc:
            self._banner.show_message(str(exc))
            return
        self._banner.clear()
        if not self._picker.set_current(Path(path)):
            self._picker.add_file(Path(path))

    def open_entry(self, entry: ModelEntry) -> None:
        if entry.path is not None:
            self.open_model(Path(entry.path), entry.sha256)

    def show_first_run(self) -> None:
        """Show the ways to get a model (download, local file, demo) in place of the panes."""
        self._show_first_run(welcome=False)

    def show_questions(self) -> None:
        self._views.setCurrentIndex(0)

    def showing_first_run(self) -> bool:
        page = self.first_run_page
        return page is not None and self._views.currentWidget() is page

    def manage_models(self) -> ModelManagerDialog:
        """Open the model manager (window-modal, without blocking the event loop)."""
        if self.manager is None:
            self.manager = ModelManagerDialog(self._window)
            self.manager.model_chosen.connect(self.open_entry)
            self.manager.library_changed.connect(self._on_library_changed)
        else:
            self.manager.refresh()  # the first-run panel may have added a model since
        current = self._session.model.path if self._session.model else None
        for entry in self.manager.entries:
            if current is not None and entry.path == current:
                self.manager.select(entry.id)
        self.manager.open()
        return self.manager

    def shutdown(self) -> None:
        """Stop any download the panel or the manager runs and wait for its thread."""
        if self._import_worker is not None:
            self._import_worker.shutdown()
        if self.first_run_panel is not None:
            self.first_run_panel.shutdown()
        if self.manager is not None:
            if self.manager.isVisible():
                self.manager.reject()  # its done() shuts its worker down
            self.manager.shutdown()

    # -- the first-run page -------------------------------------------------------------

    def _show_first_run(self, welcome: bool) -> None:
        page = self.first_run_page
        if page is None:
            page = self.first_run_page = FirstRunPage()
            self.first_run_panel = page.panel
            page.panel.model_ready.connect(self._on_model_ready)
            page.back_button.clicked.connect(self.show_questions)
            self._views.addWidget(page)
        page.heading.setText(f"<h1>{WELCOME if welcome else GET_A_MODEL}</h1>")
        self._views.setCurrentWidget(page)

    # -- slots --------------------------------------------------------------------------

    def _on_model_ready(self, entry: ModelEntry) -> None:
        self._picker.refresh()  # the new model is in the library now
        self.open_entry(entry)

    def _on_model_chosen(self, choice: ModelChoice) -> None:
        self.open_model(choice.path, choice.sha256)
        if not self._in_library(choice.path):
            self._add_to_library(choice.path)

    def _in_library(self, path: Path) -> bool:
        resolved = Path(path).expanduser().resolve()
        return any(e.path is not None and Path(e.path).resolve() == resolved
                   for e in library.list_models())  # fmt: skip

    def _add_to_library(self, path: Path) -> None:
        # A file opened with Ctrl+O belongs in the model manager too. Hashing a large
        # file takes seconds, so it runs on a worker while the model loads.
        if self._import_worker is not None and self._import_worker.is_running():
            return  # one at a time; the next Open adds it
        worker = self._import_worker = DownloadWorker(import_task(path), name="models-import")
        worker.connect_handlers(lambda _progress: None, self._on_imported,
                                lambda message: log.warning("not added: %s", message),
                                lambda: None)  # fmt: skip
        worker.start()

    def _on_imported(self, _entry: object) -> None:
        self._picker.refresh()
        if self.manager is not None:
            self.manager.refresh()
        self.library_changed.emit()

    def _on_library_changed(self) -> None:
        self._picker.refresh()

    def _on_reload_requested(self) -> None:
        current = self._session.model.path if self._session.model else None
        if current is not None:
            self.open_model(current)

    def _on_model_loaded(self, model: ModelDescription) -> None:
        self._settings_panel.show_model(model)
        self._window_settings.set_last_model(model.path)
        # The name alone: Qt adds " — Quorum" (the application's display name) itself.
        self._window.setWindowTitle(clean_model_name(model.path, model.display_name))
        self.notice.setVisible(is_demo_model(model.path))
        panel = self.first_run_panel
        # A model to ask is what the user came for, unless they watch a download run.
        if self.showing_first_run() and not (panel is not None and panel.busy):
            self.show_questions()

    def _on_model_failed(self, message: str) -> None:
        self._settings_panel.show_model(None)
        self._banner.show_message(f"The model could not be loaded. {message}")
        self._window.setWindowTitle("Quorum")
        self.notice.hide()
