"""Find the final answer in a model's answer text (the part after the reasoning trace).

Three rules, tried in order; the first that finds something wins:

1. ``boxed``: the last ``\\boxed{...}`` or ``\\fbox{...}`` whose braces balance (nested
   groups such as ``\\boxed{\\frac{1}{2}}`` are fine; ``\\{`` and ``\\}`` are literal braces
   and do not count). An unterminated box is skipped and the one before it is used.
2. ``phrase``: the last explicit phrase ("Answer:", "**Answer:**", "The answer is",
   "The final answer is", "Final Answer: $...$", a "Final Answer" heading, any case). The
   answer is the rest of that sentence on that line, or the next non-blank line when the
   phrase ends its line, or a whole ``$...$`` / ``\\(...\\)`` / ``$$...$$`` / ``**...**``
   group that starts right after the phrase.
3. ``last_number``: the last number: integers, decimals, a leading minus, thousands
   separators (1,234), fractions (3/4, ``\\frac{3}{4}``), scientific notation (6.02e23).
   A number that is a list marker ("1. " or "2) " starting a line with more text after
   it) is skipped: it numbers a step, it is not a result. A number glued to letters
   ("x2", "H2O", "v1.2") is not taken either.

When the text was cut off (cancelled, or out of tokens or context) pass ``complete=False``:
the text may end halfway through the answer ("... = 1" of "= 17"), so only an answer that
was finished before the cut counts: a closed box, or a phrase or last-number answer whose
line a newline ends. Anything else gives None rather than an invented answer.

Text inside fenced code blocks (``` or ~~~) is ignored by rules 2 and 3: code is full of
numbers and "Answer:" strings that are not the answer. A box is an explicit marking, so
rule 1 looks everywhere.

The returned text is always the exact slice ``text[span[0]:span[1]]``: wrappers (bold,
``$``, ``\\text{}``, a trailing full stop, the brackets of a lone choice letter "(B)") are
trimmed by moving the span, never by rewriting. Normalising "1,234" against "1234" is
left to answer grouping, which compares answers with math-verify.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["AnswerRule", "ExtractedAnswer", "extract_answer"]

AnswerRule = Literal["boxed", "phrase", "last_number"]


@dataclass(frozen=True)
class ExtractedAnswer:
    """A final answer found in a text: the answer, the rule that found it, where it sits."""

    text: str
    rule: AnswerRule
    span: tuple[int, int]  # character offsets in the searched text; text == slice


def extract_answer(text: str, *, complete: bool = True) -> ExtractedAnswer | None:
    """The final answer in `text`, or None when the text holds nothing that looks like one.

    complete=False: the text was cut off, so a phrase or last-number answer counts only
    when a newline follows it (a closed box always counts).
    """
    if not isinstance(text, str):
        raise TypeError(f"extract_answer() takes str, not {type(text).__name__}")
    if not text.strip():
        return None
    code = _fenced_code_regions(text)
    rules: tuple[tuple[AnswerRule, Callable[[], tuple[int, int] | None]], ...] = (
        ("boxed", lambda: _find_boxed(text)),
        ("phrase", lambda: _find_phrase(text, code)),
        ("last_number", lambda: _find_last_number(text, code)),
    )
    for rule, find in rules:
        span = find()
        if span is not None:
            if not complete and rule != "boxed" and "\n" not in text[span[1] :]:
                return None  # the answer's line was still being written when the text stopped
            return ExtractedAnswer(text=text[span[0] : span[1]], rule=rule, span=span)
    return None


# -- rule 1: boxes --------------------------------------------------------------------------

_BOX_OPEN_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")


def final_answer_span(answer: str, extracted: str | None) -> tuple[int, int] | None:
    """Where a stored final answer sits in its stored answer text, if anywhere (what the
    answer pane highlights)."""
    if not extracted:
        return None
    found = extract_answer(answer)
    if found is not None and found.text == extracted:
        return found.span
    start = answer.rfind(extracted)  # extracted by another Quorum version
    return (start, start + len(extracted)) if start >= 0 else None


def _closing_brace(text: str, start: int, end: int) -> int:
    """Index of the brace closing the group whose content starts at `start`, or -1."""
    depth = 1
    i = start
    while i < end:
        char = text[i]
        if char == "\\":
            i += 2  # an escaped character, "\{" or "\}" included, never opens or closes
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _brace_partners(text: str) -> dict[int, int]:
    """Opening brace index -> its closing brace index, for every balanced pair, in one pass.

    One pass rather than a scan per box: a runaway output repeating "\\boxed{" thousands of
    times would otherwise cost time quadratic in its length.
    """
    partners: dict[int, int] = {}
    open_braces: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            open_braces.append(i)
        elif char == "}" and open_braces:
            partners[open_braces.pop()] = i
        i += 1
    return partners


def _find_boxed(text: str) -> tuple[int, int] | None:
    boxes = list(_BOX_OPEN_RE.finditer(text))
    if not boxes:
        return None
    partners = _brace_partners(text)
    for match in reversed(boxes):
        # The regex ends on the box's "{", which is never escaped: "boxed" or a space precedes it.
        close = partners.get(match.end() - 1, -1)
        if close < 0:
            continue
        span = _trim(text, match.end(), close)
        if span is not None:
            return span
    return None


# -- rule 2: phrases ------------------------------------------------------------------------

_PHRASE_RE = re.compile(
    r"(?:"
    # "The answer is", "the final answer is", "The correct answer would be:"
    r"\b(?:the\s+)?(?:final\s+|correct\s+)?answer\s+(?:is|would\s+be|should\s+be|must\s+be)\b"
    r"(?:[ \t]*:)?"
    # "Answer:", "Final answer:", "**Answer:**", "**Final Answer**:"
    r"|\b(?:final\s+|correct\s+)?answer[ \t]*(?:\*\*[ \t]*)?:"
    # A "Final Answer" heading alone on its line ("### Final Answer", "**Final Answer**")
    r"|\bfinal\s+answer\b(?:[ \t]*\*\*)?(?=[ \t]*(?:\r?\n|$))"
    r")(?:\*\*)?",  # the closing bold of "**Answer:**" when it hugs the phrase
    re.IGNORECASE,
)
# Verdicts about an answer ("the answer is correct") are not answers.
_VERDICT_RE = re.compile(
    r"(?:correct|incorrect|right|wrong|valid|invalid|consistent|reasonable)\b", re.IGNORECASE
)
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s|$)")
# (opener, closer, may span lines): groups taken whole when they start the answer, and
# wrappers trimmed off any answer. "$$" must come before "$".
_GROUPS = (
    ("$$", "$$", True),
    ("\\[", "\\]", True),
    ("\\(", "\\)", False),
    ("$", "$", False),
    ("**", "**", False),
)


def _find_phrase(text: str, code: list[tuple[int, int]]) -> tuple[int, int] | None:
    for match in reversed(list(_PHRASE_RE.finditer(text))):
        if _inside(match.start(), code):
            continue
        span = _answer_after_phrase(text, match.end())
        if span is not None and not _VERDICT_RE.match(text, span[0], span[1]):
            return span
    return None


def _answer_after_phrase(text: str, start: int) -> tuple[int, int] | None:
    begin = _skip_blanks(text, start)
    line_end = _line_end(text, begin)
    if not text[begin:line_end].strip():  # the phrase ends its line: look at the next one
        begin = _skip_blanks(text, begin, newlines=True)
        line_end = _line_end(text, begin)
        if begin == line_end:
            return None
    for opener, closer, multiline in _GROUPS:
        if not text.startswith(opener, begin):
            continue
        limit = len(text) if multiline else line_end
        close = text.find(closer, begin + len(opener), limit)
        if close >= 0:
            return _trim(text, begin, close + len(closer))
        break
    sentence_end = _SENTENCE_END_RE.search(text, begin, line_end)
    return _trim(text, begin, sentence_end.start() if sentence_end else line_end)


def _skip_blanks(text: str, i: int, *, newlines: bool = False) -> int:
    blanks = " \t\r\n" if newlines else " \t"
    while i < len(text) and text[i] in blanks:
        i += 1
    return i


def _line_end(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


# -- rule 3: last number --------------------------------------------------------------------

_EXPONENT = r"(?:[eE][-+]?[0-9]+)?"
_NUMBER_RE = re.compile(
    r"(?<![\w.])"  # not the tail of a word, a version or a longer number
    r"[-−]?"
    r"(?:\\[dt]?frac\{[-−]?[0-9]+\}\{[0-9]+\}"
    r"|[0-9]+/[0-9]+(?![0-9])"
    r"|(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?"
    + _EXPONENT
    + r"|\.[0-9]+"
    + _EXPONENT
    + r")"
)
_LIST_MARKER_RE = re.compile(r"[0-9]+[.)][ \t]+\S")


def _find_last_number(text: str, code: list[tuple[int, int]]) -> tuple[int, int] | None:
    for match in reversed(list(_NUMBER_RE.finditer(text))):
        if _inside(match.start(), code) or _is_list_marker(text, match.start()):
            continue
        return match.span()
    return None


def _is_list_marker(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip(" \t"):
        return False
    return _LIST_MARKER_RE.match(text, start) is not None


# -- shared helpers -------------------------------------------------------------------------

_FENCE_RE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})", re.MULTILINE)
_COMMAND_WRAPPERS = ("\\text{", "\\textbf{", "\\textit{", "\\mathrm{", "\\mathbf{")
_LONE_CHOICE_RE = re.compile(r"\(([A-Za-z])\)")


def _fenced_code_regions(text: str) -> list[tuple[int, int]]:
    regions: list[tuple[int, int]] = []
    open_at = -1
    fence = ""
    for match in _FENCE_RE.finditer(text):
        marker = match.group(1)
        if open_at < 0:
            open_at, fence = match.start(), marker
        elif marker[0] == fence[0] and len(marker) >= len(fence):
            regions.append((open_at, _line_end(text, match.end())))
            open_at = -1
    if open_at >= 0:  # an unclosed fence runs to the end, as Markdown renders it
        regions.append((open_at, len(text)))
    return regions


def _inside(index: int, regions: list[tuple[int, int]]) -> bool:
    return any(start <= index < end for start, end in regions)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Shrink [start, end) past whitespace, a final full stop and wrappers; None if empty."""
    while True:
        before = (start, end)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start and text[end - 1] == ".":
            end -= 1
        piece = text[start:end]
        for opener, closer, _ in _GROUPS:
            inner = piece[len(opener) : len(piece) - len(closer)]
            if (
                len(piece) > len(opener) + len(closer)
                and piece.startswith(opener)
                and piece.endswith(closer)
                and opener not in inner
                and closer not in inner
            ):
                start, end = start + len(opener), end - len(closer)
                break
        else:
            start, end = _trim_commands_and_stray_bold(text, start, end)
        if (start, end) == before:
            break
    choice = _LONE_CHOICE_RE.fullmatch(text, start, end)
    if choice:
        start, end = choice.span(1)
    # Bare markup ("$$" whose closer never came) is not an answer.
    return (start, end) if text[start:end].strip("$*`") else None


def _trim_commands_and_stray_bold(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    for command in _COMMAND_WRAPPERS:
        if piece.startswith(command) and _closing_brace(text, start + len(command), end) == end - 1:
            return start + len(command), end - 1
    # "**Answer: B**" leaves "B**": a lone bold marker belongs to the phrase, not the answer.
    if piece.count("**") == 1:
        if piece.startswith("**"):
            return start + 2, end
        if piece.endswith("**"):
            return start, end - 2
    return start, end
