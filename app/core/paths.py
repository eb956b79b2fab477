"""Where Quorum keeps its files.

Platform conventions come from platformdirs. Every location can be moved with an
environment variable, which is how the tests keep away from a user's real folders
and how a user points Quorum at a models folder on another disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Quorum"
APP_AUTHOR = "Quorum"


def _override(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """History database and other user data."""
    return _ensure(
        _override("QUORUM_DATA_DIR") or Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    )


def config_dir() -> Path:
    """Settings."""
    return _ensure(
        _override("QUORUM_CONFIG_DIR") or Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))
    )


def cache_dir() -> Path:
    """Things that can be fetched again (the demo model, partial downloads' bookkeeping)."""
    return _ensure(
        _override("QUORUM_CACHE_DIR") or Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
    )


def models_dir() -> Path:
    """Downloaded and imported models. A user may choose another folder."""
    return _ensure(_override("QUORUM_MODELS_DIR") or data_dir() / "models")
