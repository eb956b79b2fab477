"""The model name in the title: the catalog's label, else the file's, never a recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.models import library
from app.ui.models.model_name import clean_model_name, name_from_file


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2 135M Instruct"),
        ("Qwen3-4B-Q4_K_M.gguf", "Qwen3 4B"),
        ("DeepSeek-R1-Distill-Qwen-1.5B-IQ4_XS.gguf", "DeepSeek R1 Distill Qwen 1.5B"),
        ("phi-4-mini-reasoning.bf16.gguf", "phi 4 mini reasoning"),
        ("model_f16.gguf", "model"),
        ("plain.gguf", "plain"),
    ],
)
def test_name_from_file_drops_the_quantisation_tag(filename: str, name: str) -> None:
    assert name_from_file(Path(filename)) == name


def test_a_local_file_goes_by_its_file_name_not_its_gguf_recipe(test_model_path: Path) -> None:
    # The test model's general.name is "Smollm2 135M 8k Lc100K Mix1 Ep2".
    recipe = "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert clean_model_name(test_model_path, recipe) == "SmolLM2 135M Instruct"
    library.import_local(test_model_path)  # imported: still a local file, same rule
    assert clean_model_name(test_model_path, recipe) == "SmolLM2 135M Instruct"


def test_a_file_without_a_usable_name_falls_back_to_the_gguf_name() -> None:
    assert clean_model_name(Path("/models/Q4_K_M.gguf"), "Some Model") == "Some Model"


def test_the_picker_names_an_imported_file_as_the_title_does(test_model_path: Path) -> None:
    from app.ui.models.picker import describe_entry

    entry = library.import_local(test_model_path)
    assert entry.display_name == "Smollm2 135M 8k Lc100K Mix1 Ep2"  # what the GGUF says
    assert describe_entry(entry).startswith("SmolLM2 135M Instruct · Q4_1 · ")
