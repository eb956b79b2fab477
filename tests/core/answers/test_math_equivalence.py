"""The math-verify helper process: answers, time limit, restart, failure to start, threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from app.core.answers.math_equivalence import MathVerifier, Verdict


@pytest.fixture
def verifier() -> Iterator[MathVerifier]:
    v = MathVerifier()
    yield v
    v.close()
    assert not v.is_running()


def test_equal_and_different_expressions(verifier: MathVerifier) -> None:
    assert verifier.compare(r"$\frac{\sqrt{2}}{2}$", r"$\frac{1}{\sqrt{2}}$", timeout_s=5) is (
        Verdict.EQUAL
    )
    assert verifier.compare("$(x+1)^2$", "$x^2+2x+1$", timeout_s=5) is Verdict.EQUAL
    assert verifier.compare("$(x+1)^2$", "$x^2+1$", timeout_s=5) is Verdict.DIFFERENT
    assert verifier.compare("$x=5$", "$5$", timeout_s=5) is Verdict.EQUAL
    # Unparseable input is "not shown equal", not an error.
    assert verifier.compare("$\\frac{$", "$5$", timeout_s=5) is Verdict.DIFFERENT
    assert verifier.is_running()


def test_runaway_comparison_is_killed_and_helper_restarts(verifier: MathVerifier) -> None:
    assert verifier.compare("$1$", "$1$", timeout_s=5) is Verdict.EQUAL  # start outside timing
    # 9^(9^9) has about 370 million digits: sympy works on this for minutes, holding the GIL.
    started = time.monotonic()
    verdict = verifier.compare("$9^{9^{9}}$", "$9^{9^{8}}$", timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert verdict is Verdict.TIMED_OUT
    assert elapsed < 4.0  # 1 s limit plus killing and joining the helper
    assert not verifier.is_running()
    assert verifier.compare(r"$\sqrt{25}$", "$5$", timeout_s=5) is Verdict.EQUAL
    assert verifier.is_running()


def test_helper_that_dies_is_replaced(verifier: MathVerifier) -> None:
    assert verifier.compare("$2$", "$2$", timeout_s=5) is Verdict.EQUAL
    process = verifier._process
    assert process is not None
    process.kill()  # our own child, as if the OS had killed it for memory
    process.join(5)
    assert verifier.compare(r"$\sqrt{4}$", "$2$", timeout_s=5) is Verdict.EQUAL


def test_helper_that_cannot_start_turns_maths_checks_off() -> None:
    v = MathVerifier(start_timeout_s=0.001)  # nothing starts that fast
    try:
        assert v.compare(r"$\sqrt{4}$", "$2$", timeout_s=1) is Verdict.UNAVAILABLE
        assert v.start_failure is not None and "not ready" in v.start_failure
        started = time.monotonic()
        assert v.compare(r"$\sqrt{4}$", "$2$", timeout_s=1) is Verdict.UNAVAILABLE
        assert time.monotonic() - started < 0.5  # no new start attempt per comparison
        assert not v.is_running()
    finally:
        v.close()


def test_works_from_a_worker_thread(verifier: MathVerifier) -> None:
    results: list[Verdict] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(verifier.compare(r"$2\pi$", r"$\pi+\pi$", timeout_s=5))
            results.append(verifier.compare(r"$2\pi$", r"$3\pi$", timeout_s=5))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    assert errors == []
    assert results == [Verdict.EQUAL, Verdict.DIFFERENT]


def test_busy_helper_gives_unavailable_after_the_time_limit(verifier: MathVerifier) -> None:
    assert verifier.compare("$1$", "$1$", timeout_s=5) is Verdict.EQUAL
    slow = threading.Thread(
        target=verifier.compare, args=("$9^{9^{9}}$", "$9^{9^{8}}$"), kwargs={"timeout_s": 1.5}
    )
    slow.start()
    time.sleep(0.2)  # let the slow comparison take the helper
    started = time.monotonic()
    assert verifier.compare("$2$", "$2$", timeout_s=0.3) is Verdict.UNAVAILABLE
    assert time.monotonic() - started < 1.0
    slow.join(10)
    assert not slow.is_alive()


def test_bad_timeout_is_rejected(verifier: MathVerifier) -> None:
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        verifier.compare("$1$", "$1$", timeout_s=0)
