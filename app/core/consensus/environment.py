"""The machine and software a run was made on, for reports others may want to reproduce.

Every probe is best effort: a fact that cannot be found is None, never a guess, and no
probe may fail a report.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from app import __version__
from app.core.inference.sampling import default_threads

# /proc/cpuinfo keys naming the CPU, most specific first: x86, then ARM boards, then others.
_CPUINFO_KEYS = ("model name", "hardware", "model", "cpu model", "cpu", "uarch")


def cpu_model_from_cpuinfo(text: str) -> str | None:
    """The CPU's name from the text of Linux's /proc/cpuinfo (None if it names none)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if sep and value and key in _CPUINFO_KEYS and key not in found:
            found[key] = value
    # On ARM "model" is often just a revision number; such a value names no CPU.
    for key in _CPUINFO_KEYS:
        value = found.get(key, "")
        if value and not value.isdigit():
            return value
    return None


def cpu_model() -> str | None:
    if sys.platform.startswith("linux"):
        try:
            name = cpu_model_from_cpuinfo(Path("/proc/cpuinfo").read_text(errors="replace"))
        except OSError:
            name = None
        if name:
            return name
    elif sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True, text=True, timeout=2, check=False,
            )  # fmt: skip
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or None


def total_memory_bytes() -> int | None:
    """Physical memory, or None where it cannot be read."""
    if sys.platform == "win32":
        return _windows_memory()
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return int(pages) * int(page_size) if pages > 0 and page_size > 0 else None


def _windows_memory() -> int | None:
    if sys.platform != "win32":  # also tells mypy that ctypes.windll exists below
        return None

    class MemoryStatus(ctypes.Structure):
        """Windows' MEMORYSTATUSEX, which GlobalMemoryStatusEx fills in."""

        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
            (name, ctypes.c_ulonglong)
            for name in ("total", "avail", "page_total", "page_avail", "virt_total",
                         "virt_avail", "ext_avail")
        ]  # fmt: skip

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    try:
        ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
    except (AttributeError, OSError):
        return None
    return int(status.total) if ok else None


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
