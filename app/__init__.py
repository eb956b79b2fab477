"""Quorum: a desktop reasoning assistant for local GGUF models."""

__version__ = "0.1.0"

import os as _os

# huggingface_hub reads this once, at import: Quorum sends no telemetry to the hub.
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Quorum draws its own download progress; the hub's terminal bars would only add noise.
_os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
