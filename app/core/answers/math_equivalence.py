"""Maths equality through math-verify, run in a helper process that can be killed.

Why a process and not a thread: math-verify hands answers to sympy, and some answers make
sympy compute for minutes inside a single C call (``9^{9^{9}}`` against ``9^{9^{8}}`` builds
a 370-million-digit integer). Such a call holds the GIL, so every thread of the app, the Qt
main thread included, freezes with it, and a thread-based timeout cannot even wake up to
give up (measured: the main thread printed nothing for 20 s). A separate process can be
killed when it overruns. math-verify's own timeout uses ``signal.alarm``, which works only
on the main thread, so it is switched off here (``parsing_timeout=None``,
``timeout_seconds=None``) and this module enforces the limit instead.

Costs: the helper (a fresh interpreter that imports math-verify) starts on the first
comparison that needs it, about 0.3 s, outside the comparison's time limit; each comparison
is then a pipe round trip (~60 µs) plus sympy's own work. After a timeout the helper is
killed and the next comparison starts a new one. The "spawn" start method is used on every
OS because forking a process that runs Qt threads is unsafe. A frozen (PyInstaller) build
must call ``multiprocessing.freeze_support()`` first thing in its entry point.
"""

from __future__ import annotations

import enum
import functools
import logging
import multiprocessing
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

logger = logging.getLogger(__name__)

_READY = "ready"
_START_TIMEOUT_S = 30.0


class Verdict(enum.Enum):
    """What the math-verify helper said about two answers."""

    EQUAL = "equal"
    DIFFERENT = "different"
    TIMED_OUT = "timed out"  # the helper overran and was killed
    UNAVAILABLE = "unavailable"  # no helper (failed to start, or busy past the time limit)


class MathVerifier:
    """Owns one helper process; one comparison at a time, from any thread."""

    def __init__(self, *, start_timeout_s: float = _START_TIMEOUT_S) -> None:
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        # Set after a failed start: retrying would stall every comparison for the full start
        # timeout, so maths equality stays off for this session and the reason is logged once.
        self._start_failure: str | None = None

    @property
    def start_failure(self) -> str | None:
        return self._start_failure

    def compare(self, a_latex: str, b_latex: str, *, timeout_s: float) -> Verdict:
        """Ask math-verify whether two ``$...$`` answers are equal, waiting at most timeout_s."""
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        # Another thread's comparison may hold the helper; wait no longer than our own limit.
        if not self._lock.acquire(timeout=timeout_s):
            return Verdict.UNAVAILABLE
        try:
            conn = self._ensure_started()
            if conn is None:
                return Verdict.UNAVAILABLE
            try:
                conn.send((a_latex, b_latex))
                if conn.poll(timeout_s):
                    return Verdict.EQUAL if conn.recv() is True else Verdict.DIFFERENT
            except (EOFError, OSError) as exc:
                logger.warning("math-verify helper died (%s); a new one starts when needed", exc)
                self._stop()
                return Verdict.UNAVAILABLE
            logger.info(
                "math-verify took over %.1f s; helper killed, answers kept apart", timeout_s
            )
            self._stop()
            return Verdict.TIMED_OUT
        finally:
            self._lock.release()

    def is_running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def close(self) -> None:
        """Stop the helper (call when the app quits; a later comparison starts a new one)."""
        with self._lock:
            self._stop()

    def _ensure_started(self) -> Connection | None:
        if self._start_failure is not None:
            return None
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process = ctx.Process(
            target=_serve, args=(child_conn,), name="quorum-math-verify", daemon=True
        )
        try:
            process.start()
        except (OSError, RuntimeError) as exc:
            return self._fail_start(f"could not start the helper process: {exc}")
        finally:
            child_conn.close()  # the child holds its own copy; ours would hide its exit
        self._process, self._conn = process, parent_conn
        try:
            if not parent_conn.poll(self._start_timeout_s):
                return self._fail_start(f"helper not ready after {self._start_timeout_s:.0f} s")
            greeting = parent_conn.recv()
        except (EOFError, OSError) as exc:
            return self._fail_start(f"helper exited during start-up: {exc}")
        if greeting != _READY:
            return self._fail_start(str(greeting))
        return parent_conn

    def _fail_start(self, reason: str) -> Connection | None:
        """Record why the helper could not start; returns None for _ensure_started to pass on."""
        self._stop()
        self._start_failure = reason
        logger.warning("Maths equality checks are off for this session: %s", reason)
        return None

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()  # a runaway sympy call ignores polite requests
            process.join(timeout=5)
            if not process.is_alive():
                process.close()


def _serve(conn: Connection) -> None:
    """Helper process main loop: receive (a, b) pairs, reply True/False; None or EOF ends it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the parent
    # math-verify warns once that its timeout is off; here that is intended.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    try:
        import math_verify  # noqa: F401  (import errors are reported to the parent)
    except Exception as exc:
        conn.send(f"math-verify failed to import: {exc}")
        return
    # The first parse loads sympy's and latex2sympy's lazy parts (~0.5 s); do it before
    # "ready" so that cost falls outside the first real comparison's time limit.
    _verify_pair("$x+1$", "$1+x$")
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if job is None:
            return
        a_latex, b_latex = job
        conn.send(_verify_pair(a_latex, b_latex))


def _verify_pair(a_latex: str, b_latex: str) -> bool:
    try:
        from math_verify import verify

        a_parsed, b_parsed = _parse(a_latex), _parse(b_latex)
        if not a_parsed or not b_parsed:
            return False
        return bool(verify(a_parsed, b_parsed, timeout_seconds=None, raise_on_error=False))
    except Exception:  # sympy raises many kinds of errors; any of them means "not shown equal"
        logger.debug("math-verify failed on %r vs %r", a_latex, b_latex, exc_info=True)
        return False


@functools.lru_cache(maxsize=1024)
def _parse(latex: str) -> list[Any]:
    from math_verify import LatexExtractionConfig, parse

    return list(
        parse(
            latex,
            extraction_config=[LatexExtractionConfig()],
            parsing_timeout=None,
            raise_on_error=False,
        )
    )


_shared = MathVerifier()


def compare_math(a_latex: str, b_latex: str, *, timeout_s: float) -> Verdict:
    """Compare through the app-wide helper process."""
    return _shared.compare(a_latex, b_latex, timeout_s=timeout_s)


def close_math_helper() -> None:
    """Stop the app-wide helper process (call at app exit; harmless if it never started)."""
    _shared.close()
