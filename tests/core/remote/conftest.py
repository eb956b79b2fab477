"""The server-engine tests' fixtures (a real llama-server): see tests.server_fixtures."""

from tests.server_fixtures import (  # noqa: F401 (fixtures and a hook, found by name)
    fresh_server,
    llama_server,
    pytest_collection_finish,
    server_engine,
)
