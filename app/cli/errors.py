"""Exit codes and the one error type every subcommand reports through.

Kept apart from the parser in ``app.cli`` so that subcommands import this and the
parser imports them: no cycle between the package and its commands.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2  # empty question, bad option, question longer than the context
EXIT_MODEL = 3  # missing, not GGUF, truncated, refused by llama.cpp
EXIT_DOWNLOAD = 4
EXIT_SERVER = 5  # --server: unreachable, refused the key, or went away mid-run
EXIT_CANCELLED = 130  # Ctrl+C: stopped cleanly, what finished is kept


class CliError(Exception):
    """An error the CLI reports as one line and an exit code, never a traceback."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
