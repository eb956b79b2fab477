"""HTTP to one server: JSON requests, server-sent-event streams, retries, and hard cancel.

Built on httpx2, the client huggingface_hub already brings (no second HTTP stack). The
``openai`` package was not used: the paths that make consensus fast on llama-server
(``/completion`` with ``n_cmpl``, ``/props``, ``/apply-template``, ``/tokenize``) are
outside its API, and its automatic retry of failed requests would re-send a sample
that may already be running. The protocol spoken is written down in
``app.core.remote.protocol``.

Cancel must close connections at once, including one still waiting for its first
byte. Each stream therefore gets a fresh connection (no keep-alive pool), whose socket
is caught as it connects (httpcore's trace hook) so ``abort_streams`` can shut it down
from any thread; a blocked read then ends immediately and the server sees the client
gone and stops decoding.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2

from app.core.remote.config import ServerConfig

# GET requests are safe to repeat; a server still loading its model answers 503.
_RETRY_STATUS = (502, 503, 504)
_RETRY_DELAYS_S = (0.5, 1.0, 2.0)


class ServerError(RuntimeError):
    """A request failed; the message is meant for a user (it never holds the API key)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerAuthError(ServerError):
    """The server refused the request's API key (or wants one)."""


class ServerGoneError(ServerError):
    """The server could not be reached, or closed the connection mid-answer."""


class StreamHandle:
    """One open stream: its socket once connected, and whether we cut it ourselves."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self.aborted = False

    def _on_trace(self, name: str, info: dict[str, Any]) -> None:
        if name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with self._lock:
                self._socket = sock
                abort_now = self.aborted
            if abort_now:
                self._shutdown()

    def abort(self) -> None:
        """Cut the connection now (any thread); the reader sees the stream end."""
        with self._lock:
            self.aborted = True
        self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            sock = self._socket
        if sock is None:
            return
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class ServerClient:
    """Requests to one configured server; ``abort_streams`` may be called from any thread."""

    def __init__(self, config: ServerConfig, retries: int = 2) -> None:
        self.config = config
        headers = {"Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        timeout = httpx2.Timeout(config.read_timeout, connect=config.connect_timeout)
        self._http = httpx2.Client(
            base_url=config.base_url,
            headers=headers,
            timeout=timeout,
            # Connection failures before a request reaches the server are retried here;
            # a stream that broke later is not (its sample may have run).
            transport=httpx2.HTTPTransport(
                retries=retries, limits=httpx2.Limits(max_keepalive_connections=0)
            ),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment must not see local traffic
        )
        self._streams: set[StreamHandle] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.config.base_url

    def get_json(self, path: str, *, missing_ok: bool = False) -> Any:
        """GET a JSON document (retried while the server says it is busy or loading).

        With ``missing_ok`` a 404 or 405 gives None: probing for endpoints a kind of
        server may not have.
        """
        for delay in (*_RETRY_DELAYS_S, None):
            response = self._send("GET", path)
            if response.status_code in _RETRY_STATUS and delay is not None:
                time.sleep(delay)
                continue
            if missing_ok and response.status_code in (404, 405):
                return None
            return self._json_of(path, response)
        raise AssertionError("the last attempt always returns")

    def post_json(self, path: str, body: dict[str, Any], *, missing_ok: bool = False) -> Any:
        """POST and read a JSON answer (never retried: the server may have acted on it)."""
        response = self._send("POST", path, body)
        if missing_ok and response.status_code in (404, 405, 501):
            return None
        return self._json_of(path, response)

    @contextmanager
    def stream(
        self, path: str, body: dict[str, Any], cancel: threading.Event
    ) -> Iterator[tuple[StreamHandle, Iterator[dict[str, Any]]]]:
        """POST with ``stream: true``; yields the handle and the events' JSON payloads.

        If ``cancel`` is set (before or after the connection opens) the stream is cut.
        A broken stream raises ServerGoneError unless we cut it ourselves, in which case
        the events simply end.
        """
        handle = StreamHandle()
        with self._lock:
            self._streams.add(handle)
        if cancel.is_set():
            handle.abort()
        try:
            request = self._http.build_request(
                "POST", path, json={**body, "stream": True},
                extensions={"trace": handle._on_trace},
            )  # fmt: skip
            try:
                response = self._http.send(request, stream=True)
            except httpx2.HTTPError as exc:
                if handle.aborted:
                    yield handle, iter(())
                    return
                raise self._transport_error(exc) from None
            try:
                if response.status_code >= 400:
                    response.read()
                    self._json_of(path, response)  # raises the server's error
                yield handle, self._events(handle, response)
            finally:
                response.close()
        finally:
            with self._lock:
                self._streams.discard(handle)

    def abort_streams(self) -> None:
        """Cut every open stream now (any thread)."""
        with self._lock:
            handles = list(self._streams)
        for handle in handles:
            handle.abort()

    def close(self) -> None:
        self.abort_streams()
        self._http.close()

    def _events(self, handle: StreamHandle, response: httpx2.Response) -> Iterator[dict[str, Any]]:
        try:
            for event in httpx2.EventSource(response):
                data = event.data.strip()
                if data == "[DONE]":
                    return
                if not data:
                    continue
                try:
                    payload = json.loads(data)
                except ValueError:
                    raise ServerError(f"the server at {self.url} sent a malformed event") from None
                if isinstance(payload, dict) and "error" in payload and len(payload) <= 2:
                    raise ServerError(f"the server at {self.url}: {_error_text(payload)}")
                if isinstance(payload, dict):
                    yield payload
        except (httpx2.HTTPError, httpx2.SSEError) as exc:
            if handle.aborted:
                return
            raise self._transport_error(exc) from None

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx2.Response:
        try:
            return self._http.request(method, path, json=body)
        except httpx2.HTTPError as exc:
            raise self._transport_error(exc) from None

    def _transport_error(self, exc: Exception) -> ServerError:
        if isinstance(exc, httpx2.ConnectError):
            return ServerGoneError(f"cannot connect to the server at {self.url} ({_reason(exc)})")
        if isinstance(exc, httpx2.TimeoutException):
            return ServerGoneError(
                f"the server at {self.url} did not answer in time ({type(exc).__name__})"
            )
        return ServerGoneError(f"the server at {self.url} closed the connection ({_reason(exc)})")

    def _json_of(self, path: str, response: httpx2.Response) -> Any:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if status in (401, 403):
            wants = "refused the API key" if self.config.api_key else "needs an API key"
            raise ServerAuthError(f"the server at {self.url} {wants} (HTTP {status})", status)
        if status >= 400:
            detail = _error_text(payload) if isinstance(payload, dict) else response.text[:200]
            raise ServerError(
                f"the server at {self.url} answered {path} with HTTP {status}: {detail}", status
            )
        if payload is None:
            raise ServerError(f"the server at {self.url} answered {path} with no JSON", status)
        return payload


def _error_text(payload: dict[str, Any]) -> str:
    error = payload.get("error", payload)
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
