"""A connected server as the window and its records see it: plain data, no connection.

``ServerDescription`` crosses from the inference thread (which owns the ServerEngine)
to the GUI, as ``ModelDescription`` does for a local model. It names the server in the
status bar and run info, and gives a run's record what it must say about the engine:
the server's URL, kind, version, model id and the consensus path, never the API key
(``ServerEngine.identity`` holds none). ``server_report_data`` is ``build_report`` for
a consensus run made on a server: the "model" section names the server's model, not a
file here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.core.consensus.memory_plan import ConsensusPlan
from app.core.consensus.report import build_report
from app.core.consensus.runner import ConsensusReport
from app.core.inference.sampling import SamplingParams
from app.core.remote.engine import ServerEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerDescription:
    """What the GUI may know about the server the worker is connected to."""

    url: str  # public: no user name or password, no key
    model_id: str | None
    kind: str
    version: str | None
    supports_thinking: bool
    n_ctx: int | None
    consensus_path: str
    defaults: SamplingParams  # the server's published defaults, else generic ones
    findings: tuple[str, ...]  # what the probe found, in words (ServerCapabilities.lines)
    identity: dict[str, Any]  # ServerEngine.identity(): what a record says (no key)

    @classmethod
    def of(cls, engine: ServerEngine) -> ServerDescription:
        """Describe a connected engine (on the thread that owns it: it may ask /props)."""
        caps = engine.capabilities
        return cls(
            url=engine.config.public_url, model_id=engine.model_id, kind=caps.kind.value,
            version=caps.version, supports_thinking=engine.supports_thinking,
            n_ctx=caps.n_ctx, consensus_path=caps.path.value,
            defaults=engine.default_sampling(), findings=tuple(caps.lines()),
            identity=json_identity(engine),
        )  # fmt: skip

    @property
    def display_name(self) -> str:
        return self.model_id or "the server's model"

    @property
    def host(self) -> str:
        """``127.0.0.1:8080``: the URL without the scheme, as the status bar shows it."""
        parts = urlsplit(self.url)
        return parts.netloc + parts.path

    def status_text(self) -> str:
        """``Server: llama-server b1234 at 127.0.0.1:8080 · model X``."""
        software = self.kind + (f" {self.version}" if self.version else "")
        return f"Server: {software} at {self.host} · model {self.display_name}"

    def describe_plan(self, plan: ConsensusPlan) -> str:
        """A consensus plan in words (ConsensusPlan.describe speaks of local KV memory)."""
        return (
            f"{plan.samples} samples on {self.host}, {plan.parallel} at a time, "
            f"via {self.consensus_path}"
        )

    def record_params(self) -> dict[str, Any]:
        """The engine part of a run's params (beside sampling, thinking and follows)."""
        return {"n_ctx": self.n_ctx, "server": dict(self.identity)}


def json_identity(engine: ServerEngine) -> dict[str, Any]:
    """ServerEngine.identity as a record stores and reads it back (lists, plain strings)."""
    identity: dict[str, Any] = json.loads(json.dumps(engine.identity()))
    return identity


def server_report_data(
    engine: ServerEngine, report: ConsensusReport, *, question: str, early_stop: str,
    created_at: float | None,
) -> dict[str, Any] | None:  # fmt: skip
    """The report data of a consensus run on a server; None, logged, if it fails (the
    run is then saved from the report alone, as for a local run)."""
    url = engine.config.public_url
    try:
        data = build_report(
            report, question=question, model_path=url, model_info=None, runtime=None,
            early_stop=early_stop,
            # There is no file here to hash; the model section is replaced below.
            model_sha256="", hash_model=False, created_at=created_at,
        )  # fmt: skip
    except Exception:
        log.exception("could not build the consensus report of a server run")
        return None
    caps = engine.capabilities
    data["model"] = {
        "name": engine.model_id or "the server's model", "path": url, "file_name": None,
        "sha256": None, "size_bytes": None, "architecture": None, "file_type": None,
        "parameter_count": None, "context_length": caps.n_ctx,
        "server": json_identity(engine),
    }  # fmt: skip
    return data
