"""Start llama.cpp's own ``llama-server`` on 127.0.0.1 for tests and benchmarks.

    with LlamaServer(model_path, parallel=8) as server:
        server.url   # http://127.0.0.1:PORT, answering /health

The binary comes from ``tests.llama_tools`` (built from the vendored llama.cpp). It is
started with the configuration the CPU probe chose: ``--no-repack`` where the repacked
kernels crash this CPU (``QUORUM_LLAMA_CONFIG=no-repack``, set by the ``test_model_path``
fixture), and 2 threads unless told otherwise.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2

from app.core.inference.cpu_probe import FORCE_ENV
from tests.llama_tools import tool_path

START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """One llama-server process on a free loopback port, with its log in a file."""

    def __init__(
        self,
        model: Path,
        *,
        parallel: int = 8,
        ctx_per_slot: int = 1024,
        threads: int = 2,
        api_key: str | None = None,
        log_dir: Path | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.model = model
        self.parallel = parallel
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = api_key
        self.command = [
            str(tool_path("llama-server")), "-m", str(model),
            "--host", "127.0.0.1", "--port", str(self.port),
            "-np", str(parallel), "-c", str(ctx_per_slot * parallel),
            "-t", str(threads), "-tb", str(threads), "--no-webui", *extra,
        ]  # fmt: skip
        if os.environ.get(FORCE_ENV) == "no-repack":
            self.command.append("--no-repack")
        if api_key:
            self.command += ["--api-key", api_key]
        self.log_path = (
            log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
        ) / f"llama-server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LlamaServer:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited ({self.process.returncode}): {self.log_tail()}"
                )
            try:
                if httpx2.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama-server did not answer /health in {START_TIMEOUT_S} s")

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-answer, as a crashed or unplugged one would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
