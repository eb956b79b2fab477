"""The Markdown dialect of model answers: CommonMark plus the maths that models write.

Reasoning models end their answers in LaTeX: Qwen3 writes ``$$ … $$`` or ``\\[ … \\]``
blocks and ``\\boxed{391}``, DeepSeek-R1 writes ``**Final Answer**`` followed by a
``\\[ \\boxed{391} \\]`` block, and both put ``\\( x^2 \\)`` or ``$x^2$`` inline. Plain
CommonMark reads none of that: ``\\[`` and ``\\(`` are backslash escapes, and a ``*``
between digits is emphasis, so ``17*23 = 391 and 3*4 = 12`` showed "23 = 391 and 3" in
italics. The rules here, added to markdown-it:

* a display-maths block: a line that starts with ``$$`` or ``\\[``, up to the line that
  ends with the closer; its lines are never read as Markdown (``\\\\``, ``&``, ``-`` and
  ``*`` inside an aligned environment stay maths). It may follow a paragraph line
  directly, as DeepSeek-R1 writes it.
* inline maths between ``$…$``, ``$$…$$``, ``\\(…\\)`` or ``\\[…\\]``, read before
  markdown's own backslash escapes eat the ``\\(``; ``$5 and $10`` stays money.
* a bare ``\\boxed{…}`` outside any delimiters is maths too.
* a single ``*`` with a letter, digit or bracket right on both sides is a times sign,
  never emphasis (``17*23``, ``(a+b)*c``). Emphasis inside a word (``un*believ*able``)
  is lost, which model answers do not use; ``**bold**`` and ``*words*`` keep working.

Code spans and code blocks are parsed before any of this sees their text, so a ``*`` or
``$`` inside code stays exactly as written.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline

# (opener, closer, display): longest openers first so "$$" is not read as "$" twice.
_MATH_DELIMITERS = (("$$", "$$", True), ("\\[", "\\]", True), ("\\(", "\\)", False),
                    ("$", "$", False))  # fmt: skip
_BLOCK_DELIMITERS = (("$$", "$$"), ("\\[", "\\]"))
_BOXED = "\\boxed{"
_TIMES_BEFORE = frozenset(")]}")
_TIMES_AFTER = frozenset("([{")


def _math_inline_rule(state: StateInline, silent: bool) -> bool:
    src, start = state.src, state.pos
    for opener, closer, display in _MATH_DELIMITERS:
        if not src.startswith(opener, start):
            continue
        begin = start + len(opener)
        end = src.find(closer, begin)
        if end < 0 or not src[begin:end].strip():
            continue
        if opener == "$" and not _plausible_dollar_math(src, begin, end):
            continue  # "$5 and $10" is money, not maths
        if not silent:
            token = state.push("math_display" if display else "math_inline", "", 0)
            token.content = src[begin:end]
        state.pos = end + len(closer)
        return True
    return False


def _plausible_dollar_math(src: str, begin: int, end: int) -> bool:
    # Pandoc's rule: no space just inside the dollars, no digit right after the closer.
    inside_ok = not src[begin].isspace() and not src[end - 1].isspace()
    return inside_ok and not (end + 1 < len(src) and src[end + 1].isdigit())


def _boxed_rule(state: StateInline, silent: bool) -> bool:
    src, start = state.src, state.pos
    if not src.startswith(_BOXED, start):
        return False
    end = closing_brace(src, start + len(_BOXED))
    if end < 0:
        return False  # not closed (yet, while streaming): plain text until it is
    if not silent:
        token = state.push("math_inline", "", 0)
        token.content = src[start : end + 1]
    state.pos = end + 1
    return True


def closing_brace(text: str, start: int) -> int:
    """Index of the brace closing the group whose content starts at ``start``, or -1."""
    depth, index = 1, start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2  # "\{" and "\}" neither open nor close
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return index
        index += 1
    return -1


def _times_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != "*" or pos == 0 or pos + 1 >= len(src):
        return False
    before, after = src[pos - 1], src[pos + 1]
    if not (before.isalnum() or before in _TIMES_BEFORE):
        return False
    if not (after.isalnum() or after in _TIMES_AFTER):
        return False
    if not silent:
        state.pending += "*"
    state.pos = pos + 1
    return True


def _math_block_rule(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False  # indented code
    first = _line_text(state, start_line)
    delimiters = [pair for pair in _BLOCK_DELIMITERS if first.startswith(pair[0])]
    if not delimiters:
        return False
    opener, closer = delimiters[0]
    rest = first[len(opener) :]
    parts: list[str] = []
    line = start_line
    found = False
    if closer in rest:  # "$$ x $$" on one line: a block only if nothing follows the closer
        inside, _, after = rest.partition(closer)
        if after.strip():
            return False
        parts.append(inside)
        found = True
    else:
        parts.append(rest)
        while line + 1 < end_line and not found:
            line += 1
            if state.sCount[line] < state.blkIndent and not state.isEmpty(line):
                break  # the enclosing list item or quote ended
            text = _line_text(state, line)
            stripped = text.rstrip()
            if stripped.endswith(closer):
                parts.append(stripped[: -len(closer)])
                found = True
            else:
                parts.append(text)
    if not found or not "\n".join(parts).strip():
        return False  # unclosed (still streaming) or empty: ordinary text until it closes
    if silent:
        return True
    token = state.push("math_block", "", 0)
    token.content = "\n".join(parts)
    token.map = [start_line, line + 1]
    token.block = True
    state.line = line + 1
    return True


def _line_text(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def build_markdown() -> MarkdownIt:
    """A markdown-it parser for model answers: raw HTML off, tables, strikethrough, maths."""
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.block.ruler.before(
        "fence", "math_block", _math_block_rule,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )  # fmt: skip
    md.inline.ruler.before("escape", "math", _math_inline_rule)
    md.inline.ruler.before("escape", "boxed", _boxed_rule)
    md.inline.ruler.before("emphasis", "times", _times_rule)
    return md
