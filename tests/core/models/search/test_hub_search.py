"""Searching the hub for GGUF models and listing a repository's quantisations, against
the local stand-in hub serving real GGUF files (the SmolLM2 test model among them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.models.hub_errors import HubNotFoundError, HubOfflineError, HubServerError
from app.core.models.search.hub_search import (
    needed_memory,
    quant_name,
    repo_quantisations,
    search_models,
)
from tests.hubserver import HubServer, small_gguf

GIB = 2**30


@pytest.fixture
def hosted(hub: HubServer, test_model_path: Path) -> HubServer:
    hub.add_file("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", test_model_path.name, test_model_path)
    hub.add_file("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "README.md", b"# SmolLM2\n", lfs=False)
    hub.describe_repo("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", downloads=5400, likes=21,
                      parameters=134_515_008)  # fmt: skip
    repo = "someone/Tiny-Reasoner-GGUF"
    hub.add_file(repo, "Tiny-Reasoner-Q4_K_M.gguf", small_gguf(3_000_000, seed=1))
    hub.add_file(repo, "Tiny-Reasoner-Q8_0.gguf", small_gguf(5_000_000, seed=2))
    hub.add_file(repo, "BF16/Tiny-Reasoner-BF16-00001-of-00002.gguf", small_gguf(4_000_000, seed=3))
    hub.add_file(repo, "BF16/Tiny-Reasoner-BF16-00002-of-00002.gguf", b"\0" * 4_500_000)
    hub.add_file(repo, "mmproj-Tiny-Reasoner-f16.gguf", small_gguf(1_000_000, seed=4))
    hub.describe_repo(repo, downloads=90_000, likes=300)
    hub.add_file("someone/Tiny-Reasoner", "model.safetensors", b"\0" * 1000)  # no GGUF
    hub.describe_repo("someone/Tiny-Reasoner", downloads=1_000_000, likes=5000)
    return hub


def test_search_finds_gguf_repositories_most_downloaded_first(hosted: HubServer) -> None:
    found = search_models("tiny")
    assert [m.repo for m in found] == ["someone/Tiny-Reasoner-GGUF"]  # not the safetensors one
    assert (found[0].downloads, found[0].likes, found[0].parameters) == (90_000, 300, None)
    both = search_models("")
    assert [m.repo for m in both] == ["someone/Tiny-Reasoner-GGUF",
                                      "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"]  # fmt: skip
    assert both[1].parameters == 134_515_008 and both[1].last_modified is not None
    assert search_models("no such model") == []
    searched = [e for e in hosted.log if e.path == "/api/models"]
    assert len(searched) == 3


def test_a_repository_lists_its_quantisations_with_sizes_and_fit(
    hosted: HubServer, test_model_path: Path
) -> None:
    files = repo_quantisations("someone/Tiny-Reasoner-GGUF", memory_bytes=needed_memory(5_000_000))
    assert [(q.filename, q.quant, q.size, q.parts) for q in files] == [
        ("Tiny-Reasoner-Q4_K_M.gguf", "Q4_K_M", 3_000_000, 1),
        ("Tiny-Reasoner-Q8_0.gguf", "Q8_0", 5_000_000, 1),
        ("BF16/Tiny-Reasoner-BF16-00001-of-00002.gguf", "BF16", 8_500_000, 2),
    ]  # smallest first, the split model counted whole, the vision projector left out
    assert [q.fits for q in files] == [True, True, False]
    real = repo_quantisations("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", memory_bytes=64 * GIB)
    assert len(real) == 1 and real[0].size == test_model_path.stat().st_size
    assert real[0].quant == "Q4_1" and real[0].fits is True
    assert real[0].needed_bytes > real[0].size  # room for the context on top of the file


def test_quantisation_names_from_file_names() -> None:
    names = {"Qwen3-4B-Q4_K_M.gguf": "Q4_K_M", "model.Q8_0.gguf": "Q8_0",
             "x-IQ4_XS.gguf": "IQ4_XS", "x-f16.gguf": "F16", "x-Q4_0_4_4.gguf": "Q4_0_4_4",
             "gpt-oss-20b-MXFP4.gguf": "MXFP4", "x-UD-Q4_K_XL.gguf": "Q4_K_XL",
             "QwQ-32B.gguf": ""}  # fmt: skip
    assert {name: quant_name(name) for name in names} == names


def test_hub_errors_read_as_sentences(hosted: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HubNotFoundError, match="repository nobody/nothing not found"):
        repo_quantisations("nobody/nothing")
    hosted.fail_next(503, path_contains="/api/models")
    with pytest.raises(HubServerError, match="HTTP 503"):
        search_models("tiny")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOfflineError):
        search_models("tiny")
