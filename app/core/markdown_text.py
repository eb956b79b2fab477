"""Text that did not come from Quorum, written into Markdown so that it shows literally.

The Markdown exports quote the user's question, the model's output, GGUF metadata (a model
name is whatever the file's author wrote), file names and anything read back from the
history. A Markdown viewer renders raw HTML and links, so each of those values goes through
one of these helpers and can form no tag, link, image, heading, list or table cell of its
own. Everything here still reads as the original text in a viewer: the escapes are
CommonMark backslash escapes, which a viewer removes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Characters that mean something anywhere in a line: HTML and entities (< > &), code spans,
# emphasis and strikethrough (* _ ~), links, images and autolinks ([ ] ( ) <), table cells
# (|), ATX headings and their closing run (#), and the backslash itself, so that text
# holding a backslash cannot undo the escapes added here. CommonMark lets any ASCII
# punctuation be backslash-escaped, and the viewer shows the character alone.
_SPECIAL = re.compile(r"([\\`*_\[\]()<>&|~#])")
# Digits followed by "." start an ordered list only at the start of a line (")" is
# escaped everywhere already); CommonMark allows at most nine digits there.
_ORDERED_MARKER = re.compile(r"^[0-9]{1,9}(?=\.)")
_NO_BREAK_SPACE = "\u00a0"
_TAB_WIDTH = 4


def inline(text: object) -> str:
    """One line of literal text, for a heading, list item, table cell or sentence.

    Every run of whitespace, line breaks included, becomes one space: a line break would
    let the rest of the value start a heading, list or table row of its own.
    """
    line = _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    # "-", "+" and "=" mean something only at the start of a line (a list item, a
    # thematic break, a setext underline), as does an ordered-list number. A value can
    # land at the start of a line, so its first character is escaped whatever follows.
    if line[:1] in ("-", "+", "="):
        return "\\" + line
    return _ORDERED_MARKER.sub(lambda m: m.group(0) + "\\", line)


def text_block(text: str) -> str:
    """Multi-line text as literal paragraphs that keep its line structure.

    Lines end in a hard line break (a backslash before the newline), blank lines part
    paragraphs, and leading indentation becomes no-break spaces: four plain spaces would
    turn the line into an indented code block, where the escapes would show as text.
    Returns "" for text that is only whitespace.
    """
    paragraphs: list[list[str]] = []
    lines: list[str] = []
    for raw in str(text).splitlines():
        if not raw.strip():
            if lines:
                paragraphs.append(lines)
                lines = []
            continue
        indent = raw[: len(raw) - len(raw.lstrip(" \t"))].expandtabs(_TAB_WIDTH)
        lines.append(_NO_BREAK_SPACE * len(indent) + inline(raw))
    if lines:
        paragraphs.append(lines)
    return "\n\n".join("\\\n".join(paragraph) for paragraph in paragraphs)


def code_span(text: object) -> str:
    """An inline code span, for values best shown exactly in monospace (hashes, paths).

    Nothing inside a code span is Markdown or HTML. The delimiter is one backtick longer
    than any backtick run inside, so the text cannot close the span early, and line breaks
    become spaces for the same reason as in inline(). Not for table cells: see table().
    """
    value = " ".join(str(text).split())
    if not value:
        return ""
    ticks = "`" * (_longest_backtick_run(value) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{ticks}{pad}{value}{pad}{ticks}"


def fenced(text: str, info: str) -> str:
    """A fenced code block that the text cannot close: its fence is longer than any
    backtick run inside (a closing fence must be at least as long as the opening one)."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose cells are Quorum's own words or made by inline(), which leaves no
    line break and no unescaped pipe. GitHub-style tables split a row at every pipe before
    they look for code spans, so a code span in a cell would need its pipes escaped, and
    a viewer without tables would then show those backslashes."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
