"""``quorum --self-test``: prove an installed or frozen Quorum really works.

It runs the pieces a packaging mistake would break, each for real: the bundled
resources (model catalog, icon), the llama.cpp libraries (load a GGUF model and
generate a few tokens with a fixed seed), the maths checker's helper process (a
frozen app must re-enter itself for it), and, when the GUI is part of this build,
Qt's platform plugin, QtSvg and QtCharts (create the main window offscreen).

Prints one ``key: value`` line per check and exits 0; on the first failure prints a
one-line reason to stderr and exits 1 (2 for a usage error).

    quorum --self-test [--model PATH] [--question TEXT] [--max-tokens N] [--no-gui]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from app import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEFAULT_QUESTION = "What is 2 + 3? Reply with just the number."
SEED = 1234  # fixed, so two runs of the same build print the same answer
TINY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><circle r="4"/></svg>'


class SelfTestError(RuntimeError):
    """A check failed; the message says which and why, in one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quorum --self-test",
        description="Check that this Quorum installation can load a model and answer.",
    )
    parser.add_argument("--model", type=Path, help="GGUF file (default: the cached demo model)")
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--no-gui", action="store_true", help="skip the main-window check")
    return parser


def report(key: str, value: str) -> None:
    print(f"{key}: {value}", flush=True)


def check_install() -> None:
    from app.core import paths

    frozen = getattr(sys, "frozen", False)
    report("version", __version__)
    report("frozen", f"yes ({getattr(sys, '_MEIPASS', '?')})" if frozen else "no")
    # The same platformdirs locations a pip install uses; shown so a user can compare.
    report("data dir", str(paths.data_dir()))
    report("config dir", str(paths.config_dir()))
    report("models dir", str(paths.models_dir()))


def check_resources() -> None:
    from app.core.models import catalog

    folder = catalog.resources_dir()
    try:
        entries = catalog.load_catalog()
    except catalog.CatalogError as exc:
        raise SelfTestError(str(exc)) from exc
    # The installers ship the icons; a pip install may carry the catalog alone.
    if getattr(sys, "frozen", False) and not (folder / "icons" / "quorum.svg").is_file():
        raise SelfTestError(f"the icon is missing from {folder / 'icons'}")
    report("resources", f"{folder} (catalog: {len(entries)} models)")


def find_model(requested: Path | None) -> Path:
    if requested is not None:
        if not requested.is_file():
            raise SelfTestError(f"model file not found: {requested}")
        return requested
    from app.core.models import demo_model, library

    cached = demo_model.cached_path(library.demo_dir())
    if cached is None:
        raise SelfTestError(
            "no model to test with: pass --model FILE.gguf, or fetch the demo model "
            "first with `quorum models demo`"
        )
    return cached


def check_engine(model_path: Path, question: str, max_tokens: int) -> None:
    from app.core.inference.backend import library_version
    from app.core.inference.engine import Engine, Finished, ModelLoadError
    from app.core.inference.sampling import RuntimeParams

    started = time.perf_counter()
    try:
        # A small context: the check needs a few hundred tokens, and loads faster.
        engine = Engine(model_path, RuntimeParams(n_ctx=512))
    except ModelLoadError as exc:
        raise SelfTestError(f"llama.cpp could not load {model_path.name}: {exc}") from exc
    size_mb = model_path.stat().st_size / 1e6
    report("llama-cpp-python", library_version())
    arch = engine.info.architecture
    report("model", f"{model_path} ({size_mb:.1f} MB, {arch})")
    report("load", f"{time.perf_counter() - started:.2f} s")
    verdict = engine.llama_config
    how = f"probed in {verdict.seconds:.2f} s" if verdict.source == "probe" else verdict.source
    report("llama.cpp config", f"{verdict.summary()} ({how})")
    sampling = replace(engine.default_sampling(), seed=SEED, max_tokens=max_tokens)
    result = None
    for event in engine.generate([{"role": "user", "content": question}], sampling):
        if isinstance(event, Finished):
            result = event.result
    if result is None or result.error:
        raise SelfTestError(f"generation failed: {result.error if result else 'no result'}")
    if result.completion_tokens == 0:
        raise SelfTestError("the model produced no tokens")
    report(
        "generation",
        f"{result.completion_tokens} tokens at {result.tokens_per_second:.1f} tokens/s "
        f"(seed {SEED}, finish: {result.finish_reason})",
    )
    text = " ".join((result.answer or result.trace).split())
    report("answer", text[:200] or "(empty)")


def check_maths_helper() -> None:
    # math-verify runs in a spawned process; in a frozen app that only works when the
    # entry point calls multiprocessing.freeze_support(), so prove it here.
    from app.core.answers.math_equivalence import Verdict, close_math_helper, compare_math

    started = time.perf_counter()
    try:
        verdict = compare_math(r"\frac{1}{2}", r"\frac{2}{4}", timeout_s=30.0)
    finally:
        close_math_helper()
    if verdict is not Verdict.EQUAL:
        raise SelfTestError(f"maths checker said {verdict.value!r} for 1/2 vs 2/4")
    report("maths checker", f"1/2 == 2/4 ({time.perf_counter() - started:.2f} s)")


def check_gui() -> None:
    if importlib.util.find_spec("PySide6") is None:
        report("gui", "skipped (PySide6 is not installed)")
        return
    if importlib.util.find_spec("app.ui.main_window") is None:
        report("gui", "skipped (this build has no main window)")
        return
    # A self-test must not need a display; a user may still choose a platform.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    from PySide6 import QtCharts, QtSvg  # the modules the consensus chart and icon need
    from PySide6.QtCore import QByteArray, qVersion
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    qt_app = existing if isinstance(existing, QApplication) else QApplication(["quorum"])
    renderer = QtSvg.QSvgRenderer(QByteArray(TINY_SVG))
    if not renderer.isValid():
        raise SelfTestError("QtSvg could not parse an SVG image")
    QtCharts.QChart()  # fails here if the QtCharts library was trimmed from the bundle
    with tempfile.TemporaryDirectory(prefix="quorum-selftest-") as tmp:
        # The window opens the history and settings; keep the user's own untouched.
        saved = {k: os.environ.get(k) for k in ("QUORUM_DATA_DIR", "QUORUM_CONFIG_DIR")}
        os.environ["QUORUM_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["QUORUM_CONFIG_DIR"] = str(Path(tmp) / "config")
        try:
            from app.ui.main_window import MainWindow

            window = MainWindow()
            window.show()
            qt_app.processEvents()
            title = window.windowTitle()
            window.close()
            qt_app.processEvents()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    seconds = time.perf_counter() - started
    where = f"{qt_app.platformName()} in {seconds:.2f} s"
    report("gui", f"main window {title!r} created on {where} (Qt {qVersion()})")


def run_checks(options: argparse.Namespace) -> None:
    model_path = find_model(options.model)
    steps: list[Callable[[], None]] = [
        check_install,
        check_resources,
        lambda: check_engine(model_path, options.question, options.max_tokens),
        check_maths_helper,
    ]
    if not options.no_gui:
        steps.append(check_gui)
    for step in steps:
        step()


def main(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(argv)  # exits 2 with a usage line on bad input
    if options.max_tokens < 1:
        print("quorum: error: --max-tokens must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    print(f"quorum {__version__} self-test", flush=True)
    try:
        run_checks(options)
    except SelfTestError as exc:
        print(f"quorum: self-test failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a packaging fault shows up as any exception: name it
        print(f"quorum: self-test failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    report("self-test", f"passed in {time.perf_counter() - started:.2f} s")
    return EXIT_OK
