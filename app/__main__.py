"""Entry point: no arguments opens the window; a subcommand runs the CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--self-test":
        from app.selftest import main as selftest

        return selftest(args[1:])
    if not args or args[0].startswith("--gui"):
        from app.ui.app import run_gui

        return run_gui(args)
    from app.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    # The maths checker runs in a spawned helper process; a frozen app must let
    # multiprocessing take over its own child processes here.
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
