"""User settings: a small JSON document in the config folder.

The file carries a ``schema_version`` so later versions can migrate it. A missing or
unreadable file gives the defaults: a damaged settings file must never stop the app
from starting (it is logged and left for the user to inspect, then overwritten on the
next save).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from app.core import paths
from app.core.files import write_json_atomic

SCHEMA_VERSION = 1
FILENAME = "settings.json"

log = logging.getLogger(__name__)


def settings_path() -> Path:
    return paths.config_dir() / FILENAME


def load_settings() -> dict[str, Any]:
    """The saved settings, or just ``{"schema_version": 1}`` when there are none."""
    path = settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable settings file %s: %s", path, exc)
        data = {}
    if not isinstance(data, dict):
        log.warning("ignoring settings file %s: not a JSON object", path)
        data = {}
    data["schema_version"] = SCHEMA_VERSION
    return data


def save_settings(values: dict[str, Any]) -> None:
    """Write ``values`` atomically (a crash mid-write leaves the old file intact)."""
    write_json_atomic(settings_path(), {**values, "schema_version": SCHEMA_VERSION})


def update_settings(**changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into the saved settings; a value of None removes the key."""
    values = load_settings()
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    save_settings(values)
    return values


def models_dir() -> Path:
    """The folder new downloads go to.

    ``QUORUM_MODELS_DIR`` wins (tests and power users), then the ``models_dir`` the
    user chose in settings, then the platform default from app.core.paths.
    """
    if os.environ.get("QUORUM_MODELS_DIR", "").strip():
        return paths.models_dir()
    chosen = load_settings().get("models_dir")
    if isinstance(chosen, str) and chosen.strip():
        folder = Path(chosen).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return paths.models_dir()


def set_models_dir(folder: Path | None) -> None:
    """Choose where new downloads go (None restores the default)."""
    update_settings(models_dir=str(Path(folder).expanduser().resolve()) if folder else None)
