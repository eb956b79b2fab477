"""Canonical forms of an extracted answer: normalised text, choice letter, exact number, maths.

Decisions (they go into the app's help through app.core.answers.grouping):

- Choice letters A-J (any case) count as a choice only when they are the whole answer:
  "B", "(B)", "b)", "B.", "Option B", "**B**", "$\\text{B}$" are all choice B.
- Numbers compare exactly as fractions.Fraction, never as floats: "1,000" = "1000",
  "2.50" = "2.5", "1/2" = "0.5" = "\\frac{1}{2}" = "\\dfrac12", "1.5e3" = "1500".
- Units and currency are stripped, not converted: "$5" = "5 dollars" = "5", "12 cm" = "12".
  So "50 cents" is 50, not 0.5.
- Percent is a unit too: "50%" = "50", and "50%" differs from "0.5". The question fixes the
  scale ("what percent ..." answers read 50 or 50%), and when samples disagree on the scale
  the two groups show that disagreement instead of hiding it.
- A leading one-letter assignment is dropped from numbers: "x = 5" = "5".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction

_MAX_NUMBER_CHARS = 100
_MAX_MATH_CHARS = 200

# --- normalisation -------------------------------------------------------------------------

_THOUSANDS_GAP_RE = re.compile(r"(?<=\d)(?:\{,\}|\\,|\\ |\u2009|\u202f)(?=\d{3}(?!\d))")
_SPACING_RE = re.compile(r"\\[,;:! ]|~|\u00a0|\u2009|\u202f")
_TEXT_COMMAND_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|operatorname|mbox)\s*\{([^{}]*)\}"
)
_LEFT_RIGHT_RE = re.compile(r"\\(?:left|right)(?![a-zA-Z])")
_OPERATOR_SPACE_RE = re.compile(r"\s*([-+*/=^(),\[\]{}<>])\s*")
_ONLY_MARKUP_RE = re.compile(r"[\s*_`$.,;:]*")
_COMMAND_OR_TEXT_RE = re.compile(r"\\[A-Za-z]+|[^\\]+")
_MATH_DOLLARS = (re.compile(r"\$\$(.*)\$\$", re.S), re.compile(r"\$(.*)\$", re.S))
_WRAPPERS = (
    re.compile(r"\*\*(.*)\*\*", re.S),
    re.compile(r"__(.*)__", re.S),
    re.compile(r"`+(.*?)`+", re.S),
    *_MATH_DOLLARS,
    re.compile(r"\\\((.*)\\\)", re.S),
    re.compile(r"\\\[(.*)\\\]", re.S),
    re.compile(r"\\boxed\s*\{(.*)\}", re.S),
)


def normalize_answer(text: str) -> str:
    """Display-insensitive form: case, spacing, $ \\( \\) \\boxed{} \\text{}, bold, final period.

    LaTeX command names keep their case (\\Delta is not \\delta); everything else is lower
    case. Spaces around operators are removed ("x + 1" -> "x+1"); other runs of spaces
    become one. A trailing "." "," ";" or ":" goes; "!" stays (it may be a factorial).
    """
    s = text.replace("\u2212", "-")  # Unicode minus, common in model output
    s = _THOUSANDS_GAP_RE.sub("", s)
    for _ in range(8):  # peel nested wrappers such as **$\boxed{5}$**.
        before = s
        s = _TEXT_COMMAND_RE.sub(r"\1", s).strip()
        s = s.rstrip(".,;:").strip()
        for wrapper in _WRAPPERS:
            match = wrapper.fullmatch(s)
            # "$5$ or $6$" is two maths spans, not one wrapped in dollars.
            dollars_inside = wrapper in _MATH_DOLLARS and "$" in match.group(1) if match else False
            if match and _balanced(match.group(1)) and not dollars_inside:
                s = match.group(1).strip()
        if s == before:
            break
    if _ONLY_MARKUP_RE.fullmatch(s):
        return ""  # "**", "$", "``": formatting around nothing
    s = _SPACING_RE.sub(" ", s)
    s = _LEFT_RIGHT_RE.sub("", s)
    s = " ".join(s.split())
    s = _OPERATOR_SPACE_RE.sub(r"\1", s)
    return _COMMAND_OR_TEXT_RE.sub(
        lambda m: m.group(0) if m.group(0).startswith("\\") else m.group(0).lower(), s
    )


def _balanced(s: str) -> bool:
    depth = 0
    for char in s:
        depth += (char == "{") - (char == "}")
        if depth < 0:
            return False
    return depth == 0


# --- choice letters ------------------------------------------------------------------------

_CHOICE_RE = re.compile(r"(?:(?:option|choice|answer)\s*:?\s*)?[(\[]?([a-j])[)\].:]?")


def choice_letter(normalized: str) -> str | None:
    match = _CHOICE_RE.fullmatch(normalized)
    return match.group(1).upper() if match else None


# --- numbers -------------------------------------------------------------------------------

_DEC = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+"
_FRAC_ARG = rf"\{{\s*([-+]?(?:{_DEC}))\s*\}}|\s*(\d)"
_LATEX_FRACTION_RE = re.compile(rf"([-+]?)\\[dt]?frac(?:{_FRAC_ARG})(?:{_FRAC_ARG})")
_PLAIN_NUMBER_RE = re.compile(
    rf"([-+]?)({_DEC})(?:/({_DEC})"
    rf"|e([-+]?\d{{1,3}})"
    rf"|\s*(?:\\times|\\cdot|×|\*)\s*10\^(?:\{{([-+]?\d{{1,3}})\}}|([-+]?\d{{1,3}})))?"
)
_ASSIGNMENT_RE = re.compile(r"[a-z]\s*=\s*")
_CURRENCY_RE = re.compile(r"([-+]?)\s*(?:\\\$|\$|€|£|¥|₹|usd|eur|gbp)\s*")
_PERCENT_OR_DEGREE_RE = re.compile(r"%|\\%|percent|per cent|\^\\circ|\^\{\\circ\}|°|\\circ")
_UNIT_WORD = r"[a-zµ°]+(?:/[a-z]+)?(?:\^\{?[23]\}?|[²³])?"
_UNIT_PHRASE_RE = re.compile(rf"({_UNIT_WORD})(?:\s+{_UNIT_WORD}){{0,2}}")
_ONE_LETTER_UNITS = frozenset("mgslh")  # metre, gram, second, litre, hour
# Words after a number that change its meaning, so they must not be dropped as units.
_NOT_UNITS = frozenset(
    {"pi", "sqrt", "inf", "infty", "infinity", "and", "or", "to", "plus", "minus", "times"}
    | {"over", "squared", "cubed", "mod", "factorial", "percentile"}
)


def parse_number(normalized: str) -> Fraction | None:
    """The exact value of a plain numeric answer (units, currency, percent dropped), or None."""
    s = normalized
    if len(s) > _MAX_NUMBER_CHARS:
        return None
    if assignment := _ASSIGNMENT_RE.match(s):
        s = s[assignment.end() :]
    sign = ""
    if currency := _CURRENCY_RE.match(s):
        sign, s = currency.group(1), s[currency.end() :]
    value, tail = _leading_number(s)
    if value is None or not _is_unit_tail(tail):
        return None
    return -value if sign == "-" else value


def _leading_number(s: str) -> tuple[Fraction | None, str]:
    try:
        if match := _LATEX_FRACTION_RE.match(s):
            numerator = _fraction(match.group(2) or match.group(3))
            denominator = _fraction(match.group(4) or match.group(5))
            if denominator == 0:
                return None, s
            value = numerator / denominator
        elif match := _PLAIN_NUMBER_RE.match(s):
            value = _fraction(match.group(2))
            over, exponent = match.group(3), match.group(4) or match.group(5) or match.group(6)
            if over is not None:
                if _fraction(over) == 0:
                    return None, s
                value /= _fraction(over)
            elif exponent is not None:
                value *= Fraction(10) ** int(exponent)  # at most 3 digits, so cheap
        else:
            return None, s
    except ValueError:  # e.g. more digits than int() accepts
        return None, s
    return (-value if match.group(1) == "-" else value), s[match.end() :]


def _fraction(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


def _is_unit_tail(tail: str) -> bool:
    tail = tail.strip()
    if not tail or _PERCENT_OR_DEGREE_RE.fullmatch(tail):
        return True
    match = _UNIT_PHRASE_RE.fullmatch(tail)
    if not match:
        return False
    first_word = re.split(r"[/^²³]", match.group(1))[0]
    if first_word in _NOT_UNITS:
        return False
    return len(first_word) > 1 or first_word in _ONE_LETTER_UNITS


def number_latex(value: Fraction) -> str:
    sign = "-" if value < 0 else ""
    numerator, denominator = abs(value.numerator), value.denominator
    if denominator == 1:
        return f"${sign}{numerator}$"
    return f"${sign}\\frac{{{numerator}}}{{{denominator}}}$"


# --- maths expressions for math-verify -----------------------------------------------------

_MATHS_WORDS = frozenset(
    {"sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh"}
    | {"cosh", "tanh", "log", "ln", "exp", "pi", "inf", "infty", "infinity", "oo", "mod"}
)
# Two-letter words that mark a sentence ("5 or 6"), not a product of two variables.
_SHORT_ENGLISH_WORDS = frozenset(
    {"or", "is", "of", "to", "no", "on", "an", "if", "be", "it", "as", "by", "so", "at", "we"}
)
_MATHS_SIGNAL_RE = re.compile(r"[\d\\+\-*/^=()<>{}\[\]|!√π∞]")
_PLAIN_TO_LATEX = (
    (re.compile(r"\*\*"), "^"),
    (re.compile(r"√"), r"\\sqrt"),
    (re.compile(r"π"), r"\\pi "),
    (re.compile(r"∞|(?<![\\a-z])(?:infinity|infty|inf|oo)(?![a-z])"), r"\\infty "),
    (re.compile(r"≤|<="), r"\\le "),
    (re.compile(r"≥|>="), r"\\ge "),
    (
        re.compile(
            r"(?<![\\a-z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc)"
            r"(?![a-z])"
        ),
        r"\\\1 ",
    ),
    (re.compile(r"(?<![\\a-z])(log|ln|exp|pi)(?![a-z])"), r"\\\1 "),
    (re.compile(r"(?<![\\a-z])sqrt\(([^()]*)\)"), r"\\sqrt{\1}"),
    (re.compile(r"(?<![\\a-z])sqrt(?![a-z])"), r"\\sqrt"),
    (re.compile(r"\*|×|·"), r" \\cdot "),
)


def maths_latex(normalized: str) -> str | None:
    """The answer as ``$...$`` for math-verify, or None when it reads as words, not maths.

    Prose never goes to math-verify: it would read "Paris" as the product p*a*r*i*s.
    An answer counts as maths when it has a digit, an operator or a LaTeX command, no bare
    "$", and every run of letters outside LaTeX commands is a known function name or at most
    two letters long (but not a short English word such as "or").
    """
    if len(normalized) > _MAX_MATH_CHARS or not _MATHS_SIGNAL_RE.search(normalized):
        return None
    if re.search(r"(?<!\\)\$", normalized):  # several maths spans with words between them
        return None
    outside_commands = re.sub(r"\\[A-Za-z]+", " ", normalized)
    for word in re.findall(r"[a-z]+", outside_commands):
        if (len(word) > 2 and word not in _MATHS_WORDS) or word in _SHORT_ENGLISH_WORDS:
            return None
    s = normalized
    for pattern, replacement in _PLAIN_TO_LATEX:
        s = pattern.sub(replacement, s)
    return f"${' '.join(s.split())}$"


# --- everything at once --------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerForm:
    """What grouping needs to know about one answer string, computed once and cached."""

    normalized: str
    choice: str | None
    number: Fraction | None
    maths: str | None  # ``$...$`` for math-verify, None when math-verify must not be asked
    key: str  # equal keys mean equivalent answers (cheap layers only)


@functools.lru_cache(maxsize=8192)
def answer_form(text: str) -> AnswerForm:
    normalized = normalize_answer(text)
    choice = choice_letter(normalized)
    if choice is not None:
        return AnswerForm(normalized, choice, None, None, f"choice:{choice}")
    number = parse_number(normalized)
    if number is not None:
        return AnswerForm(normalized, None, number, number_latex(number), f"number:{number}")
    return AnswerForm(normalized, None, None, maths_latex(normalized), f"text:{normalized}")
