"""A server as the window's records see it: the real probe of the llama-server fixture,
then records made on it by the core Conversation (no Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.conversation import Conversation, ConversationError
from app.core.history.describe import describe_run, server_identity
from app.core.history.records import RunStatus
from app.core.history.store import HistoryStore
from app.core.inference.sampling import SamplingParams
from app.core.remote.description import ServerDescription
from app.core.remote.engine import ServerEngine
from tests.server_fixtures import API_KEY

pytestmark = pytest.mark.model


def test_a_run_on_a_server_names_it_and_never_the_key(
    server_engine: ServerEngine, tmp_path: Path
) -> None:
    server = ServerDescription.of(server_engine)
    assert server.status_text() == (
        f"Server: llama-server {server.version} at {server.host} · model {server.model_id}"
    )
    assert server.url == server_engine.config.public_url and server.n_ctx == 1024
    talk = Conversation(HistoryStore(tmp_path / "history.sqlite3"))
    talk.server = server  # no local model loaded: the server is enough to ask
    record = talk.new_record("What is 2 + 2?", SamplingParams(seed=3), True)
    assert record.model_name == server.model_id and record.model_path == server.url
    assert record.params["server"]["kind"] == "llama-server"
    assert record.params["server"]["consensus_path"] == "llama-server n_cmpl"
    assert "llama_config" not in record.params and record.model_sha256 is None
    assert API_KEY not in repr(record) and API_KEY not in repr(server)
    talk.begin(record)
    record.status = RunStatus.CANCELLED  # resumable, were it on this computer
    talk.end(record)
    stored = talk.store.get_run(record.id or -1)
    assert server_identity(stored) == server.identity
    assert f"on llama-server {server.version} at {server.url}" in describe_run(stored)
    with pytest.raises(ConversationError, match="needs the model on this computer"):
        talk.prepare_resume(record.id or -1)
