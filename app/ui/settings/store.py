"""What the window remembers between sessions: geometry, panes, last model, settings.

Stored with QSettings in an INI file inside Quorum's config folder (not the platform's
default QSettings location) so that QUORUM_CONFIG_DIR moves it, as it moves every
other setting, and tests never touch a user's real configuration.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from app.core.paths import config_dir

log = logging.getLogger(__name__)

FILENAME = "window.ini"
SCHEMA_VERSION = 1


class WindowSettings:
    """The window's own settings file: panel values, layout, last model (schema-versioned)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / FILENAME
        self._settings = QSettings(str(self.path), QSettings.Format.IniFormat)
        version = self._settings.value("schema_version")
        if version is not None and str(version) != str(SCHEMA_VERSION):
            # Another version's layout: starting fresh beats misreading it.
            log.warning("ignoring window settings of schema %s in %s", version, self.path)
            self._settings.clear()
        self._settings.setValue("schema_version", SCHEMA_VERSION)

    def bytes_value(self, key: str) -> QByteArray | None:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_bytes_value(self, key: str, value: QByteArray) -> None:
        self._settings.setValue(key, value)

    def last_model(self) -> Path | None:
        value = self._settings.value("model/last_path")
        return Path(str(value)) if value else None

    def set_last_model(self, path: Path | None) -> None:
        if path is None:
            self._settings.remove("model/last_path")
        else:
            self._settings.setValue("model/last_path", str(path))

    def panel_state(self) -> dict[str, Any]:
        raw = self._settings.value("settings/panel")
        try:
            data = json.loads(str(raw)) if raw else {}
        except ValueError:
            log.warning("ignoring unreadable settings panel state in %s", self.path)
            return {}
        return data if isinstance(data, dict) else {}

    def set_panel_state(self, state: dict[str, Any]) -> None:
        self._settings.setValue("settings/panel", json.dumps(state))

    def restore_layout(self, window: QMainWindow, splitter: QSplitter) -> None:
        """Window size and place, docks and toolbars, pane widths, as last saved."""
        for key, apply in (("window/geometry", window.restoreGeometry),
                           ("window/state", window.restoreState),
                           ("window/splitter", splitter.restoreState)):  # fmt: skip
            value = self.bytes_value(key)
            if value is not None:
                apply(value)

    def save_layout(self, window: QMainWindow, splitter: QSplitter) -> None:
        self.set_bytes_value("window/geometry", window.saveGeometry())
        self.set_bytes_value("window/state", window.saveState())
        self.set_bytes_value("window/splitter", splitter.saveState())
        self.sync()

    def sync(self) -> None:
        self._settings.sync()
