"""The main window: question, model, settings, and the reasoning beside the answer.

The window only arranges views and forwards the user's commands to `ChatSession`;
what is shown comes back through the session's signals. Nothing here blocks: model
loading and generation run on the inference thread, and errors appear in the banner.
With consensus on, Ask runs N samples; the consensus panel above the panes and its
wiring live in app.ui.consensus.controller. Opening models, the first-run panel (shown
in place of the question and answer while no model is on disk), the model manager and
the demo-model notice live in app.ui.models.controller.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.conversation import ConversationError, open_history
from app.core.history.describe import describe_run
from app.core.history.records import RunRecord
from app.ui.consensus.controller import ConsensusController
from app.ui.consensus.options import ConsensusOptions
from app.ui.consensus.session import ConsensusSession
from app.ui.consensus.view import ConsensusView
from app.ui.conversation.answer_view import AnswerView
from app.ui.conversation.session import ChatSession
from app.ui.conversation.trace_view import TraceView
from app.ui.conversation.transcript import TranscriptView
from app.ui.history.panel import HistoryPanel
from app.ui.models.controller import DemoNotice, ModelController
from app.ui.models.picker import ModelPicker
from app.ui.settings.panel import SettingsPanel
from app.ui.settings.store import WindowSettings
from app.ui.widgets.about import about_box
from app.ui.widgets.banner import Banner
from app.ui.widgets.status_bar import QuorumStatusBar


class MainWindow(QMainWindow):
    """The window: question, trace beside answer, consensus, and the history and settings docks."""

    def __init__(self, session: ChatSession | None = None,
                 settings: WindowSettings | None = None) -> None:  # fmt: skip
        super().__init__()
        self.setWindowTitle("Quorum")
        self.setMinimumSize(720, 480)
        self.window_settings = settings or WindowSettings()
        history_message = None
        if session is None:
            store, history_message = open_history()
            session = ChatSession(store, parent=self)
        self.session = session
        # Both sessions share the session's core Conversation, so neither imports the other.
        self.consensus_session = ConsensusSession(session.conversation, session.inference,
                                                  parent=session)  # fmt: skip
        self._closed = False
        self._build_widgets()
        self._connect()
        self._build_menus()
        self._restore()
        if history_message:
            self.banner.show_message(history_message)

    # -- commands ---------------------------------------------------------------------
    def start(self) -> None:
        """Load the model used last time, else the library's default, else offer one."""
        self.models.start()

    def open_model(self, path: Path, sha256: str | None = None) -> None:
        self.models.open_model(path, sha256)

    def ask(self) -> None:
        question, options = self.question.toPlainText(), self.consensus_options
        try:
            sampling, thinking = self.settings_panel.sampling(), self.settings_panel.thinking()
            if options.enabled():
                self.consensus_session.ask(question, sampling, thinking, options.samples(),
                                           options.early_stop())  # fmt: skip
            else:
                self.session.ask(question, sampling, thinking)
            self.question.clear()  # asked: the box is ready for the next question
        except (ConversationError, ValueError) as exc:
            self.question_hint.setText(str(exc))
            self.question_hint.show()
            self.question.setFocus()
            return
        self.question_hint.hide()

    def stop(self) -> None:
        self.session.stop()

    def new_conversation(self) -> None:
        try:
            self.session.new_conversation()
        except ConversationError as exc:
            self.banner.show_message(str(exc))

    # -- construction -----------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.banner = Banner()
        self.model_picker = ModelPicker()
        self.question = QPlainTextEdit()
        self.question.setPlaceholderText("Ask a question…  (Ctrl+Enter asks, Esc stops)")
        self.question.setTabChangesFocus(True)  # Tab leaves the box: keyboard navigation
        self.question.setAccessibleName("Question")
        self.question.setMinimumHeight(60)
        self.question.setMaximumHeight(160)
        self.question_hint = QLabel("")
        self.question_hint.setStyleSheet("color: #c0392b;")
        self.question_hint.hide()
        self.ask_button = QPushButton("&Ask")
        self.ask_button.setToolTip("Ask the question (Ctrl+Enter)")
        self.stop_button = QPushButton("&Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.new_button = QPushButton("&New conversation")
        self.new_button.setToolTip("Forget the earlier questions (Ctrl+N)")
        self.turn_label = QLabel("")
        # Clipped rather than squeezing the buttons beside it; the tooltip has it all.
        self.turn_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.consensus_options = ConsensusOptions()
        buttons = QHBoxLayout()
        for widget in (self.ask_button, self.consensus_options, self.stop_button, self.new_button):
            buttons.addWidget(widget)
        buttons.addWidget(self.turn_label, 1)

        self.trace_view = TraceView(self.session)
        self.answer_view = AnswerView(self.session)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.trace_view)
        self.splitter.addWidget(self.answer_view)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([400, 600])
        self._expanded_sizes: list[int] = []
        self.consensus_view = ConsensusView()
        # Every turn of the conversation; the reasoning|answer panes show one run (a
        # consensus run's sample) in detail.
        self.transcript = TranscriptView(self.session, lambda: (
            self.settings_panel.sampling(), self.settings_panel.thinking()),
            self.window_settings)  # fmt: skip
        self.results = QTabWidget()
        self.results.addTab(self.transcript, "Con&versation")
        self.results.addTab(self.splitter, "Run &detail")
        self.panes = QSplitter(Qt.Orientation.Vertical)  # the consensus panel above the panes
        self.panes.addWidget(self.consensus_view)
        self.panes.addWidget(self.results)
        self.panes.setChildrenCollapsible(False)
        self.panes.setSizes([300, 400])
        self.run_info = QLabel("")
        self.run_info.setTextFormat(Qt.TextFormat.PlainText)
        self.run_info.setWordWrap(True)
        self.run_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.questions_page = QWidget()
        page = QVBoxLayout(self.questions_page)
        page.setContentsMargins(0, 0, 0, 0)
        for part in (self.model_picker, self.question, self.question_hint):
            page.addWidget(part)
        page.addLayout(buttons)
        page.addWidget(self.panes, 1)
        page.addWidget(self.run_info)
        self.views = QStackedWidget()  # the questions, or the first-run page in their place
        self.views.addWidget(self.questions_page)
        self.demo_notice = DemoNotice()
        central = QWidget()
        layout = QVBoxLayout(central)
        for strip in (self.banner, self.demo_notice):
            layout.addWidget(strip)
        layout.addWidget(self.views, 1)
        self.setCentralWidget(central)

        self.settings_panel = SettingsPanel()
        self.settings_dock = self._dock("Settings", "settings", self.settings_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)
        self.history_panel = HistoryPanel(self.session)
        self.history_dock = self._dock("History", "history", self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        self.status = QuorumStatusBar(self.session)
        self.setStatusBar(self.status)
        options = self.consensus_options
        order = [self.model_picker.combo, self.model_picker.open_button, self.question,
                 self.ask_button, options.enabled_box, options.samples_spin,
                 options.early_stop_combo, self.stop_button, self.new_button,
                 self.trace_view.text, self.answer_view.browser]  # fmt: skip
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name}_dock")  # saveState() needs object names
        dock.setWidget(widget)
        return dock

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open model file…", QKeySequence.StandardKey.Open,
                     self.model_picker.open_file)  # fmt: skip
        self._action(file_menu, "&Manage models…", QKeySequence("Ctrl+M"),
                     self.models.manage_models)  # fmt: skip
        self._action(file_menu, "&Get a model…", QKeySequence("Ctrl+Shift+M"),
                     self.models.show_first_run)  # fmt: skip
        self._action(file_menu, "&New conversation", QKeySequence.StandardKey.New,
                     self.new_conversation)  # fmt: skip
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        view_menu = self.menuBar().addMenu("&View")
        for dock, key in ((self.settings_dock, "Ctrl+,"), (self.history_dock, "Ctrl+H")):
            toggle = dock.toggleViewAction()
            toggle.setShortcut(QKeySequence(key))
            view_menu.addAction(toggle)
        self._action(view_menu, "Focus the &question", QKeySequence("Ctrl+L"),
                     self.question.setFocus)  # fmt: skip
        self._action(view_menu, "&Search the history", QKeySequence.StandardKey.Find,
                     self._on_search_requested)  # fmt: skip
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About Quorum", QKeySequence(), self.show_about)
        for key in ("Ctrl+Return", "Ctrl+Enter"):  # Enter is the keypad key
            QShortcut(QKeySequence(key), self, self.ask)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)

    def show_about(self) -> QMessageBox:
        box = about_box(self, self.session.model)
        box.open()
        return box

    def _action(self, menu: QMenu, text: str, shortcut: QKeySequence | QKeySequence.StandardKey,
                slot: Callable[[], object]) -> QAction:  # fmt: skip
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _connect(self) -> None:
        self.models = ModelController(self, self.session, self.model_picker, self.settings_panel,
                                      self.banner, self.window_settings, self.views,
                                      self.demo_notice)  # fmt: skip
        self.ask_button.clicked.connect(self.ask)
        self.stop_button.clicked.connect(self.stop)
        self.new_button.clicked.connect(self.new_conversation)
        self.question.textChanged.connect(self._on_question_edited)
        self.history_panel.failed.connect(self._on_history_failed)
        self.history_panel.exported.connect(self._on_history_exported)
        self.trace_view.toggle.toggled.connect(self._on_trace_toggled)
        session = self.session
        session.history_failed.connect(self.banner.show_message)
        for signal in (session.model_loading, session.model_loaded, session.model_failed,
                       session.run_started, session.run_finished, session.conversation_reset,
                       session.run_opened):  # fmt: skip
            signal.connect(self._update_actions)
        session.run_finished.connect(self._on_run_shown)
        session.run_opened.connect(self._on_run_opened)
        session.run_started.connect(self._on_run_started)
        for signal in (self.consensus_session.requested, self.consensus_session.refused):
            signal.connect(self._update_actions)
        self.consensus_session.requested.connect(  # its samples are shown in the detail tab
            lambda *_: self.results.setCurrentWidget(self.splitter)
        )
        self.consensus = ConsensusController(
            session, self.consensus_session, self.consensus_options, self.consensus_view,
            self.trace_view,
            self.answer_view, self.banner, self.run_info, parent=self,
        )  # fmt: skip
        self._update_actions()

    # -- slots --------------------------------------------------------------------------
    def _on_trace_toggled(self, expanded: bool) -> None:
        # A collapsed trace pane shrinks to its header so the answer gets the width.
        if expanded and self._expanded_sizes:
            self.splitter.setSizes(self._expanded_sizes)
        elif not expanded:
            self._expanded_sizes = self.splitter.sizes()
            total = sum(self._expanded_sizes)
            narrow = self.trace_view.minimumSizeHint().width()
            self.splitter.setSizes([narrow, max(0, total - narrow)])

    def _on_search_requested(self) -> None:
        self.history_dock.show()
        self.history_panel.search.setFocus()

    def _on_history_failed(self, message: str) -> None:
        self.banner.show_message(message, "error")

    def _on_history_exported(self, message: str) -> None:
        self.banner.show_message(message, "info")

    def _on_question_edited(self) -> None:
        if self.question.toPlainText().strip():
            self.question_hint.hide()

    def _on_run_started(self, record: RunRecord) -> None:
        self.run_info.setText(f"Asking {record.model_name}…")

    def _on_run_shown(self, record: RunRecord) -> None:
        self.run_info.setText(describe_run(record))
        if record.error:
            self.banner.show_message(record.error)

    def _on_run_opened(self, record: RunRecord) -> None:
        self.question.setPlainText(record.question)
        self._on_run_shown(record)

    def _update_actions(self, *_args: object) -> None:
        session = self.session
        ready = session.model is not None and not session.loading
        self.ask_button.setEnabled(ready and not session.busy)
        self.stop_button.setEnabled(session.busy)
        self.new_button.setEnabled(not session.busy)
        self.model_picker.setEnabled(not session.busy)
        self.consensus_options.setEnabled(not session.busy)
        turns = len(session.turns)
        earlier = "1 earlier turn goes" if turns == 1 else f"{turns} earlier turns go"
        self.turn_label.setText(f"Follow-up: {earlier} with your question" if turns else "")
        self.turn_label.setToolTip(self.turn_label.text())

    # -- persistence and shutdown -----------------------------------------------------------
    def _restore(self) -> None:
        state = self.window_settings.panel_state()
        self.settings_panel.restore(state)
        self.consensus_options.restore(state.get("consensus") or {})
        self.window_settings.restore_layout(self, self.splitter)

    def _save(self) -> None:
        state = {**self.settings_panel.state(), "consensus": self.consensus_options.state()}
        self.window_settings.set_panel_state(state)
        self.window_settings.save_layout(self, self.splitter)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self._save()
            self.models.shutdown()  # a first-run or manager download: cancelled, kept
            # Cancel and end the thread first, so each session records its own run.
            self.session.inference.shutdown()
            self.consensus_session.shutdown()
            self.session.shutdown()
        event.accept()
