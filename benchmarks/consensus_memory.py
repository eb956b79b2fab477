"""Peak memory of a consensus run against issue 11's bound, one fresh process per point.

Resident memory does not depend on how busy the machine is, so unlike the speed table
(benchmarks/consensus.py) these figures can be taken anywhere. Each point runs in a
child process holding only the model and the batch (no single-answer context, no
earlier runs in its heap) and prints:
- peak RSS (VmHWM) against the bound: model file + planned KV + 300 MiB,
- llama.cpp's own buffers as its log states them (KV, output, compute),
- what the process held before the batch (interpreter, libraries, mapped model).

The plan is sized for ``--plan-tokens`` a sample (as the speed table's runs are) while
the samples stop after ``--tokens``: the KV cache is allocated and cleared whole when
the context is made, so the peak is reached in the first steps; a refill point (more
samples than slots) still runs every sample, so freed and refilled slots are measured.

    python benchmarks/consensus_memory.py [--points 64:64 256:256 512:256]
        [--plan-tokens 32] [--tokens 4] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MIB = 1024**2
RSS_MARGIN = 300 * MIB
LONG = "Write a long, detailed story about a lighthouse."
# (name in the table, what llama.cpp's log line says before "= N MiB")
BUFFERS = (
    ("KV", r"llama_kv_cache: size"),
    ("output", r"output buffer size"),
    ("compute", r"compute buffer size"),
)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def child(model_path: Path, samples: int, parallel: int, plan_tokens: int, tokens: int) -> None:
    """One batch run in this process; prints one JSON line of figures."""
    from app.core.consensus.batch import BatchFinished, BatchSampler, sample_seeds
    from app.core.consensus.memory_plan import plan_consensus
    from app.core.inference.backend import LoadedModel
    from app.core.inference.chat_template import render_chat
    from app.core.inference.cpu_probe import choose_config
    from app.core.inference.sampling import SamplingParams
    from app.core.models.gguf import read_gguf_info

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    llama_log = logging.getLogger("llama.cpp")
    llama_log.addHandler(Keep())
    llama_log.setLevel(logging.INFO)
    info = read_gguf_info(model_path)
    model = LoadedModel(
        model_path, use_extra_bufts=choose_config(model_path).config.use_extra_bufts
    )
    eos = info.metadata.get("tokenizer.ggml.eos_token_id")
    rendered = render_chat(
        info.chat_template, [{"role": "user", "content": LONG}],
        bos_token=model.piece(model.bos).decode("utf-8", "replace"),
        eos_token=model.piece(int(eos)).decode("utf-8", "replace") if eos is not None else "",
    )  # fmt: skip
    prompt = model.tokenize(rendered.text)
    before = _status_kib("VmRSS") * 1024
    plan = plan_consensus(
        info, samples=samples, prompt_tokens=len(prompt), max_tokens=plan_tokens,
        max_parallel=parallel, budget_bytes=64 * 1024**3,
    )  # fmt: skip
    sampling = SamplingParams(temperature=0.7, top_p=0.9, top_k=40, max_tokens=tokens, seed=1)
    finished = None
    for event in BatchSampler(model, 2).run(prompt, sampling, sample_seeds(1, samples), plan):
        if isinstance(event, BatchFinished):
            finished = event
    if finished is None or finished.error:
        raise RuntimeError(f"the batch failed: {finished.error if finished else 'no end'}")
    text = "\n".join(lines)
    buffers = {}
    for name, pattern in BUFFERS:
        found = re.search(pattern + r"\s*=\s*([\d.]+) MiB", text)
        buffers[name] = float(found.group(1)) if found else None
    print(json.dumps({
        "parallel": plan.parallel, "kv": plan.kv_bytes, "logits": plan.logits_bytes,
        "before": before, "peak": _status_kib("VmHWM") * 1024, "buffers": buffers,
        "done": sum(r is not None for r in finished.results),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path)
    parser.add_argument("--points", nargs="+", default=["64:64", "256:256", "512:256"],
                        help="SAMPLES:PARALLEL")  # fmt: skip
    parser.add_argument("--plan-tokens", type=int, default=32, help="max tokens the plan sizes")
    parser.add_argument("--tokens", type=int, default=4, help="tokens each sample decodes")
    parser.add_argument("--child", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from tests.fetch_test_model import fetch_test_model

        args.model = fetch_test_model()
    if args.child:
        child(args.model, *args.child)
        return
    size = args.model.stat().st_size
    print(f"model {args.model.name} ({size / MIB:.0f} MiB)  plan for {args.plan_tokens} "
          f"tokens a sample, {args.tokens} decoded  (one fresh process per point)")  # fmt: skip
    print(f"{'samples':>7} {'par':>4} {'KV':>9} {'output':>7} {'compute':>8} {'before':>7} "
          f"{'peak RSS':>9} {'bound':>9} {'headroom':>9}")  # fmt: skip
    for point in args.points:
        samples, parallel = (int(part) for part in point.split(":"))
        done = subprocess.run(
            [sys.executable, __file__, "--model", str(args.model), "--child", str(samples),
             str(parallel), str(args.plan_tokens), str(args.tokens)],
            cwd=REPO, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            print(f"{samples:>7} {parallel:>4}  failed: {done.stderr.strip()[-300:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        bound = size + row["kv"] + RSS_MARGIN
        mib = {name: row["buffers"][name] or 0.0 for name, _ in BUFFERS}
        cells = [
            f"{samples:>7}", f"{row['parallel']:>4}", f"{mib['KV']:>5.0f} MiB",
            f"{mib['output']:>3.0f} MiB", f"{mib['compute']:>4.0f} MiB",
            f"{row['before'] / MIB:>3.0f} MiB", f"{row['peak'] / MIB:>5.0f} MiB",
            f"{bound / MIB:>5.0f} MiB", f"{(bound - row['peak']) / MIB:>5.0f} MiB",
        ]  # fmt: skip
        print(" ".join(cells) + ("" if row["peak"] <= bound else "  OVER"))


if __name__ == "__main__":
    main()
