"""What this machine is and what this process uses: CPU name and flags, memory.

Every probe is best effort: a fact that cannot be read is None (or empty), never a
guess, and no probe raises. Used by run reports, the status bar and the CPU probe.
"""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
from pathlib import Path

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
        """Windows' MEMORYSTATUSEX, as GlobalMemoryStatusEx fills it."""

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


def resident_memory_bytes() -> int | None:
    """This process's resident memory now (Linux, Windows) or at its peak (macOS)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    if sys.platform == "win32":
        return _windows_working_set()
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes vs KiB


def _windows_working_set() -> int | None:
    class Counters(ctypes.Structure):
        """Windows' PROCESS_MEMORY_COUNTERS, as GetProcessMemoryInfo fills it."""

        _fields_ = [("cb", ctypes.c_ulong), ("PageFaultCount", ctypes.c_ulong)] + [
            (name, ctypes.c_size_t)
            for name in ("PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage",
                         "QuotaPagedPoolUsage", "QuotaPeakNonPagedPoolUsage",
                         "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage")
        ]  # fmt: skip

    try:
        counters = Counters()
        counters.cb = ctypes.sizeof(counters)
        windll = ctypes.windll  # type: ignore[attr-defined]
        process = windll.kernel32.GetCurrentProcess()
        if windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb):
            return int(counters.WorkingSetSize)
    except (AttributeError, OSError):
        pass
    return None


def cpu_flags() -> set[str]:
    """The CPU's feature flags as the OS reports them (Linux); empty elsewhere."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        pass
    return set()
