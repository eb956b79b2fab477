"""``quorum solve --server URL``: the same question (or consensus) on a server engine.

Kept apart from ``app.cli.solve`` (which runs llama.cpp here); ``solve.run`` hands over
to ``run_on_server`` when ``--server`` is given. The API key is read from an
environment variable (``--api-key-env``), never from the command line, where other
users of the machine could read it in the process list; it is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Any

from app.cli.consensus_output import consensus_exit_code, follow_consensus, print_consensus_table
from app.cli.errors import EXIT_CANCELLED, EXIT_OK, EXIT_SERVER, EXIT_USAGE, CliError
from app.core.consensus.runner import (
    ConsensusError,
    ConsensusRequest,
)
from app.core.consensus.summary import consensus_json
from app.core.inference.engine import FinishReason, GenerationResult
from app.core.inference.sampling import SamplingParams
from app.core.remote.client import ServerError
from app.core.remote.config import ServerConfig, ServerConfigError, make_config, url_warning
from app.core.remote.engine import ServerEngine
from app.core.remote.runner import ServerConsensusRunner


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        metavar="URL",
        help="answer on an OpenAI-compatible server (llama-server, vLLM, SGLang) instead of "
        "here; --model then names the server's model id",
    )
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="with --server: the environment variable that holds the server's API key",
    )


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise CliError(f"the environment variable {args.api_key_env} is not set", EXIT_USAGE)
    try:
        return make_config(args.server, args.model, key)
    except ServerConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def open_server(config: ServerConfig) -> ServerEngine:
    warning = url_warning(config.base_url)
    if warning:
        print(f"quorum: warning: {warning}", file=sys.stderr)
    try:
        return ServerEngine(config)
    except ServerError as exc:
        raise CliError(str(exc), EXIT_SERVER) from exc


def run_on_server(args: argparse.Namespace, question: str) -> int:
    """``quorum solve --server``: one answer, or ``--samples N`` consensus, on the server."""
    from app.cli import solve  # the shared option checks and printers; solve imports us

    if args.api_key_env and not args.server:
        raise CliError("--api-key-env needs --server", EXIT_USAGE)
    solve.check_options(args)
    engine = open_server(config_from_args(args))
    with engine:
        for line in engine.capabilities.lines() if args.verbose else ():
            print(f"quorum: server: {line}", file=sys.stderr)
        thinking = not args.no_think
        try:
            sampling = replace(engine.default_sampling(thinking), **solve.sampling_overrides(args))
            sampling = sampling.validated()
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from exc
        messages = [{"role": "user", "content": question}]
        if args.samples > 1:
            return _consensus(engine, args, messages, sampling, thinking)
        # _CancelOnInterrupt only calls cancel(), which a ServerEngine has.
        with solve._CancelOnInterrupt(engine):  # type: ignore[arg-type]
            with_stats = args.json and not args.no_token_stats
            events = engine.generate(messages, sampling, thinking, token_stats=with_stats)
            result = solve.final_event(events) if args.json else solve.stream_to_terminal(events)
        if args.json:
            payload = {
                "engine": engine.identity(),
                "params": _params(engine, result.sampling, result.thinking),
                "samples": [solve.sample_json(0, result)],
            }
            print(json.dumps(payload, ensure_ascii=False, indent=2))
        return _exit_code(result)


def _params(
    engine: ServerEngine, sampling: SamplingParams, thinking: bool | None
) -> dict[str, Any]:
    return {**sampling.to_dict(), "thinking": thinking, "server": engine.identity()}


def _exit_code(result: GenerationResult) -> int:
    if result.finish_reason == FinishReason.CANCELLED:
        print("quorum: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    if result.finish_reason == FinishReason.ERROR:
        print(f"quorum: error: {result.error}", file=sys.stderr)
        return EXIT_SERVER
    return EXIT_OK


def _consensus(
    engine: ServerEngine,
    args: argparse.Namespace,
    messages: list[dict[str, str]],
    sampling: SamplingParams,
    thinking: bool,
) -> int:
    from app.cli import solve

    runner = ServerConsensusRunner(engine)
    request = ConsensusRequest(messages, sampling, args.samples, thinking, args.early_stop,
                               token_stats=args.json and not args.no_token_stats)  # fmt: skip
    try:
        with solve._CancelOnInterrupt(runner):
            report = follow_consensus(runner.run(request), request, runner.describe,
                                            args.json)  # fmt: skip
    except ConsensusError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    except ServerError as exc:
        raise CliError(str(exc), EXIT_SERVER) from exc
    if args.json:
        samples = [
            {**solve.sample_json(i, r), "group": report.groups.get(i)} for i, r in report.finished
        ]
        payload = {
            "engine": engine.identity(),
            "params": _params(engine, report.sampling, report.thinking),
            "samples": samples,
            "consensus": consensus_json(report),
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print_consensus_table(report)
        print(f"quorum: ran on {engine.display_name} via {runner.path.value}", file=sys.stderr)
    return consensus_exit_code(report, EXIT_SERVER)
