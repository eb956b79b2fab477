"""The machine and software a run was made on, for reports others may want to reproduce.

Every probe is best effort: a fact that cannot be found is None, never a guess, and no
probe may fail a report.
"""

from __future__ import annotations

import os
import platform
from typing import Any

from app import __version__
from app.core.inference.sampling import default_threads
from app.core.machine import cpu_model, total_memory_bytes


def hardware_summary() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine() or None,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": default_threads(),
        "ram_bytes": total_memory_bytes(),
    }


def software_summary() -> dict[str, Any]:
    from app.core.inference.backend import library_version, system_info

    try:
        llama_system = system_info().strip()
    except Exception as exc:  # a report must not fail because llama.cpp would not say
        llama_system = f"unavailable: {exc}"
    return {
        "quorum": __version__,
        "python": platform.python_version(),
        "llama_cpp_python": library_version(),
        "llama_cpp_system_info": llama_system,
    }
