"""Settings file with a schema version, and the chosen models folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core import paths, settings


def test_defaults_then_round_trip() -> None:
    assert settings.load_settings() == {"schema_version": settings.SCHEMA_VERSION}
    settings.update_settings(theme="dark")
    assert settings.load_settings() == {"schema_version": 1, "theme": "dark"}
    settings.update_settings(theme=None)
    assert "theme" not in settings.load_settings()


def test_damaged_file_gives_defaults(caplog: pytest.LogCaptureFixture) -> None:
    settings.settings_path().write_text("{not json")
    assert settings.load_settings() == {"schema_version": 1}
    settings.settings_path().write_text("[1, 2]")
    assert settings.load_settings() == {"schema_version": 1}
    assert "ignoring" in caplog.text


def test_models_folder_follows_env_then_setting_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.models_dir() == paths.models_dir()  # QUORUM_MODELS_DIR set by conftest
    settings.set_models_dir(tmp_path / "big-disk")
    assert settings.models_dir() == paths.models_dir()  # the env var still wins
    monkeypatch.delenv("QUORUM_MODELS_DIR")
    assert settings.models_dir() == (tmp_path / "big-disk").resolve()
    assert settings.models_dir().is_dir()
    settings.set_models_dir(None)
    assert settings.models_dir() == paths.data_dir() / "models"
