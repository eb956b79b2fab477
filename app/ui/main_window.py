"""The main window: question, model, settings, and the reasoning beside the answer.

The window only arranges views and forwards the user's commands to `ChatSession`;
what is shown comes back through the session's signals. Nothing here blocks: model
loading and generation run on the inference thread, and errors appear in the banner.
With consensus on, Ask runs N samples; the consensus panel (a tab beside the answer) and
its wiring live in app.ui.consensus.controller. On a narrow window the side docks fold
away (app.ui.widgets.dock_fold). Opening models, the first-run panel (shown
in place of the question and answer while no model is on disk), the model manager and
the demo-model notice live in app.ui.models.controller.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
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
from app.ui.audit.window import AuditWindow, show_audit_window
from app.ui.consensus.controller import ConsensusController
from app.ui.consensus.options import ConsensusOptions
from app.ui.consensus.session import ConsensusSession
from app.ui.consensus.view import ConsensusView
from app.ui.conversation.answer_view import AnswerView, no_answer_note
from app.ui.conversation.engine_switch import EngineSwitch
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
from app.ui.widgets.dock_fold import DockFolder
from app.ui.widgets.shortcuts import ShortcutsDialog, action_rows
from app.ui.widgets.status_bar import QuorumStatusBar
from app.ui.widgets.wrapping_row import WrappingRow
from app.ui.window_menus import WindowMenus

ANSWER_PLACEHOLDER = "The answer appears here."


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
        self.audit_window: AuditWindow | None = None  # made on first use (View → Audit)
        self._build_widgets()
        self._connect()
        self.menus = WindowMenus(self)
        self._restore()
        if history_message:
            self.banner.show_message(history_message)

    # -- commands ---------------------------------------------------------------------
    def start(self) -> None:
        """Use the server chosen last time, else load the model used last time, else the
        library's default, else offer one."""
        if not self.engine_switch.start():
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
        # A few lines, scrolling beyond: on a short window the answer needs the height.
        lines = self.question.fontMetrics().lineSpacing()
        self.question.setMinimumHeight(2 * lines + 16)
        self.question.setMaximumHeight(4 * lines + 16)
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
        self.turn_label.setWordWrap(True)  # a line of its own, shown on follow-ups only
        self.consensus_options = ConsensusOptions()
        buttons_group = QWidget()
        buttons = QHBoxLayout(buttons_group)
        buttons.setContentsMargins(0, 0, 0, 0)
        for widget in (self.ask_button, self.stop_button, self.new_button):
            buttons.addWidget(widget)
        # One line where the centre is wide enough, else the consensus switch goes under.
        self.action_row = WrappingRow(buttons_group, self.consensus_options)

        self.trace_view = TraceView(self.session)
        self.answer_view = AnswerView(self.session)
        self.answer_view.follow_confidence(self.trace_view.confidence)  # one switch, both panes
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.trace_view)
        self.splitter.addWidget(self.answer_view)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([400, 600])
        self._expanded_sizes: list[int] = []
        # A long sample label wraps under the toggle instead of being cut ("Samp").
        self.trace_view.summary.setWordWrap(True)
        self.trace_view.summary.setSizePolicy(QSizePolicy.Policy.Ignored,
                                              QSizePolicy.Policy.Preferred)  # fmt: skip
        self.trace_view.summary.setMinimumWidth(120)
        self.consensus_view = ConsensusView()
        # Every turn of the conversation; the reasoning|answer panes show one run (a
        # consensus run's sample) in detail.
        self.transcript = TranscriptView(self.session, lambda: (
            self.settings_panel.sampling(), self.settings_panel.thinking()),
            self.window_settings)  # fmt: skip
        # One row of tabs: the conversation, one run in detail, and the consensus panel.
        # The panel is a tab of its own, not a strip above the panes: figures, chart,
        # chips and a sample table need the column's full height, which a split never
        # leaves them at 760 px; a tab is one click away and hides nothing being read.
        self.panes = QTabWidget()
        self.panes.setDocumentMode(True)
        self.panes.addTab(self.transcript, "Con&versation")
        self.panes.addTab(self.splitter, "Run &detail")
        self.panes.addTab(self.consensus_view, "Consensus")
        self.panes.setTabToolTip(2, "How much the samples of a consensus run agree")
        self.results = self.panes
        self.run_info = QLabel("")
        self.run_info.setTextFormat(Qt.TextFormat.PlainText)
        self.run_info.setWordWrap(True)
        self.run_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.questions_page = QWidget()
        page = QVBoxLayout(self.questions_page)
        page.setContentsMargins(0, 0, 0, 0)
        for part in (self.model_picker, self.question, self.question_hint):
            page.addWidget(part)
        page.addWidget(self.action_row)
        page.addWidget(self.turn_label)
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
        self.docks = DockFolder(self, [self.history_dock, self.settings_dock])
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

    def show_about(self) -> QMessageBox:
        box = about_box(self, self.session.model)
        box.open()
        return box

    def show_audit(self) -> AuditWindow:
        self.audit_window = show_audit_window(self.audit_window, self.settings_panel.runtime,
                                              lambda: self.session.model, self)  # fmt: skip
        return self.audit_window

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(action_rows(self.menus.shortcut_actions()), self)
        dialog.open()
        return dialog

    def _connect(self) -> None:
        self.models = ModelController(self, self.session, self.model_picker, self.settings_panel,
                                      self.banner, self.window_settings, self.views,
                                      self.demo_notice)  # fmt: skip
        self.engine_switch = EngineSwitch(self.settings_panel.engine_choice, self.session,
                                          self.banner, self.models.start,
                                          self.models.show_questions, parent=self)  # fmt: skip
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
                       session.run_opened, session.server_connecting, session.server_connected,
                       session.server_failed, session.server_closed):  # fmt: skip
            signal.connect(self._update_actions)
        session.run_finished.connect(self._on_run_shown)
        session.run_opened.connect(self._on_run_opened)
        session.run_started.connect(self._on_run_started)
        for signal in (self.consensus_session.requested, self.consensus_session.refused):
            signal.connect(self._update_actions)
        self.consensus = ConsensusController(
            session, self.consensus_session, self.consensus_options, self.consensus_view,
            self.trace_view,
            self.answer_view, self.banner, self.run_info, tabs=self.panes, parent=self,
        )  # fmt: skip
        # The next run's plan, as N, max tokens or the question change (before Ask).
        options = self.consensus_options
        spins = self.settings_panel.spins
        for changed in (options.samples_spin.valueChanged, options.toggled,
                        spins["max_tokens"].valueChanged, spins["temperature"].valueChanged,
                        spins["top_k"].valueChanged, self.question.textChanged,
                        session.model_loaded):  # fmt: skip
            changed.connect(self._preview_plan)
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

    def search_history(self) -> None:
        self.docks.actions[self.history_dock].setChecked(True)
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
        self.answer_view.browser.setPlaceholderText(ANSWER_PLACEHOLDER)

    def _on_run_shown(self, record: RunRecord) -> None:
        self.run_info.setText(describe_run(record))
        # An empty pane after a run must not read "The answer appears here".
        self.answer_view.browser.setPlaceholderText(no_answer_note(record) or ANSWER_PLACEHOLDER)
        if record.error:
            self.banner.show_message(record.error)

    def _on_run_opened(self, record: RunRecord) -> None:
        self.question.setPlainText(record.question)
        self._on_run_shown(record)

    def _preview_plan(self, *_args: object) -> None:
        spins = self.settings_panel.spins
        greedy = spins["temperature"].value() <= 0.0 or spins["top_k"].value() == 1
        max_tokens = int(spins["max_tokens"].value())
        self.consensus.preview_plan(self.question.toPlainText(), max_tokens, greedy)

    def _update_actions(self, *_args: object) -> None:
        session = self.session
        ready = session.ready  # a server, or a loaded local model
        self.ask_button.setEnabled(ready and not session.busy)
        self.stop_button.setEnabled(session.busy)
        self.new_button.setEnabled(not session.busy)
        self.model_picker.setEnabled(not session.busy)
        self.consensus_options.setEnabled(not session.busy)
        turns = len(session.turns)
        earlier = "1 earlier turn goes" if turns == 1 else f"{turns} earlier turns go"
        self.turn_label.setText(f"Follow-up: {earlier} with your question" if turns else "")
        self.turn_label.setVisible(bool(turns))

    # -- persistence and shutdown -----------------------------------------------------------
    def _restore(self) -> None:
        state = self.window_settings.panel_state()
        self.settings_panel.restore(state)
        self.consensus_options.restore(state.get("consensus") or {})
        self.window_settings.restore_layout(self, self.splitter)
        self.docks.restore(state.get("docks") or {})  # wanted, not what fitted last time

    def _save(self) -> None:
        state = {**self.settings_panel.state(), "consensus": self.consensus_options.state(),
                 "docks": self.docks.state()}  # fmt: skip
        self.window_settings.set_panel_state(state)
        self.window_settings.save_layout(self, self.splitter)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.docks.arrange()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self._save()
            self.models.shutdown()  # a first-run or manager download: cancelled, kept
            if self.audit_window is not None:  # its samples are saved; Resume continues
                self.audit_window.shutdown()
            # Cancel and end the thread first, so each session records its own run.
            self.session.inference.shutdown()
            self.consensus_session.shutdown()
            self.session.shutdown()
        event.accept()
