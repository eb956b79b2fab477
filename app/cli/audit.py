"""``quorum audit``: check a self-consistency claim on a question set, end to end.

Samples are saved as they finish in a samples file (next to the report, or named after
the set); running the same command again continues where it stopped, with the same seeds.
With ``--server URL`` the model is the server's (``--model`` names its id): each condition
runs on a server sampler, and the report names the server.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from app.cli import server
from app.cli.errors import (
    EXIT_CANCELLED,
    EXIT_MODEL,
    EXIT_OK,
    EXIT_SERVER,
    EXIT_USAGE,
    CliError,
)
from app.cli.solve import resolve_model_path, runtime_from_args
from app.core.audit.claim import Claim, ClaimError, parse_claim
from app.core.audit.html_report import audit_html
from app.core.audit.job import (
    SERVER_BUDGET_REFUSAL,
    AuditConfig,
    AuditDone,
    AuditError,
    AuditModel,
    AuditProgress,
    AuditRunner,
    ConditionDone,
    ModelStarted,
    ServerModel,
)
from app.core.audit.markdown import audit_markdown
from app.core.audit.questions import QuestionSet, QuestionSetError, load_question_set
from app.core.audit.report_data import audit_report
from app.core.audit.results import ModelInfo, summarise
from app.core.audit.store import SampleStore, SampleStoreError
from app.core.consensus.runner import MAX_SAMPLES, MIN_SAMPLES, ConsensusError
from app.core.inference.backend import LlamaError
from app.core.inference.engine import Engine, ModelLoadError
from app.core.inference.sampling import new_seed
from app.core.remote.client import ServerError
from app.core.remote.engine import ServerEngine
from app.core.units import eta_text

BAR_WIDTH = 28
MAX_MODELS = 2


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "audit",
        help="check a self-consistency claim on a question set",
        description="Ask every question of a set N times per temperature and report "
        "agreement, accuracy, calibration and a collapse check, with intervals. "
        "SET is a JSONL or CSV file (question, optional answer and id) or a bundled set: "
        "arithmetic, choice.",
    )
    p.add_argument("set", metavar="SET", help="question set file, or 'arithmetic' / 'choice'")
    p.add_argument(
        "--model",
        "-m",
        action="append",
        help="catalog id or .gguf path (twice: two models side by side)",
    )
    p.add_argument("--samples", "-n", type=int, default=16, help="samples per question (2-512)")
    p.add_argument(
        "--temperature",
        "-t",
        type=float,
        nargs="+",
        default=[0.6],
        help="one or more temperatures (default 0.6)",
    )
    p.add_argument(
        "--think-budget",
        type=think_budget_arg,
        nargs="+",
        default=[None],
        metavar="B",
        help="thinking budgets in tokens to sweep (0: no thinking; 'unlimited'); default unlimited",
    )
    p.add_argument(
        "--claim", help='the claim to check, e.g. "100%% self-consistency at 512 samples, 0 bits"'
    )
    p.add_argument("--json", action="store_true", help="print the report data as JSON")
    p.add_argument("--report", type=Path, help="write OUT.html, OUT.json and OUT.md")
    p.add_argument(
        "--samples-file",
        type=Path,
        help="where samples are saved (default: "
        "next to the report, or SET-NAME.audit-samples.jsonl here)",
    )
    p.add_argument("--seed", type=int, help="base seed (default: fresh, or the samples file's)")
    p.add_argument("--max-tokens", type=int, default=512, help="tokens per sample (default 512)")
    p.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--gpu-layers", type=int, default=0, help="layers to offload to a GPU")
    p.add_argument("--no-think", action="store_true", help="turn thinking off where supported")
    p.add_argument("--no-greedy", action="store_true", help="skip the temperature-0 baseline")
    server.add_arguments(p)
    p.set_defaults(func=run)


def think_budget_arg(text: str) -> int | None:
    if text.lower() in ("unlimited", "none", "inf"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of tokens: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a thinking budget is 0 or more tokens")
    return value


def check_options(args: argparse.Namespace) -> tuple[QuestionSet, Claim | None]:
    """Everything that can be refused before a model loads."""
    if not MIN_SAMPLES <= args.samples <= MAX_SAMPLES:
        raise CliError(f"--samples must be between {MIN_SAMPLES} and {MAX_SAMPLES}", EXIT_USAGE)
    if args.max_tokens < 1:
        raise CliError("--max-tokens must be at least 1", EXIT_USAGE)
    for t in args.temperature:
        if not 0 <= t <= 5 or t != t:
            raise CliError(f"--temperature must be between 0 and 5, got {t}", EXIT_USAGE)
    if len(set(args.temperature)) != len(args.temperature):
        raise CliError("--temperature lists a temperature twice", EXIT_USAGE)
    if len(set(args.think_budget)) != len(args.think_budget):
        raise CliError("--think-budget lists a budget twice", EXIT_USAGE)
    if args.model and len(args.model) > MAX_MODELS:
        raise CliError(f"at most {MAX_MODELS} models side by side", EXIT_USAGE)
    if args.seed is not None and not 0 <= args.seed < 2**31:
        raise CliError("--seed must be in [0, 2^31)", EXIT_USAGE)
    try:
        runtime_from_args(args).validated()
        questions = load_question_set(args.set)
        claim = parse_claim(args.claim) if args.claim is not None else None
    except (ValueError, QuestionSetError, ClaimError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return questions, claim


def samples_path(args: argparse.Namespace, questions: QuestionSet) -> Path:
    if args.samples_file is not None:
        return Path(args.samples_file)
    if args.report is not None:
        return Path(args.report).with_suffix(".samples.jsonl")
    return Path(f"{Path(questions.name).stem}.audit-samples.jsonl")


class _CancelOnInterrupt:
    """First Ctrl+C stops the audit after the sample in flight; a second interrupts."""

    def __init__(self, runner: AuditRunner) -> None:
        self.runner = runner
        self.previous: Any = None

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.runner.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __enter__(self) -> None:
        self.previous = signal.signal(signal.SIGINT, self._handle)

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)


class _Progress:
    """A bar with an ETA on a terminal; one line per finished question otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last: AuditProgress | None = None
        self._drawn = 0.0

    def sample(self, event: AuditProgress) -> None:
        self.last = event
        now = time.monotonic()
        if self.tty and (now - self._drawn > 0.2 or event.done == event.total):
            self._drawn = now
            filled = round(BAR_WIDTH * event.done / max(1, event.total))
            sys.stderr.write(
                f"\r[{'█' * filled}{'·' * (BAR_WIDTH - filled)}] {event.done}/{event.total} "
                f"samples, {eta_text(event.eta_seconds)}   "
            )
            sys.stderr.flush()

    def question(self, event: ConditionDone) -> None:
        if self.tty or event.reused or self.last is None:
            return
        p = self.last
        print(
            f"quorum: {p.done}/{p.total} samples ({event.question.id} done) "
            f"{eta_text(p.eta_seconds)}",
            file=sys.stderr,
        )

    def end(self) -> None:
        if self.tty and self.last is not None:
            sys.stderr.write("\n")


def open_engine_for(args: argparse.Namespace) -> Any:
    def open_engine(path: Path) -> Engine:
        print(f"quorum: loading {path.name}", file=sys.stderr)
        try:
            return Engine(path, runtime_from_args(args))
        except ModelLoadError as exc:
            raise CliError(str(exc), EXIT_MODEL) from exc

    return open_engine


def _server_config(args: argparse.Namespace) -> Any:
    """--server's ServerConfig: one model (its id from --model, else the server's first)."""
    if len(args.model or []) > 1:
        raise CliError("--server audits one model: give --model once", EXIT_USAGE)
    one = argparse.Namespace(
        server=args.server, api_key_env=args.api_key_env, model=(args.model or [None])[0]
    )
    return server.config_from_args(one)


def run(args: argparse.Namespace) -> int:
    questions, claim = check_options(args)
    if args.api_key_env and not args.server:
        raise CliError("--api-key-env needs --server", EXIT_USAGE)
    engine: ServerEngine | None = None
    models: tuple[AuditModel, ...]
    if args.server:
        if any(b is not None for b in args.think_budget):  # before any request is sent
            raise CliError(SERVER_BUDGET_REFUSAL, EXIT_USAGE)
        engine = server.open_server(_server_config(args))
        url = engine.config.public_url
        models = (ServerModel(url, engine.model_id or "", engine.identity()),)
        print(f"quorum: auditing {engine.display_name} via {engine.capabilities.path.value}",
              file=sys.stderr)  # fmt: skip
    else:
        models = tuple(resolve_model_path(ref) for ref in (args.model or [None]))
        if len(set(models)) != len(models):
            raise CliError("the two models are the same file", EXIT_USAGE)
    config = AuditConfig(
        questions=questions,
        models=models,
        samples=args.samples,
        temperatures=tuple(args.temperature),
        think_budgets=tuple(args.think_budget),
        max_tokens=args.max_tokens,
        thinking=not args.no_think,
        greedy=not args.no_greedy,
    )
    try:
        config.check_server()
    except AuditError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    store_path = samples_path(args, questions)
    try:
        store = SampleStore(
            store_path,
            seed=args.seed if args.seed is not None else new_seed(),
            set_sha256=questions.sha256,
        )
    except (SampleStoreError, OSError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    with store:
        if args.seed is not None and store.seed != args.seed:
            raise CliError(
                f"{store_path} was made with seed {store.seed}, not {args.seed}; "
                "drop --seed to continue it, or use another --samples-file",
                EXIT_USAGE,
            )
        return _audit(args, config, store, claim, engine)


def _audit(
    args: argparse.Namespace, config: AuditConfig, store: SampleStore, claim: Claim | None,
    engine: ServerEngine | None = None,
) -> int:  # fmt: skip
    opener = open_engine_for(args) if engine is None else (lambda _model: engine)
    runner = AuditRunner(config, store, opener)
    saved = runner.store_count()
    print(
        f"quorum: {config.total_samples} samples to audit; {saved} already saved in {store.path}",
        file=sys.stderr,
    )
    models: dict[str, ModelInfo] = {}
    progress = _Progress()
    done: AuditDone | None = None
    try:
        with _CancelOnInterrupt(runner):
            for event in runner.run():
                if isinstance(event, ModelStarted):
                    models[event.key] = ModelInfo(event.key, event.name, str(event.path))
                elif isinstance(event, AuditProgress):
                    progress.sample(event)
                elif isinstance(event, ConditionDone):
                    progress.question(event)
                elif isinstance(event, AuditDone):
                    done = event
    except (ConsensusError, AuditError) as exc:
        raise CliError(f"{exc}; the samples so far are saved in {store.path}", EXIT_USAGE) from exc
    except LlamaError as exc:
        raise CliError(f"{exc}; the samples so far are saved in {store.path}", EXIT_MODEL) from exc
    except ServerError as exc:
        raise CliError(f"{exc}; the samples so far are saved in {store.path}", EXIT_SERVER) from exc
    finally:
        progress.end()
    if runner.cancelled or done is None:
        print(
            f"quorum: cancelled; {store.count()} samples are saved in {store.path}: run the "
            "same command again to continue",
            file=sys.stderr,
        )
        return EXIT_CANCELLED
    results = summarise(config, store, list(models.values()), claim)
    data = audit_report(config, results, seconds=done.seconds, tokens=done.tokens)
    if args.report is not None:
        _write_report(Path(args.report), data)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(audit_markdown(data, details=False))
    return EXIT_OK


def _write_report(path: Path, data: dict[str, Any]) -> None:
    html_path = path if path.suffix.lower() in (".html", ".htm") else path.with_suffix(".html")
    try:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(audit_html(data), encoding="utf-8")
        html_path.with_suffix(".json").write_text(
            json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        html_path.with_suffix(".md").write_text(audit_markdown(data), encoding="utf-8")
    except OSError as exc:
        raise CliError(
            f"cannot write the report {html_path}: {exc.strerror or exc}", EXIT_USAGE
        ) from None
    print(f"quorum: wrote {html_path} and its .json and .md", file=sys.stderr)
