"""``quorum solve``: ask one question, stream the reasoning and the answer."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli import server
from app.cli.consensus_output import consensus_exit_code, follow_consensus, print_consensus_table
from app.cli.errors import EXIT_CANCELLED, EXIT_MODEL, EXIT_OK, EXIT_USAGE, CliError
from app.cli.recording import CliRecorder
from app.core.consensus.runner import (
    MAX_SAMPLES,
    MIN_SAMPLES,
    ConsensusError,
    ConsensusRequest,
    ConsensusRunner,
)
from app.core.consensus.stopping import EARLY_STOP_MODES
from app.core.consensus.summary import consensus_json
from app.core.inference.backend import LlamaError
from app.core.inference.engine import (
    Engine,
    Finished,
    FinishReason,
    GenerationResult,
    ModelLoadError,
    TextChunk,
)
from app.core.inference.reasoning import Channel
from app.core.inference.sampling import RuntimeParams, SamplingParams

DIM, RESET = "\x1b[2m", "\x1b[0m"


def add_parser(commands: Any) -> None:
    p = commands.add_parser("solve", help="ask a question and stream the reasoning and answer")
    p.add_argument("question", help="the question (use '-' to read it from standard input)")
    p.add_argument("--model", "-m", help="catalog id or path to a .gguf file")
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one, recorded)")
    p.add_argument("--temperature", "-t", type=float)
    p.add_argument("--top-p", type=float)
    p.add_argument("--top-k", type=int)
    p.add_argument("--min-p", type=float)
    p.add_argument("--repeat-penalty", type=float)
    p.add_argument("--presence-penalty", type=float)
    p.add_argument("--max-tokens", type=int, default=2048)
    p.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--gpu-layers", type=int, default=0, help="layers to offload to a GPU")
    p.add_argument("--no-think", action="store_true", help="turn thinking off where supported")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.add_argument(
        "--no-history", action="store_true", help="do not record this run in the history"
    )
    p.add_argument(
        "--no-token-stats",
        action="store_true",
        help="with --json: leave out each token's confidence (token_stats)",
    )
    p.add_argument(
        "--think-budget",
        type=int,
        metavar="B",
        help="close the reasoning after B tokens (0: no thinking; default: no cap)",
    )
    p.add_argument(
        "--samples",
        "-n",
        type=int,
        default=1,
        help="consensus: ask N times (2 to 512) and measure agreement",
    )
    p.add_argument(
        "--early-stop",
        nargs="?",
        const="beta",
        default="off",
        choices=list(EARLY_STOP_MODES),
        help="consensus: stop once the leader cannot lose, is settled, or wins the Beta "
        "rule (default when given: beta, which needs the fewest samples)",
    )
    server.add_arguments(p)
    p.set_defaults(func=run)


def read_question(raw: str) -> str:
    """The question, checked now: llama.cpp would only choke on bad text after the load."""
    if raw == "-":
        try:
            question = sys.stdin.read()
        except UnicodeDecodeError as exc:
            raise CliError(
                f"the question on standard input is not valid {exc.encoding.upper()} text "
                f"(it contains the byte 0x{exc.object[exc.start]:02x})",
                EXIT_USAGE,
            ) from None
    else:
        question = raw
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as exc:
        # An argument that is not valid UTF-8 arrives with each bad byte as a lone
        # surrogate U+DC80..U+DCFF (PEP 383), which no tokenizer can encode.
        code = ord(question[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise CliError(
            f"the question is not valid UTF-8 text ({what} at character {exc.start})",
            EXIT_USAGE,
        ) from None
    if not question.strip():
        raise CliError("the question is empty", EXIT_USAGE)
    return question.strip()


def check_options(args: argparse.Namespace) -> None:
    """Refuse bad numbers before the model loads (a 2.5 GB load takes a while)."""
    if args.think_budget is not None and args.think_budget < 0:
        raise CliError("--think-budget must be 0 or more tokens", EXIT_USAGE)
    if args.max_tokens is not None and args.max_tokens < 1:
        raise CliError("--max-tokens must be at least 1", EXIT_USAGE)
    if args.samples != 1 and not MIN_SAMPLES <= args.samples <= MAX_SAMPLES:
        raise CliError(f"--samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}", EXIT_USAGE)
    try:
        # The model's own defaults are unknown yet; each value is checked on its own.
        replace(SamplingParams(), **sampling_overrides(args)).validated()
        runtime_from_args(args).validated()
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def resolve_model_path(ref: str | None) -> Path:
    from app.core.models import library

    if ref and Path(ref).expanduser().suffix.lower() == ".gguf":
        path = Path(ref).expanduser()
        if not path.exists():
            raise CliError(f"no such model file: {path}", EXIT_MODEL)
        return path
    try:
        entry = library.resolve_model(ref) if ref else library.default_model()
    except (LookupError, ValueError) as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc
    if entry is None or entry.path is None:
        raise CliError(
            "no model on disk yet: run `quorum models download qwen3-4b`, "
            "or `quorum models demo` for the small demo model",
            EXIT_MODEL,
        )
    return Path(entry.path)


def sampling_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {
        "seed": args.seed,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "top_k": args.top_k,
        "min_p": args.min_p,
        "repeat_penalty": args.repeat_penalty,
        "presence_penalty": args.presence_penalty,
        "max_tokens": args.max_tokens,
    }
    return {k: v for k, v in overrides.items() if v is not None}


def sampling_from_args(engine: Engine, args: argparse.Namespace, thinking: bool) -> SamplingParams:
    base = engine.default_sampling(thinking)
    try:
        return replace(base, **sampling_overrides(args)).validated()
    except ValueError as exc:  # the model file's own defaults can be out of range too
        raise CliError(str(exc), EXIT_USAGE) from exc


def runtime_from_args(args: argparse.Namespace) -> RuntimeParams:
    runtime = RuntimeParams(n_ctx=args.ctx, n_gpu_layers=args.gpu_layers)
    if args.threads is not None:
        runtime = replace(runtime, n_threads=args.threads)
    return runtime


def open_engine(args: argparse.Namespace) -> Engine:
    path = resolve_model_path(args.model)
    try:
        return Engine(path, runtime_from_args(args))
    except ModelLoadError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc


class _CancelOnInterrupt:
    """First Ctrl+C asks the engine to stop cleanly; a second one interrupts Python."""

    def __init__(self, engine: Engine | ConsensusRunner) -> None:
        self.engine = engine
        self.previous: Any = None

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.engine.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> None:
        self.previous = signal.signal(signal.SIGINT, self._handle)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)


def model_json(engine: Engine) -> dict[str, Any]:
    info = engine.info
    return {
        "path": str(engine.path),
        "name": info.name,
        "architecture": info.architecture,
        "file_size": info.file_size,
        "quantization": info.file_type,
        "context_length": info.context_length,
    }


def sample_json(
    index: int, result: GenerationResult, *, with_token_stats: bool = True
) -> dict[str, Any]:
    extracted = result.extracted
    stats = result.token_stats
    extra = {"token_stats": stats.to_json()} if stats is not None and with_token_stats else {}
    return {
        "index": index,
        "seed": result.seed,
        "trace": result.trace,
        "answer": result.answer,
        "extracted": extracted.text if extracted else None,
        "extracted_rule": extracted.rule if extracted else None,
        "tokens": result.completion_tokens,
        "prompt_tokens": result.prompt_tokens,
        "seconds": round(result.seconds, 4),
        "time_to_first_token": result.time_to_first_token,
        "finish_reason": result.finish_reason,
        "error": result.error,
        "trace_cut_at": result.trace_cut_at,
        **extra,
    }


def params_json(engine: Engine, sampling: SamplingParams, thinking: bool | None) -> dict[str, Any]:
    return {
        **sampling.to_dict(),
        "thinking": thinking,
        "n_ctx": engine.n_ctx,
        "threads": engine.runtime.n_threads,
        "gpu_layers": engine.runtime.n_gpu_layers,
        "llama_config": engine.llama_config.to_record(),
    }


def stream_to_terminal(events: Iterator[Any]) -> GenerationResult:
    dim = sys.stderr.isatty()
    last: Channel | None = None
    for event in events:
        if isinstance(event, TextChunk):
            if event.channel is Channel.TRACE:
                sys.stderr.write(f"{DIM}{event.text}{RESET}" if dim else event.text)
                sys.stderr.flush()
            else:
                if last is Channel.TRACE:
                    sys.stderr.write("\n")
                sys.stdout.write(event.text)
                sys.stdout.flush()
            last = event.channel
        elif isinstance(event, Finished):
            sys.stdout.write("\n")
            return event.result
    raise RuntimeError("generation ended without a result")


def final_event(events: Iterator[Any]) -> GenerationResult:
    for event in events:
        if isinstance(event, Finished):
            return event.result
    raise RuntimeError("generation ended without a result")


def exit_code_for(result: GenerationResult) -> int:
    if result.finish_reason == FinishReason.CANCELLED:
        print("quorum: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    if result.finish_reason == FinishReason.PROMPT_TOO_LONG:
        print(f"quorum: error: {result.error}", file=sys.stderr)
        return EXIT_USAGE
    if result.finish_reason == FinishReason.ERROR:
        print(f"quorum: error: {result.error}", file=sys.stderr)
        return EXIT_MODEL
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    question = read_question(args.question)
    if args.server or args.api_key_env:
        return server.run_on_server(args, question)
    check_options(args)
    engine = open_engine(args)
    with engine:
        thinking = not args.no_think
        sampling = sampling_from_args(engine, args, thinking)
        recorder = CliRecorder(engine, enabled=not args.no_history)
        messages = [{"role": "user", "content": question}]
        with_stats = args.json and not args.no_token_stats
        if args.samples > 1:
            sampling = sampling.with_seed()  # recorded when the run begins: seeds derive from it
            request = ConsensusRequest(messages, sampling, args.samples, thinking,
                                       args.early_stop, think_budget=args.think_budget,
                                       token_stats=with_stats)  # fmt: skip
            recorder.pending(question, sampling, thinking, samples=args.samples,
                             early_stop=args.early_stop,
                             think_budget=args.think_budget)  # fmt: skip
            return run_consensus(engine, request, recorder, as_json=args.json)
        recorder.begin(question, sampling, thinking)
        with _CancelOnInterrupt(engine):
            generation = engine.generate(messages, sampling, thinking, args.think_budget,
                                         token_stats=with_stats)  # fmt: skip
            events = recorder.watching(generation)
            result = final_event(events) if args.json else stream_to_terminal(events)
        recorder.finish_single(result)
        if args.json:
            payload = {
                "model": model_json(engine),
                "params": params_json(engine, result.sampling, result.thinking),
                "samples": [sample_json(0, result)],
            }
            print(json.dumps(payload, ensure_ascii=False, indent=2))
        return exit_code_for(result)


def run_consensus(
    engine: Engine, request: ConsensusRequest, recorder: CliRecorder, *, as_json: bool
) -> int:
    """Run (or resume) a consensus request, recording it as it goes, and print it."""
    runner = ConsensusRunner(engine)
    try:
        with _CancelOnInterrupt(runner):
            events = recorder.watching(runner.run(request))
            report = follow_consensus(events, request, lambda plan: plan.describe(), as_json)
    except ConsensusError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except LlamaError as exc:  # e.g. no memory for the samples' KV cache
        raise CliError(str(exc), EXIT_MODEL) from exc
    recorder.finish_consensus(report, request.early_stop)
    if as_json:
        samples_out = [
            {**sample_json(i, r), "group": report.groups.get(i)} for i, r in report.finished
        ]
        payload = {
            "model": model_json(engine),
            "params": params_json(engine, report.sampling, report.thinking),
            "samples": samples_out,
            "consensus": consensus_json(report),
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print_consensus_table(report)
    return consensus_exit_code(report, EXIT_MODEL)
