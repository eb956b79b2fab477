"""Take the README's screenshots: the real app under Xvfb, fresh home, the test model.

    python packaging/screenshots.py            # all eight, into resources/screenshots/

Starts Xvfb (no window manager: the size asked for is the size drawn), then, once per
theme, the app itself through its own entry point (``app.ui.app.run_gui``) in a child
process whose Quorum folders are a new temporary directory, so no saved window size,
settings or history from an earlier run can change what is shown. A timer inside the
child drives the window as a user would: open the model, ask one question, then a
consensus run of a few samples with few tokens, and grabs the window from the X
screen at 1400×900 and 900×600. Each PNG's size is read back and checked.

Needs Xvfb (``apt-get install -y xvfb``) and the test model (``python
tests/fetch_test_model.py`` puts it in .cache/models; or pass --model). A few minutes
on two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "resources" / "screenshots"
SIZES = {"wide": (1400, 900), "narrow": (900, 600)}
THEMES = ("light", "dark")
QUESTION = "What is 17 * 23? Answer with a number."
SAMPLES = 6  # a consensus run small enough to take seconds on the test model
MAX_TOKENS = 48
SEED = 7
THREADS = 2  # llama.cpp threads, as on the machines the project is measured on
DISPLAY = ":97"
WAIT_S = 240  # for one answer or one consensus run, on a busy machine


def default_model() -> Path:
    cache = Path(os.environ.get("QUORUM_TEST_MODEL_CACHE", REPO / ".cache" / "models"))
    return cache / "SmolLM2-135M-Instruct.Q4_1.gguf"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    with path.open("rb") as file:
        head = file.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


# -- the parent: Xvfb, one child per theme, the checks ----------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", type=Path, default=default_model())
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--theme", choices=THEMES, action="append", help="default: both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.model, args.out, (args.theme or ["light"])[0])
    if not args.model.is_file():
        print(f"screenshots: no model at {args.model}; run python tests/fetch_test_model.py "
              "or pass --model", file=sys.stderr)  # fmt: skip
        return 2
    if shutil.which("Xvfb") is None:
        print("screenshots: Xvfb is missing (apt-get install -y xvfb)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(1.0)
        if xvfb.poll() is not None:
            print(f"screenshots: Xvfb could not start on {DISPLAY}", file=sys.stderr)
            return 1
        for theme in args.theme or THEMES:
            if not run_child(args.model, args.out, theme):
                return 1
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    return check(args.out, args.theme or THEMES)


def run_child(model: Path, out: Path, theme: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="quorum-screenshots-") as home:
        env = {**os.environ, "DISPLAY": DISPLAY, "QT_QPA_PLATFORM": "xcb",
               "HF_HUB_OFFLINE": "1", "HF_HOME": f"{home}/hf"}  # fmt: skip
        for name in ("DATA", "CONFIG", "CACHE", "MODELS"):
            env[f"QUORUM_{name}_DIR"] = f"{home}/{name.lower()}"
        command = [sys.executable, str(Path(__file__).resolve()), "--child",
                   "--model", str(model), "--out", str(out), "--theme", theme]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, env=env, cwd=REPO, timeout=2 * WAIT_S + 120)
        print(f"{theme}: {time.monotonic() - started:.0f} s, exit {done.returncode}")
        return done.returncode == 0


def check(out: Path, themes: tuple[str, ...] | list[str]) -> int:
    wrong = []
    for theme in themes:
        for size_name, size in SIZES.items():
            for run in ("answer", "consensus"):
                path = out / f"window-{theme}-{size_name}-{run}.png"
                found = png_size(path) if path.exists() else None
                print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
                      f"{found[0]}×{found[1]}" if found else f"{path}: missing")  # fmt: skip
                if found != size:
                    wrong.append(path.name)
    if wrong:
        print(f"screenshots: wrong size or missing: {', '.join(wrong)}", file=sys.stderr)
        return 1
    return 0


# -- the child: the real app, driven by a timer ---------------------------------------------


def child(model: Path, out: Path, theme: str) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.ui.app import run_gui

    app = QApplication([sys.argv[0]])
    driver = Driver(app, model, out, theme)
    QTimer.singleShot(0, driver.start)
    code = run_gui([f"--gui-theme={theme}"])
    if driver.error:
        print(f"screenshots ({theme}): {driver.error}", file=sys.stderr)
        return 1
    return code


class Driver:
    """Steps through the shots one at a time; each waits for the window to be ready."""

    def __init__(self, app: object, model: Path, out: Path, theme: str) -> None:
        self.app, self.model, self.out, self.theme = app, model, out, theme
        self.error: str | None = None
        self.window: object = None
        self.steps: list[Callable[[], bool]] = []  # each True when done (else: try again)
        self.deadline = 0.0

    def start(self) -> None:
        from PySide6.QtWidgets import QApplication

        from app.ui.main_window import MainWindow

        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if not windows:
            self.fail("the main window did not open")
            return
        window = self.window = windows[0]
        window.resize(*SIZES["wide"])
        panel = window.settings_panel
        panel.threads_spin.setValue(THREADS)  # applies when the model loads
        window.open_model(self.model)
        self.steps = [
            lambda: window.session.model is not None,
            lambda: self.ask(QUESTION, consensus=False) or True,
            lambda: self.finished(),
            lambda: self.shoot("answer"),
            lambda: window.new_conversation() or True,  # a run of its own, not a follow-up
            lambda: self.ask(QUESTION, consensus=True) or True,
            lambda: self.finished(),
            lambda: self.show_majority() or True,
            lambda: self.shoot("consensus"),
        ]
        panel.spins["max_tokens"].setValue(MAX_TOKENS)
        panel.spins["temperature"].setValue(0.9)  # samples that may disagree
        self.deadline = time.monotonic() + WAIT_S
        self.next()

    def next(self) -> None:
        from PySide6.QtCore import QTimer

        while self.steps:
            try:
                done = self.steps[0]()
            except Exception as exc:  # a broken step must end the app, not hang it
                self.fail(f"{type(exc).__name__}: {exc}")
                return
            if not done:
                if time.monotonic() > self.deadline:
                    self.fail("timed out waiting for the window")
                    return
                QTimer.singleShot(100, self.next)
                return
            self.steps.pop(0)
            self.deadline = time.monotonic() + WAIT_S
        self.window.close()  # type: ignore[attr-defined]

    def fail(self, message: str) -> None:
        self.error = message
        self.steps = []
        if self.window is not None:
            self.window.close()  # type: ignore[attr-defined]

    def ask(self, question: str, *, consensus: bool) -> None:
        window: object = self.window
        window.resize(*SIZES["wide"])  # type: ignore[attr-defined]
        options = window.consensus_options  # type: ignore[attr-defined]
        options.set_enabled(consensus)
        if consensus:
            options.samples_spin.setValue(SAMPLES)
        # The same pictures on every rerun (set here: loading the model shows its defaults).
        window.settings_panel.seed_edit.setText(str(SEED))  # type: ignore[attr-defined]
        window.question.setPlainText(question)  # type: ignore[attr-defined]
        window.ask()  # type: ignore[attr-defined]
        self.asked_at = time.monotonic()

    def finished(self) -> bool:
        window: object = self.window
        session = window.session  # type: ignore[attr-defined]
        consensus = window.consensus_session  # type: ignore[attr-defined]
        busy = session.busy or consensus.pending or consensus.running
        return not busy and time.monotonic() - self.asked_at > 0.5

    def show_majority(self) -> None:
        view = self.window.consensus_view  # type: ignore[attr-defined]
        stats = view.stats
        if stats is not None and stats.groups:
            label, _count, members = stats.groups[0]
            view.select_group(label)
            view.select_sample(min(members))

    def shoot(self, run: str) -> bool:
        """Grab the window at each size from the X screen (what Xvfb drew)."""
        from PySide6.QtWidgets import QApplication

        window: object = self.window
        for size_name, size in SIZES.items():
            window.resize(*size)  # type: ignore[attr-defined]
            settle_until = time.monotonic() + 1.0
            while time.monotonic() < settle_until:
                QApplication.processEvents()
                time.sleep(0.02)
            screen = QApplication.primaryScreen()
            image = screen.grabWindow(window.winId())  # type: ignore[attr-defined]
            path = self.out / f"window-{self.theme}-{size_name}-{run}.png"
            if not image.save(str(path)):
                raise OSError(f"could not write {path}")
        return True


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # the app of this checkout, not an installed one
    raise SystemExit(main(sys.argv[1:]))
