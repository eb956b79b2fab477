"""Server settings: URL checks, the plain-http warning, and where the API key is kept."""

from __future__ import annotations

import json
import stat

import pytest

from app.core import settings
from app.core.remote import keys
from app.core.remote.config import ServerConfigError, make_config, normalise_url, url_warning


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://gpu-box.lan:8000/v1/", "http://gpu-box.lan:8000"),
        ("https://example.org/llm/v1", "https://example.org/llm"),
    ],
)
def test_urls_are_normalised(typed: str, expected: str) -> None:
    assert normalise_url(typed) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "empty"),
        ("ftp://host", "http:// or https://"),
        ("http://user:secret@host:8000", "not in the URL"),
        ("http://host:99999", "bad port"),
    ],
)
def test_bad_urls_get_a_clear_message(typed: str, message: str) -> None:
    with pytest.raises(ServerConfigError, match=message):
        normalise_url(typed)


def test_plain_http_is_accepted_locally_and_warned_about_otherwise() -> None:
    for local in ("http://127.0.0.1:8080", "http://localhost", "http://192.168.1.20:8000",
                  "http://10.0.0.7", "http://[::1]:8080", "https://example.org"):  # fmt: skip
        assert url_warning(local) is None, local
    warning = url_warning("http://example.org:8000")
    assert warning is not None and "unencrypted" in warning and "https" in warning


def test_the_key_never_shows_in_the_config_repr() -> None:
    config = make_config("127.0.0.1:8080", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(config)
    assert config.api_key == "sk-very-secret"


def test_without_a_keyring_the_key_file_is_private_and_apart_from_settings() -> None:
    # This machine has no keyring backend (keyring's "fail" backend), like most CI boxes.
    assert keys.storage_name().endswith("(readable by you alone)")
    keys.save_key("http://127.0.0.1:8080", "sk-very-secret")
    assert keys.load_key("http://127.0.0.1:8080") == "sk-very-secret"
    assert stat.S_IMODE(keys.key_file().stat().st_mode) == 0o600
    assert "sk-very-secret" not in json.dumps(settings.load_settings())
    keys.save_key("http://127.0.0.1:8080", None)
    assert keys.load_key("http://127.0.0.1:8080") is None
