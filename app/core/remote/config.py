"""Where a server engine talks to: base URL, model id, API key, timeouts, and a URL check.

Nothing here opens a connection. The API key lives in memory only (``repr`` hides it);
``app.core.remote.keys`` stores it, and no record, export or log line ever holds it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit


class ServerConfigError(ValueError):
    """The server settings cannot be used as given; the message is meant for a user."""


@dataclass(frozen=True)
class ServerConfig:
    """One configured server: where, which model, the key (never printed) and timeouts."""

    base_url: str  # normalised: scheme://host[:port][/prefix], no trailing /v1
    model: str | None = None  # None: the server's only (or first) model
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    # Between two bytes of a stream. A server busy with a long prompt sends nothing for
    # a while; a dead one is noticed by the connection, not by this.
    read_timeout: float = 300.0

    @property
    def public_url(self) -> str:
        """The URL as it may be recorded: no user name or password in it."""
        return self.base_url


def normalise_url(raw: str) -> str:
    """``http://host:port`` from what a user typed (``host:port``, ``.../v1``, ``.../``)."""
    text = raw.strip()
    if not text:
        raise ServerConfigError("the server URL is empty")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ServerConfigError(f"the server URL must start with http:// or https://, not {raw!r}")
    if not parts.hostname:
        raise ServerConfigError(f"the server URL {raw!r} names no host")
    if parts.username or parts.password:
        raise ServerConfigError(
            "put the API key in its own field, not in the URL (it would end up in records)"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ServerConfigError(f"the server URL {raw!r} has a bad port") from None
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def is_local_host(host: str) -> bool:
    """Loopback, private or link-local: plain http stays on a network the user controls."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def url_warning(base_url: str) -> str | None:
    """A warning for plain http to a public address (questions and key travel in clear)."""
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not is_local_host(parts.hostname or ""):
        return (
            f"{parts.hostname} is not a local or private address and the URL is plain http: "
            "your questions and API key would cross the network unencrypted; use https"
        )
    return None


def make_config(
    url: str, model: str | None = None, api_key: str | None = None, **timeouts: float
) -> ServerConfig:
    """A checked ServerConfig (raises ServerConfigError with a readable message)."""
    key = api_key.strip() if api_key else None
    return ServerConfig(normalise_url(url), model or None, key or None, **timeouts)
