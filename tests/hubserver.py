"""A local stand-in for the Hugging Face hub, for tests that must not use the internet.

Two HTTP servers on 127.0.0.1 (ephemeral ports, daemon threads): the "hub" answers
the API calls huggingface_hub 2.4 makes (POST /api/models/<repo>/paths-info/<rev>,
GET /api/models/<repo>/tree/<rev>, GET /api/models/<repo>[/revision/<rev>]), the model
search (GET /api/models?search=&filter=&sort=&limit=, over the repositories it hosts:
a repo has the "gguf" tag when it hosts a .gguf file; downloads and likes come from
describe_repo) and
HEAD/GET /<repo>/resolve/<rev>/<file>; LFS files are redirected, like on the real
hub, to a "CDN" on a second origin, which serves the bytes with Range support.

Faults on demand: drop the connection at a byte, corrupt one byte, stall, throttle,
answer a status code N times, require a token. Every request is logged.

Use the ``hub`` fixture (registered for every test by tests/conftest.py): it points
HF_ENDPOINT at the server and turns offline mode off for that test.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_CHUNK = 64 * 1024


def small_gguf(size: int = 3_000_000, seed: int = 7, name: str = "Tiny Test Model") -> bytes:
    """A GGUF v3 file with metadata and no tensors, padded to ``size`` with random bytes."""

    def text(s: str) -> bytes:
        raw = s.encode()
        return struct.pack("<Q", len(raw)) + raw

    kvs = [
        text("general.architecture") + struct.pack("<I", 8) + text("llama"),
        text("general.name") + struct.pack("<I", 8) + text(name),
        text("general.file_type") + struct.pack("<I", 4) + struct.pack("<I", 15),
    ]
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)
    head += b"\0" * (-len(head) % 32)
    return head + random.Random(seed).randbytes(max(0, size - len(head)))


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class HostedFile:
    name: str
    data: bytes | None  # in memory, or ...
    path: Path | None  # ... read from disk (the 98 MB test model)
    size: int
    sha256: str
    oid: str
    lfs: bool

    def read(self, start: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[start : start + length]
        assert self.path is not None
        with self.path.open("rb") as handle:
            handle.seek(start)
            return handle.read(length)


@dataclass
class Logged:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    range: str | None
    authorization: str | None
    status: int = 0
    body_bytes: int = 0
    at: float = field(default_factory=time.monotonic)  # when the request arrived


@dataclass
class Faults:
    drop_at: list[int] = field(default_factory=list)  # each used once
    corrupt_at: list[int] = field(default_factory=list)
    stall_at: list[tuple[int, float]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (path substring, status)
    throttle: float | None = None  # bytes per second on the CDN
    response_delay: float = 0.0  # seconds the CDN waits before answering
    tokens: dict[str, str] = field(default_factory=dict)  # repo -> required token


class HubServer:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, HostedFile]] = {}
        self.listing: dict[str, dict[str, Any]] = {}  # a repo's search-result fields
        self.log: list[Logged] = []
        self.faults = Faults()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "hub"))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "cdn"))
        for server in (self._hub, self._cdn):
            server.daemon_threads = True
        self._threads = [
            threading.Thread(
                target=s.serve_forever, args=(0.05,), name=f"hubserver-{n}", daemon=True
            )
            for n, s in (("hub", self._hub), ("cdn", self._cdn))
        ]

    # -- setup -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def add_file(self, repo: str, name: str, data: bytes | Path, *, lfs: bool = True) -> HostedFile:
        if isinstance(data, Path):
            raw = data.read_bytes()
            hosted = HostedFile(name, None, data, len(raw), _sha256(raw), git_blob_oid(raw), lfs)
        else:
            hosted = HostedFile(name, data, None, len(data), _sha256(data), git_blob_oid(data), lfs)
        self.repos.setdefault(repo, {})[name] = hosted
        return hosted

    def describe_repo(self, repo: str, *, downloads: int = 0, likes: int = 0,
                      parameters: int | None = None,
                      last_modified: str = "2025-05-01T12:00:00.000Z") -> None:  # fmt: skip
        """The counts the model search reports for ``repo`` (its files are add_file's)."""
        item: dict[str, Any] = {"downloads": downloads, "likes": likes,
                                "lastModified": last_modified}  # fmt: skip
        if parameters is not None:
            item["gguf"] = {"total": parameters, "architecture": "llama"}
        self.listing[repo] = item

    def start(self) -> HubServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # -- faults ----------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, path_contains: str = "") -> None:
        with self.lock:
            self.faults.statuses.extend([(path_contains, status)] * times)

    def drop_at(self, offset: int) -> None:
        self.faults.drop_at.append(offset)

    def corrupt_at(self, offset: int) -> None:
        self.faults.corrupt_at.append(offset)

    def stall_at(self, offset: int, seconds: float, times: int = 1) -> None:
        """Pause ``seconds`` before sending byte ``offset``, for the next ``times`` passes."""
        self.faults.stall_at.extend([(offset, seconds)] * times)

    def require_token(self, repo: str, token: str) -> None:
        self.faults.tokens[repo] = token

    # -- inspection ------------------------------------------------------------

    def data_requests(self) -> list[Logged]:
        """GETs that carried file bytes (CDN blobs and non-LFS resolves)."""
        return [r for r in self.log if r.method == "GET" and r.body_bytes > 0]

    def range_starts(self) -> list[int]:
        starts = []
        for r in self.data_requests():
            match = re.match(r"bytes=(\d+)-", r.range or "")
            starts.append(int(match.group(1)) if match else 0)
        return starts

    def bytes_served(self) -> int:
        return sum(r.body_bytes for r in self.data_requests())

    def _take_status(self, path: str) -> int | None:
        with self.lock:
            for i, (needle, status) in enumerate(self.faults.statuses):
                if needle in path:
                    del self.faults.statuses[i]
                    return status
        return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_API = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/(paths-info|tree|revision)/([^/]+))?/?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_BLOB = re.compile(r"^/blobs/([0-9a-f]{64})$")


def _make_handler(hub: HubServer, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def handle(self) -> None:
            # Clients drop connections on purpose here (cancel, stalls): not an error.
            try:
                super().handle()
            except (ConnectionResetError, BrokenPipeError, TimeoutError):
                self.close_connection = True

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _dispatch(self, method: str) -> None:
            path = unquote(urlsplit(self.path).path)
            entry = Logged(
                role, method, path, self.headers.get("Range"), self.headers.get("Authorization")
            )
            with hub.lock:
                hub.log.append(entry)
            self._entry = entry
            body = b""
            if method == "POST":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            forced = hub._take_status(path)
            try:
                if forced is not None:
                    self._error(forced, "Injected", f"injected HTTP {forced}")
                elif role == "cdn":
                    self._blob(method, path)
                else:
                    self._hub(method, path, body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        # -- hub routes -------------------------------------------------------

        def _hub(self, method: str, path: str, body: bytes) -> None:
            if path.rstrip("/") == "/api/models" and method == "GET":
                self._search(parse_qs(urlsplit(self.path).query))
                return
            if match := _API.match(path):
                repo, kind, rev = match.groups()
                if self._repo_refused(repo):
                    return
                if kind == "paths-info" and method == "POST":
                    form = parse_qs(body.decode())
                    self._paths_info(repo, form.get("paths", []), rev)
                elif kind == "tree":
                    self._json([_file_json(f, False) for f in hub.repos[repo].values()])
                else:
                    siblings = [{"rfilename": n} for n in hub.repos[repo]]
                    self._json({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings})
                return
            if match := _RESOLVE.match(path):
                repo, rev, name = match.groups()
                if self._repo_refused(repo):
                    return
                self._resolve(method, repo, rev, name)
                return
            self._error(404, "NotFound", "no such route")

        def _search(self, query: dict[str, list[str]]) -> None:
            words = (query.get("search") or [""])[0].lower()
            wanted = set(query.get("filter") or [])
            found = []
            for repo, files in hub.repos.items():
                tags = {"gguf"} if any(n.lower().endswith(".gguf") for n in files) else set()
                if words not in repo.lower() or not wanted <= tags:
                    continue
                item = {"_id": repo, "id": repo, "modelId": repo, "private": False,
                        "tags": sorted(tags), "library_name": "gguf" if tags else None,
                        "downloads": 0, "likes": 0, **hub.listing.get(repo, {})}  # fmt: skip
                found.append(item)
            if (query.get("sort") or [""])[0] == "downloads":
                found.sort(key=lambda item: -item["downloads"])
            limit = int((query.get("limit") or ["1000"])[0])
            self._json(found[:limit])

        def _repo_refused(self, repo: str) -> bool:
            if repo not in hub.repos:
                self._error(404, "RepoNotFound", "Repository not found")
                return True
            token = hub.faults.tokens.get(repo)
            if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
                self._error(401, "RepoNotFound", "Invalid username or password.")
                return True
            return False

        def _paths_info(self, repo: str, paths: list[str], rev: str) -> None:
            if rev not in ("main", COMMIT):
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return
            files = hub.repos[repo]
            self._json([_file_json(files[p], True) for p in paths if p in files])

        def _resolve(self, method: str, repo: str, rev: str, name: str) -> None:
            hosted = hub.repos[repo].get(name)
            if rev not in ("main", COMMIT):
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return
            if hosted is None:
                self._error(404, "EntryNotFound", "Entry not found", commit=True)
                return
            common = {"X-Repo-Commit": COMMIT, "Accept-Ranges": "bytes"}
            if hosted.lfs:
                location = f"{hub.cdn_url}/blobs/{hosted.sha256}"
                self._send(
                    302,
                    {
                        **common,
                        "Location": location,
                        "ETag": f'"{hosted.oid}"',
                        "X-Linked-Etag": f'"{hosted.sha256}"',
                        "X-Linked-Size": str(hosted.size),
                        "Content-Length": "0",
                    },
                )
                self.end_headers()
                return
            self._bytes(method, hosted, {**common, "ETag": f'"{hosted.oid}"'})

        # -- CDN --------------------------------------------------------------

        def _blob(self, method: str, path: str) -> None:
            if hub.faults.response_delay:
                hub.stopping.wait(hub.faults.response_delay)
            match = _BLOB.match(path)
            hosted = next(
                (
                    f
                    for files in hub.repos.values()
                    for f in files.values()
                    if match and f.sha256 == match.group(1)
                ),
                None,
            )
            if hosted is None:
                self._error(404, "NotFound", "no such blob")
                return
            self._bytes(method, hosted, {"ETag": f'"{hosted.sha256}"', "Accept-Ranges": "bytes"})

        def _bytes(self, method: str, hosted: HostedFile, headers: dict[str, str]) -> None:
            start, status = 0, 200
            match = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
            if match:
                start, status = int(match.group(1)), 206
                if start >= hosted.size:
                    self._send(416, {"Content-Range": f"bytes */{hosted.size}"})
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers["Content-Range"] = f"bytes {start}-{hosted.size - 1}/{hosted.size}"
            headers["Content-Length"] = str(hosted.size - start)
            self._send(status, headers)
            self.end_headers()
            if method == "HEAD":
                return
            self._stream(hosted, start)

        def _stream(self, hosted: HostedFile, position: int) -> None:
            began = time.monotonic()
            sent = 0
            faults = hub.faults
            while position < hosted.size and not hub.stopping.is_set():
                if position in faults.drop_at:
                    faults.drop_at.remove(position)
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)  # SHUT_RDWR: the client sees the body end early
                    return
                stall = next((s for s in faults.stall_at if s[0] == position), None)
                if stall is not None:
                    faults.stall_at.remove(stall)
                    hub.stopping.wait(stall[1])
                upcoming = [o for o in faults.drop_at if o > position]
                upcoming += [o for o, _ in faults.stall_at if o > position]
                limit = min(
                    _CHUNK, hosted.size - position, min(upcoming, default=hosted.size) - position
                )
                block = bytearray(hosted.read(position, limit))
                # One use per offset and pass: corrupt_at(n) twice spoils two downloads.
                for offset in {o for o in faults.corrupt_at if position <= o < position + limit}:
                    faults.corrupt_at.remove(offset)
                    block[offset - position] ^= 0xFF
                self.wfile.write(block)
                position += len(block)
                sent += len(block)
                self._entry.body_bytes = sent
                if hub.faults.throttle:
                    ahead = sent / hub.faults.throttle - (time.monotonic() - began)
                    if ahead > 0:
                        hub.stopping.wait(ahead)

        # -- helpers ----------------------------------------------------------

        def _send(self, status: int, headers: dict[str, str]) -> None:
            self._entry.status = status
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)

        def _json(self, data: Any) -> None:
            raw = json.dumps(data).encode()
            self._send(200, {"Content-Type": "application/json", "Content-Length": str(len(raw))})
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, code: str, message: str, commit: bool = False) -> None:
            raw = json.dumps({"error": message}).encode()
            headers = {
                "Content-Type": "application/json",
                "Content-Length": str(len(raw)),
                "X-Error-Code": code,
                "X-Error-Message": message,
            }
            if commit:
                headers["X-Repo-Commit"] = COMMIT
            self._send(status, headers)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

    return Handler


def _file_json(hosted: HostedFile, expand: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "file",
        "oid": hosted.oid,
        "size": hosted.size,
        "path": hosted.name,
    }
    if hosted.lfs:
        item["lfs"] = {"oid": hosted.sha256, "size": hosted.size, "pointerSize": 134}
    if expand:
        item["lastCommit"] = {
            "id": COMMIT,
            "title": "Upload model",
            "date": "2025-05-01T12:00:00.000Z",
        }
        item["securityFileStatus"] = {
            "status": "safe",
            "avScan": {"virusFound": False},
            "pickleImportScan": None,
        }
    return item


@pytest.fixture(name="hub")
def hub_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A running stand-in hub; HF_ENDPOINT points at it and offline mode is off."""
    from huggingface_hub import constants
    from huggingface_hub.utils import close_session

    server = HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # huggingface_hub froze these when first imported: its session checks HF_HUB_OFFLINE,
    # and building headers fetches <import-time endpoint>/api/agent-harnesses (possibly
    # huggingface.co) unless telemetry is off.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    try:
        yield server
    finally:
        close_session()
        server.stop()
