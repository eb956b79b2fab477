"""llama.cpp's own ``llama-batched-bench``, run the way Quorum's batched sampler runs.

The tool decodes ``pl`` sequences side by side from one shared prompt (``-pps``) with
random tokens and no sampling: the speed llama.cpp itself reaches for that shape, the
mark Quorum's BatchSampler is held to. It is built from the llama.cpp source vendored
in the llama-cpp-python sdist (``tests/llama_tools.py``), the source the Python binding
was compiled from, so both sides run the same kernels.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BenchShape:
    """The context both sides get: the same cells per sequence, batch and threads."""

    model: Path
    threads: int
    n_ctx: int
    n_batch: int
    n_ubatch: int
    kv_unified: bool
    repack: bool  # False where Quorum's CPU probe chose "no-repack"


@dataclass(frozen=True)
class BenchRow:
    """One row of llama-batched-bench's results (its jsonl output)."""

    pp: int  # prompt tokens
    tg: int  # tokens generated per sequence
    pl: int  # sequences decoded side by side
    t_pp: float  # seconds evaluating the shared prompt
    t_tg: float  # seconds generating
    n_batch: int
    n_ubatch: int

    @property
    def generated(self) -> int:
        return self.pl * self.tg

    @property
    def seconds(self) -> float:
        # Prompt and generation, as a consensus run spends them; the tool's own
        # "S t/s" also counts the prompt's tokens, which Quorum's figure does not.
        return self.t_pp + self.t_tg

    @property
    def tokens_per_second(self) -> float:
        return self.generated / self.seconds


def command(tool: Path, shape: BenchShape, pp: int, tg: int, pl: int) -> list[str]:
    return [
        str(tool),
        "-m", str(shape.model),
        "-t", str(shape.threads),
        "-c", str(shape.n_ctx),
        "-b", str(shape.n_batch),
        "-ub", str(shape.n_ubatch),
        "-kvu" if shape.kv_unified else "-no-kvu",
        "--repack" if shape.repack else "--no-repack",
        "-pps",
        "-npp", str(pp),
        "-ntg", str(tg),
        "-npl", str(pl),
        "--output-format", "jsonl",
    ]  # fmt: skip


def parse_rows(output: str) -> list[BenchRow]:
    """The result rows in the tool's output; its log lines around them are skipped."""
    rows = []
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
            row = BenchRow(
                pp=int(data["pp"]),
                tg=int(data["tg"]),
                pl=int(data["pl"]),
                t_pp=float(data["t_pp"]),
                t_tg=float(data["t_tg"]),
                n_batch=int(data["n_batch"]),
                n_ubatch=int(data["n_ubatch"]),
            )
        except (ValueError, KeyError, TypeError):
            continue
        rows.append(row)
    return rows


def run_bench(
    tool: Path, shape: BenchShape, pp: int, tg: int, pl: int, timeout: float = 1800
) -> BenchRow:
    """Run one (pp, tg, pl) point and return its row; a clear error if it gave none."""
    done = subprocess.run(
        command(tool, shape, pp, tg, pl),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    rows = parse_rows(done.stdout + "\n" + done.stderr)
    if done.returncode != 0 or not rows:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(
            f"llama-batched-bench gave no result (exit {done.returncode}): " + " | ".join(tail)
        )
    return rows[-1]
