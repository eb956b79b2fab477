"""A question set for an audit: JSONL or CSV rows of `question`, optional `answer` and `id`.

Bad files are refused with one sentence that says what is wrong and where (the line or
row), never with a traceback: a set is user input.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from app.core.models.catalog import resources_dir

__all__ = [
    "BUNDLED_SETS",
    "AuditQuestion",
    "QuestionSet",
    "QuestionSetError",
    "load_question_set",
    "parse_question_set",
]

KNOWN_COLUMNS = frozenset({"question", "answer", "id"})
MAX_QUESTIONS = 10_000
# Sets the project writes itself (resources/audit_sets/generate.py), so an audit runs offline.
BUNDLED_SETS = {"arithmetic": "arithmetic.jsonl", "choice": "choice.csv"}


class QuestionSetError(ValueError):
    """The question set cannot be used; the message is meant for a user."""


@dataclass(frozen=True)
class AuditQuestion:
    """One question, its reference answer when the set has one, and its id in the set."""

    id: str
    question: str
    answer: str | None = None


@dataclass(frozen=True)
class QuestionSet:
    """The questions of one file, in file order, and a digest of the file's bytes."""

    name: str
    questions: tuple[AuditQuestion, ...]
    sha256: str

    @property
    def has_answers(self) -> bool:
        return any(q.answer is not None for q in self.questions)


def resolve_set_path(ref: str | Path) -> Path:
    """A bundled set's name ("arithmetic", "choice") or a path to a file."""
    if isinstance(ref, str) and ref in BUNDLED_SETS:
        return resources_dir() / "audit_sets" / BUNDLED_SETS[ref]
    return Path(ref).expanduser()


def load_question_set(ref: str | Path) -> QuestionSet:
    path = resolve_set_path(ref)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise QuestionSetError(f"no such question set: {path}") from None
    except IsADirectoryError:
        raise QuestionSetError(f"{path} is a folder, not a question set") from None
    except OSError as exc:
        raise QuestionSetError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_question_set(data, name=path.name)


def parse_question_set(data: bytes, *, name: str) -> QuestionSet:
    """Parse the bytes of a set; `name` ending in .csv means CSV, anything else JSONL."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise QuestionSetError(
            f"{name} is not valid UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})"
        ) from None
    if not text.strip():
        raise QuestionSetError(f"{name} is empty: it holds no questions")
    rows = _csv_rows(text, name) if name.lower().endswith(".csv") else _jsonl_rows(text, name)
    questions = [_question(where, row, name) for where, row in rows]
    if not questions:
        raise QuestionSetError(f"{name} holds no questions")
    if len(questions) > MAX_QUESTIONS:
        raise QuestionSetError(f"{name} has {len(questions)} questions; at most {MAX_QUESTIONS}")
    questions = _with_ids(questions, name)
    return QuestionSet(name, tuple(questions), hashlib.sha256(data).hexdigest())


def _jsonl_rows(text: str, name: str) -> list[tuple[str, dict[str, object]]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionSetError(f"{name} line {number} is not JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise QuestionSetError(
                f'{name} line {number} must be a JSON object with a "question" field'
            )
        rows.append((f"line {number}", row))
    return rows


def _csv_rows(text: str, name: str) -> list[tuple[str, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "question" not in header:
        raise QuestionSetError(
            f"{name} needs a 'question' column (optional: 'answer', 'id'); "
            f"its header is {', '.join(reader.fieldnames or []) or 'empty'}"
        )
    reader.fieldnames = header
    rows = []
    try:
        for row in reader:
            if None in row:
                raise QuestionSetError(
                    f"{name} row {reader.line_num} has more cells than the header has columns"
                )
            rows.append((f"row {reader.line_num}", dict(row)))
    except csv.Error as exc:
        raise QuestionSetError(f"{name} is not valid CSV (row {reader.line_num}): {exc}") from None
    return rows


def _question(where: str, row: dict[str, object], name: str) -> AuditQuestion:
    unknown = sorted(str(k) for k in row if k not in KNOWN_COLUMNS)
    if unknown:
        raise QuestionSetError(
            f"{name} {where}: unknown field {', '.join(map(repr, unknown))} "
            "(a question set has 'question', optional 'answer' and 'id')"
        )
    question = _text(row.get("question"), "question", where, name)
    if not question:
        raise QuestionSetError(f"{name} {where}: the question is empty")
    answer = _text(row.get("answer"), "answer", where, name) or None
    ident = _text(row.get("id"), "id", where, name) or ""
    return AuditQuestion(ident, question, answer)


def _text(value: object, field: str, where: str, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise QuestionSetError(f"{name} {where}: '{field}' must be text or a number")
    return str(value).strip()


def _with_ids(questions: list[AuditQuestion], name: str) -> list[AuditQuestion]:
    """Rows without an id get their position ("q3"); ids must be unique (they key saved
    samples, so two questions with one id would share samples on resume)."""
    out, seen = [], set()
    for position, q in enumerate(questions, start=1):
        ident = q.id or f"q{position}"
        if ident in seen:
            raise QuestionSetError(f"{name}: the id {ident!r} is used by more than one question")
        seen.add(ident)
        out.append(AuditQuestion(ident, q.question, q.answer))
    return out
