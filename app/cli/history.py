"""``quorum history``: the runs the window and ``quorum solve`` recorded.

quorum history list [--search TEXT] [--limit N] [--json]
quorum history show ID [--json]
quorum history export ID [--format md|json] [-o FILE]
quorum history resume ID [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from app.cli.errors import EXIT_MODEL, EXIT_OK, EXIT_USAGE, CliError
from app.cli.recording import CliRecorder
from app.core.consensus.resume import resume_point
from app.core.consensus.runner import ConsensusRequest
from app.core.consensus.stopping import EarlyStopChoice
from app.core.conversation import Conversation, ConversationError
from app.core.history.database import HistoryError, RunNotFoundError
from app.core.history.describe import describe_run
from app.core.history.export import export_filename, export_json, export_markdown
from app.core.history.records import RunRecord
from app.core.history.store import HistoryStore
from app.core.inference.engine import Engine, ModelLoadError
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import RuntimeParams


def add_parser(commands: Any) -> None:
    p = commands.add_parser("history", help="list, show, export or resume recorded runs")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="recorded runs, newest first")
    listing.add_argument("--search", "-s", default="", help="words the question or answers hold")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=list_runs)
    show = actions.add_parser("show", help="one run: question, reasoning, answers, settings")
    show.add_argument("run_id", type=int)
    show.add_argument("--json", action="store_true", help="every field, as export --format json")
    show.set_defaults(func=show_run)
    export = actions.add_parser("export", help="write one run to a Markdown or JSON file")
    export.add_argument("run_id", type=int)
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument("--output", "-o", help="file to write (default: a name from the run)")
    export.set_defaults(func=export_run)
    resume = actions.add_parser(
        "resume", help="finish an interrupted consensus run: same seeds, missing samples only"
    )
    resume.add_argument("run_id", type=int)
    resume.add_argument("--json", action="store_true", help="print one JSON object at the end")
    resume.set_defaults(func=resume_run)


@contextmanager
def _history() -> Iterator[HistoryStore]:
    try:
        with HistoryStore() as store:
            yield store
    except RunNotFoundError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except HistoryError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc


def list_runs(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1", EXIT_USAGE)
    with _history() as store:
        runs = store.list_runs(args.search, limit=args.limit)
    if args.json:
        print(json.dumps([asdict(r) for r in runs], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not runs:
        print("no runs match" if args.search else "no runs recorded yet", file=sys.stderr)
        return EXIT_OK
    for run in runs:
        when = datetime.fromtimestamp(run.created_at).strftime("%Y-%m-%d %H:%M")
        kind = f"{run.n_samples} samples" if run.n_samples > 1 else "1 sample"
        answer = f" → {run.answer}" if run.answer else ""
        print(f"{run.id:>5}  {when}  {run.status:<11} {kind:<12} {run.question}{answer}")
    return EXIT_OK


def show_run(args: argparse.Namespace) -> int:
    with _history() as store:
        run = store.get_run(args.run_id)
    if args.json:
        print(export_json(run))
    else:
        print(describe_run(run))
        print(export_markdown(run))
    return EXIT_OK


def export_run(args: argparse.Namespace) -> int:
    with _history() as store:
        run = store.get_run(args.run_id)
    suffix = ".md" if args.format == "md" else ".json"
    text = export_markdown(run) if args.format == "md" else export_json(run)
    target = (
        Path(args.output)
        if args.output
        else Path(export_filename(run.question, args.run_id, suffix))
    )
    try:
        target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}", EXIT_USAGE) from exc
    print(f"quorum: wrote {target}", file=sys.stderr)
    return EXIT_OK


def resume_run(args: argparse.Namespace) -> int:
    from app.cli.solve import run_consensus  # the same loop, table and JSON as solve

    with _history() as store:
        record = store.get_run(args.run_id)
        try:
            point = resume_point(record)
        except ValueError as exc:
            raise CliError(f"run {args.run_id} cannot be resumed: {exc}", EXIT_USAGE) from exc
        engine = _open_model_of(record)
        with engine:
            conversation = Conversation(store)
            conversation.model = ModelDescription.of(engine)
            conversation.model_sha256 = record.model_sha256
            try:
                conversation.prepare_resume(args.run_id)
            except ConversationError as exc:
                raise CliError(str(exc), EXIT_USAGE) from exc
            request = ConsensusRequest(
                conversation.messages_for(record.question), point.sampling, point.samples,
                point.thinking, cast(EarlyStopChoice, point.early_stop), kept=point.kept,
                think_budget=point.think_budget,
            )  # fmt: skip
            missing = len(point.missing)
            print(f"quorum: resuming run {args.run_id}: {len(point.kept)} of {point.samples} "
                  f"samples saved, running the other {missing}", file=sys.stderr)  # fmt: skip
            recorder = CliRecorder(engine, conversation=conversation)
            recorder.resume(replace(record))
            return run_consensus(engine, request, recorder, as_json=args.json)


def _open_model_of(record: RunRecord) -> Engine:
    path = Path(record.model_path)
    if not path.exists():
        raise CliError(
            f"the run's model {record.model_name} is no longer at {path}; "
            "put it back (or download it again) to resume the run",
            EXIT_MODEL,
        )
    params = record.params
    runtime = RuntimeParams(n_ctx=int(params.get("n_ctx") or 4096),
                            n_gpu_layers=int(params.get("gpu_layers") or 0))  # fmt: skip
    if params.get("threads"):
        runtime = replace(runtime, n_threads=int(params["threads"]))
    try:
        return Engine(path, runtime)
    except ModelLoadError as exc:
        raise CliError(str(exc), EXIT_MODEL) from exc
