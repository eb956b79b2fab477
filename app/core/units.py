"""Sizes and durations in words, the same in the window and on the command line.

File and download sizes are decimal (``2.5 GB``, as disks and the hub count them);
memory is binary (``3.00 GiB``, as the OS reports it).
"""

from __future__ import annotations

_DECIMAL = (("GB", 1e9), ("MB", 1e6), ("KB", 1e3))


def size_text(n: float) -> str:
    """``2.5 GB``, ``98 MB``: one decimal only where it says something."""
    for unit, scale in _DECIMAL:
        if abs(n) >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if abs(value) >= 10 else f"{value:.1f} {unit}"
    return f"{n:.0f} B"


def size_pair(done: float, total: float) -> str:
    """``1.2 of 2.5 GB``: both numbers in the unit of the total."""
    unit, scale = next(((u, s) for u, s in _DECIMAL if total >= s), ("B", 1.0))
    digits = 0 if unit == "B" else 1
    return f"{done / scale:.{digits}f} of {total / scale:.{digits}f} {unit}"


def memory_text(count: int | None) -> str:
    """``3.00 GiB``, ``512 MiB``; ``—`` when the OS would not say."""
    if count is None:
        return "—"
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def seconds_text(seconds: float) -> str:
    """``0.8 s``, ``12 s``: tenths where a rounded figure would misstate a short wait."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def eta_text(seconds: float | None) -> str:
    """``42 s left``, ``about 3 min left``, ``about 2 h 02 min left``; empty if unknown."""
    if seconds is None:
        return ""
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s left"
    minutes = (seconds + 30) // 60
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"
