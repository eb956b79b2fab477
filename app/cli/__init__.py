"""Quorum's headless command line: the same jobs as the window, over app.core."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from app import __version__
from app.cli import audit, history, models, solve
from app.cli.errors import EXIT_CANCELLED, EXIT_USAGE, CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quorum",
        description="Ask a local reasoning model; see its reasoning and how sure it is.",
    )
    parser.add_argument("--version", action="version", version=f"quorum {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log llama.cpp and more")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    solve.add_parser(commands)
    models.add_parser(commands)
    history.add_parser(commands)
    audit.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # llama.cpp is chatty (every tensor, every context), and a cancelled decode logs
    # errors by design; Quorum's own one-line messages quote its reason when it fails.
    logging.getLogger("llama.cpp").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"quorum: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("quorum: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    return code
