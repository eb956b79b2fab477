"""Where a server's API key is kept: the system keyring, else a private file.

The key never goes into settings.json, history, exports or logs. With the ``keyring``
package and a working backend (macOS Keychain, Windows Credential Locker, the Secret
Service on a Linux desktop) it is stored there; without one (a headless Linux box) it
goes to ``server-keys.json`` in the config folder, readable by the user alone (0600).
``storage_name`` says which, so the window can tell the user.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from app.core import paths

log = logging.getLogger(__name__)

SERVICE = "Quorum server engine"
KEY_FILE = "server-keys.json"


def _keyring() -> Any | None:
    """The keyring module when it has a usable backend, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken backend configuration must not stop the app
        log.warning("keyring unusable: %s", exc)
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def storage_name() -> str:
    """Where keys are kept, in words for the window."""
    if _keyring() is not None:
        return "the system keyring"
    return f"{key_file()} (readable by you alone)"


def key_file() -> Path:
    return paths.config_dir() / KEY_FILE


def save_key(url: str, key: str | None) -> None:
    """Store (or with None/empty, forget) the key for one server URL."""
    ring = _keyring()
    if ring is not None:
        if key:
            ring.set_password(SERVICE, url, key)
        else:
            with contextlib.suppress(Exception):  # nothing stored: nothing to delete
                ring.delete_password(SERVICE, url)
        return
    keys = _read_file()
    if key:
        keys[url] = key
    else:
        keys.pop(url, None)
    _write_file(keys)


def load_key(url: str) -> str | None:
    ring = _keyring()
    if ring is not None:
        try:
            value = ring.get_password(SERVICE, url)
        except Exception as exc:  # a locked keyring: ask again rather than crash
            log.warning("could not read the key for %s from the keyring: %s", url, exc)
            return None
        return str(value) if value else None
    return _read_file().get(url)


def _read_file() -> dict[str, str]:
    try:
        data = json.loads(key_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _write_file(keys: dict[str, str]) -> None:
    path = key_file()
    temporary = path.with_suffix(".tmp")
    # Created 0600 from the first byte: a chmod after writing would leave a window.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as sink:
        json.dump(keys, sink)
    os.chmod(temporary, 0o600)  # an older file of that name keeps its mode through O_TRUNC
    os.replace(temporary, path)
