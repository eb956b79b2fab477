"""The facts an About box and a support request need, as plain text."""

from __future__ import annotations

from app import __version__
from app.core import paths
from app.core.inference.cpu_probe import ProbeVerdict


def about_text(llama_config: ProbeVerdict | None) -> str:
    """Version, llama.cpp build and how it runs on this CPU, and where files live."""
    from app.core.inference.backend import library_version

    if llama_config is None:
        config = "chosen when a model is loaded (a one-time check in a child process)"
    else:
        config = llama_config.summary()
    return "\n".join(
        [
            f"Quorum {__version__}",
            "A desktop reasoning assistant for local models.",
            "",
            f"llama-cpp-python {library_version()}",
            f"llama.cpp on this CPU: {config}",
            "",
            f"Models: {paths.models_dir()}",
            f"History and data: {paths.data_dir()}",
            f"Settings: {paths.config_dir()}",
            f"Cache: {paths.cache_dir()}",
            "",
            "Licences: Quorum, huggingface_hub and math-verify Apache-2.0;",
            "llama.cpp MIT; Qt for Python LGPLv3.",
        ]
    )
