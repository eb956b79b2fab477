"""Text cut off mid-answer (cancelled, max tokens, full context) gives no invented answer."""

from __future__ import annotations

import pytest

from app.core.answers.extract import extract_answer


@pytest.mark.parametrize(
    "text",
    [
        "So 8 + 9 = 1",  # cut in the middle of "17"
        "Final answer: 1",
        "Final answer: **1",
        "The answer is $\\frac{1",
        "\\boxed{1",
        "Step 1: add.\nSo x = 4",  # the last number's line is unfinished
        "Final answer:\n1",
    ],
)
def test_unfinished_answer_line_gives_nothing(text: str) -> None:
    assert extract_answer(text, complete=False) is None
    assert extract_answer(text) is not None  # the same text, finished, has an answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final answer: 17\n", "17"),
        ("Final answer: 17\nBut wait, let me che", "17"),
        ("So the total is \\boxed{17}", "17"),  # a closed box is complete, newline or not
        ("so x = 5\nNow we", "5"),
        ("The answer is **17**.\n", "17"),
    ],
)
def test_answer_finished_before_the_cut_counts(text: str, expected: str) -> None:
    found = extract_answer(text, complete=False)
    assert found is not None
    assert found.text == expected
    assert found == extract_answer(text)  # same answer, span and rule as a finished text


def test_phrase_cut_mid_answer_does_not_fall_back_to_an_earlier_number() -> None:
    assert extract_answer("x = 5\nFinal answer: 1", complete=False) is None
