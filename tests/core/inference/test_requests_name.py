"""A model's display name: its file's name without the quantisation tag, not a recipe."""

from __future__ import annotations

from pathlib import Path

from app.core.inference.requests import name_from_file
from app.core.models.gguf import read_gguf_info


def test_the_test_models_name_comes_from_its_file(test_model_path: Path) -> None:
    assert read_gguf_info(test_model_path).name == "Smollm2 135M 8k Lc100K Mix1 Ep2"
    assert name_from_file(test_model_path) == "SmolLM2 135M Instruct"
