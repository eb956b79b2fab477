"""Start the window: QApplication, theme, logging, a last-resort error dialog.

python -m app                     # follows the desktop's light or dark theme
python -m app --gui-theme=dark    # forces one (screenshots, testing)
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.core.models.catalog import resources_dir
from app.core.paths import data_dir
from app.ui.widgets.focus_style import FocusRingStyle

log = logging.getLogger(__name__)
THEMES = ("dark", "light")
LOG_FILENAME = "quorum.log"


class GuiUsageError(ValueError):
    """A --gui-* option was not understood."""


def parse_gui_args(argv: list[str]) -> tuple[str | None, list[str]]:
    """The forced theme (or None) and the arguments left for Qt."""
    theme: str | None = None
    rest: list[str] = []
    for arg in argv:
        if arg == "--gui":
            continue
        if arg.startswith("--gui-theme="):
            theme = arg.split("=", 1)[1].strip().lower()
            if theme not in THEMES:
                raise GuiUsageError(f"--gui-theme must be dark or light, not {theme!r}")
        elif arg.startswith("--gui"):
            raise GuiUsageError(f"unknown option {arg}; try --gui-theme=dark or light")
        else:
            rest.append(arg)
    return theme, rest


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2d31", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1f22", QPalette.ColorRole.AlternateBase: "#2b2d31",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#34363b",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d6fb4",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#34363b",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.Link: "#8ab4f8",
        QPalette.ColorRole.PlaceholderText: "#8c8f96", QPalette.ColorRole.BrightText: "#ff6b6b",
    }  # fmt: skip
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):  # fmt: skip
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d84"))
    return palette


def apply_theme(app: QApplication, theme: str | None) -> None:
    """Follow the desktop (Qt does, when theme is None) or force dark/light."""
    if theme is None:
        log.info("colour scheme from the desktop: %s", app.styleHints().colorScheme().name)
        return
    # Fusion: the one style that draws any palette faithfully everywhere; the proxy adds
    # a focus ring that stays visible on the dark theme.
    app.setStyle(FocusRingStyle())
    scheme = Qt.ColorScheme.Dark if theme == "dark" else Qt.ColorScheme.Light
    app.styleHints().setColorScheme(scheme)
    # Some platforms (offscreen, older desktops) ignore the hint, so set colours too.
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())


def setup_logging() -> Path | None:
    # The terminal gets warnings only (llama.cpp logs every tensor at INFO); the log
    # file in the data folder keeps the detail for bug reports.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    try:
        path = data_dir() / LOG_FILENAME
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file: %s", exc)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    return path


class ExceptionReporter(QObject):
    """sys.excepthook replacement: log the traceback, show the user one readable line.

    The hook may run on any thread; the dialog is shown by a queued slot on the GUI thread.

    Signals:
        exception_reported(str): one readable line about an exception nobody caught.
    """

    exception_reported = Signal(str)

    def __init__(self, window: QWidget | None, log_path: Path | None) -> None:
        super().__init__(window)
        self.window = window
        self.log_path = log_path
        self.dialogs: list[QMessageBox] = []
        self.exception_reported.connect(self._on_exception_reported)

    def install(self) -> None:
        sys.excepthook = self.hook
        threading.excepthook = lambda args: self.hook(
            args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback
        )

    def hook(self, kind: type[BaseException], error: BaseException,
             trace: TracebackType | None) -> None:  # fmt: skip
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        log.error("unexpected error", exc_info=(kind, error, trace))
        self.exception_reported.emit(f"{kind.__name__}: {error}")

    def _on_exception_reported(self, summary: str) -> None:
        where = f" The details are in {self.log_path}." if self.log_path else ""
        box = QMessageBox(QMessageBox.Icon.Critical, "Quorum hit a problem",
                          f"Something went wrong, but your work is safe.{where}\n\n{summary}",
                          QMessageBox.StandardButton.Ok, self.window)  # fmt: skip
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.finished.connect(lambda _result: self.dialogs.remove(box))
        self.dialogs.append(box)
        box.open()  # window-modal and non-blocking: the event loop keeps running


def run_gui(argv: list[str]) -> int:
    try:
        theme, qt_args = parse_gui_args(argv)
    except GuiUsageError as exc:
        print(f"quorum: error: {exc}", file=sys.stderr)
        return 2
    log_path = setup_logging()
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("Quorum")
    app.setOrganizationName("Quorum")
    app.setApplicationDisplayName("Quorum")
    # Wayland matches the window to resources/quorum.desktop by this name.
    app.setDesktopFileName("quorum")
    icon = resources_dir() / "icons" / "quorum.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    apply_theme(app, theme)

    from app.ui.main_window import MainWindow  # after QApplication: widgets need it

    window = MainWindow()
    reporter = ExceptionReporter(window, log_path)
    reporter.install()
    if window.window_settings.bytes_value("window/geometry") is None:
        window.resize(1200, 760)  # first start; later starts restore the user's size
    window.show()
    window.start()
    # Ctrl+C in the terminal closes the window properly (run recorded, thread stopped).
    # Python only sees the signal when it runs, hence the idle timer.
    previous_sigint = signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer(interval=250)
    wake.timeout.connect(lambda: None)
    wake.start()
    try:
        return int(app.exec())
    finally:
        window.close()  # stops the inference thread if the loop ended another way
        wake.stop()
        signal.signal(signal.SIGINT, previous_sigint)
        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__
