"""Question sets: JSONL and CSV, the bundled sets, and a clear message for each bad file."""

from __future__ import annotations

import json
import re
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from app.core.audit.questions import (
    QuestionSetError,
    load_question_set,
    parse_question_set,
    resolve_set_path,
)

REPO = Path(__file__).resolve().parents[3]


def test_jsonl_with_and_without_ids_and_answers() -> None:
    data = b'{"question": "1+1?", "answer": 2}\n\n{"id": "x", "question": " Why? "}\n'
    qs = parse_question_set(data, name="set.jsonl")
    assert [(q.id, q.question, q.answer) for q in qs.questions] == [
        ("q1", "1+1?", "2"),
        ("x", "Why?", None),
    ]
    assert qs.has_answers and len(qs.sha256) == 64


def test_csv_header_case_and_bom() -> None:
    data = '\ufeffQuestion,Answer\n"Is it, really?",yes\n'.encode()
    qs = parse_question_set(data, name="set.csv")
    assert qs.questions[0].question == "Is it, really?" and qs.questions[0].answer == "yes"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("s.jsonl", b"", "is empty"),
        ("s.jsonl", b"  \n\n", "is empty"),
        ("s.jsonl", b'{"question": "ok"}\n{"q": "no"}\n', "line 2: unknown field 'q'"),
        ("s.jsonl", b'{"question": "ok"}\n[1, 2]\n', "line 2 must be a JSON object"),
        ("s.jsonl", b'{"question": "ok"\n', "line 1 is not JSON"),
        ("s.jsonl", b'{"question": "  "}\n', "line 1: the question is empty"),
        ("s.jsonl", b'{"question": ["a"]}\n', "'question' must be text or a number"),
        (
            "s.jsonl",
            b'{"id": "a", "question": "x"}\n{"id": "a", "question": "y"}\n',
            "the id 'a' is used by more than one question",
        ),
        ("s.jsonl", b'{"question": "caf\xe9"}\n', "not valid UTF-8 text (byte 0xe9 on line 1)"),
        ("s.csv", b"prompt,answer\nx,1\n", "needs a 'question' column"),
        ("s.csv", b"question,answer\nx,1,extra\n", "row 2 has more cells"),
        ("s.csv", b"question\n", "holds no questions"),
    ],
)
def test_bad_files_get_one_clear_sentence(name: str, data: bytes, message: str) -> None:
    with pytest.raises(QuestionSetError, match=re.escape(message)):
        parse_question_set(data, name=name)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(QuestionSetError, match="no such question set"):
        load_question_set(tmp_path / "nope.jsonl")
    with pytest.raises(QuestionSetError, match="is a folder"):
        load_question_set(tmp_path)


def _generator() -> object:
    sys.path.insert(0, str(REPO / "resources" / "audit_sets"))
    try:
        import generate  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return generate


def test_bundled_sets_are_what_the_generator_writes() -> None:
    generate = _generator()
    for name, text in generate.files().items():  # type: ignore[attr-defined]
        assert (REPO / "resources" / "audit_sets" / name).read_text(encoding="utf-8") == text
    assert resolve_set_path("arithmetic").name == "arithmetic.jsonl"


def _solve(question: str) -> Fraction:
    """An independent check of each bundled answer, from the question's own words."""
    n = [int(x) for x in re.findall(r"\d+", question)]
    if m := re.match(r"What is (\d+) \* \((\d+) \+ (\d+)\)", question):
        a, b, c = map(int, m.groups())
        return Fraction(a * (b + c))
    if m := re.match(r"What is (\d+) \* (\d+) ([+-]) (\d+)", question):
        a, b, op, c = m.groups()
        return Fraction(int(a) * int(b) + (int(c) if op == "+" else -int(c)))
    if "apples" in question:
        return Fraction(n[0] * n[1] - n[2])
    if "train" in question:
        return Fraction(n[0] * n[1] + n[2])
    if "sweets" in question:
        return Fraction(n[0] - n[2], n[1])
    if "pages" in question:
        return Fraction(n[0] - n[1] * n[2])
    if "coins" in question:  # "worth 5 cents" and "worth 10 cents" are numbers too
        return Fraction(5 * n[0] + 10 * n[2] - n[4])
    raise AssertionError(f"unknown question: {question}")


def test_bundled_answers_are_right() -> None:
    arithmetic = load_question_set("arithmetic")
    assert len(arithmetic.questions) == 20
    for q in arithmetic.questions:
        assert Fraction(q.answer or "") == _solve(q.question), q.id
        assert _solve(q.question) >= 0 and _solve(q.question).denominator == 1
    choice = load_question_set("choice")
    assert len(choice.questions) == 12
    for q in choice.questions:
        m = re.match(r"Which number is (\d+) ([-+*]) (\d+)\?", q.question)
        assert m, q.question
        a, op, b = int(m[1]), m[2], int(m[3])
        right = {"+": a + b, "-": a - b, "*": a * b}[op]
        options = dict(re.findall(r"\(([A-D])\) (\d+)", q.question))
        assert len(set(options.values())) == 4, "four different options"
        assert int(options[q.answer or ""]) == right, q.id
    assert json.loads((REPO / "resources/audit_sets/arithmetic.jsonl").read_text().splitlines()[0])
