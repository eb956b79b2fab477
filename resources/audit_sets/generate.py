"""Write Quorum's bundled audit sets, with answers computed here, not typed in.

    python resources/audit_sets/generate.py        # rewrites arithmetic.jsonl, choice.csv

The random generator has a fixed seed, so the files are the same on every run (a test
checks that the committed files are what this script writes, and that every answer is
right). Keep the sets small: an audit runs every question N times on a laptop.
"""

from __future__ import annotations

import csv
import io
import json
import random
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261201
ASK_NUMBER = " Give the final answer as a number after 'Answer:'."
ASK_CHOICE = " Reply with the letter of the right option after 'Answer:'."


def _number(value: Fraction) -> str:
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )


def arithmetic(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for i in range(1, 11):
        a, b, c = rng.randint(12, 99), rng.randint(2, 19), rng.randint(3, 60)
        op = ("+", "-", "*")[i % 3]
        value = {"+": a * b + c, "-": a * b - c, "*": a * (b + c)}[op]
        text = f"{a} * {b} {op} {c}" if op != "*" else f"{a} * ({b} + {c})"
        rows.append(
            {"id": f"arith-{i}", "question": f"What is {text}?" + ASK_NUMBER, "answer": str(value)}
        )
    words = [
        (
            "apples",
            "A crate holds {a} apples. A shop gets {b} crates and sells {c} apples. "
            "How many apples are left?",
            lambda a, b, c: a * b - c,
        ),
        (
            "train",
            "A train travels {a} km per hour for {b} hours, then {c} km more. "
            "How many km does it travel in all?",
            lambda a, b, c: a * b + c,
        ),
        (
            "share",
            "{a} sweets are shared equally among {b} children after {c} are eaten. "
            "How many does each child get?",
            None,
        ),
        (
            "pages",
            "A book has {a} pages. Ana reads {b} pages a day for {c} days. "
            "How many pages are left?",
            lambda a, b, c: a - b * c,
        ),
        (
            "coins",
            "Tom has {a} coins worth 5 cents and {b} coins worth 10 cents. "
            "He spends {c} cents. How many cents does he have left?",
            lambda a, b, c: 5 * a + 10 * b - c,
        ),
    ]
    for i, (key, template, rule) in enumerate(words * 2, start=1):
        if rule is None:  # the share problem: pick numbers that divide exactly
            b, each, c = rng.randint(3, 9), rng.randint(4, 12), rng.randint(1, 9)
            a, value = b * each + c, Fraction(each)
        elif key == "pages":
            b, c = rng.randint(5, 20), rng.randint(2, 9)
            a = b * c + rng.randint(10, 90)
            value = Fraction(rule(a, b, c))
        elif key == "coins":
            a, b = rng.randint(3, 15), rng.randint(2, 12)
            c = rng.randint(5, 5 * a + 10 * b - 5)
            value = Fraction(rule(a, b, c))
        else:
            a, b = rng.randint(20, 90), rng.randint(2, 12)
            c = rng.randint(1, a * b - 1)
            value = Fraction(rule(a, b, c))
        rows.append(
            {
                "id": f"word-{key}-{i}",
                "question": template.format(a=a, b=b, c=c) + ASK_NUMBER,
                "answer": _number(value),
            }
        )
    return rows


def choice(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    letters = "ABCD"
    for i in range(1, 13):
        a, b = rng.randint(11, 49), rng.randint(11, 49)
        kind = i % 3
        if kind == 0:
            stem, right = f"Which number is {a} + {b}?", a + b
        elif kind == 1:
            stem, right = f"Which number is {a} * {b}?", a * b
        else:
            big = max(a, b) + rng.randint(1, 30)
            stem, right = f"Which number is {big} - {min(a, b)}?", big - min(a, b)
        wrong: set[int] = set()
        while len(wrong) < 3:
            w = right + rng.choice([-1, 1]) * rng.randint(1, 12)
            if w != right and w > 0:
                wrong.add(w)
        options = [right, *sorted(wrong)]
        rng.shuffle(options)
        listed = " ".join(f"({letters[k]}) {v}" for k, v in enumerate(options))
        rows.append(
            {
                "id": f"choice-{i}",
                "question": f"{stem} {listed}." + ASK_CHOICE,
                "answer": letters[options.index(right)],
            }
        )
    return rows


def render_jsonl(rows: list[dict[str, str]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def render_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=["id", "question", "answer"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def files() -> dict[str, str]:
    """File name -> its text, as this script writes it."""
    rng = random.Random(SEED)
    return {
        "arithmetic.jsonl": render_jsonl(arithmetic(rng)),
        "choice.csv": render_csv(choice(rng)),
    }


if __name__ == "__main__":
    for name, text in files().items():
        (HERE / name).write_text(text, encoding="utf-8", newline="")
        print(f"wrote {HERE / name}")
