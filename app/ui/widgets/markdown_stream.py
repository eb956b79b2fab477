"""Streamed Markdown split into blocks that are settled and the one still being written.

Re-rendering a whole answer on every streamed chunk costs more per chunk the longer the
answer gets. But Markdown is appended to, never edited, and once a later top-level block
(paragraph, list, heading, code block, table, quote, maths block) has begun, the blocks
before it cannot change: a blank line or a new block closed them. So only the text from
the start of the last top-level block onwards (the tail) is re-rendered; everything
before it is rendered once, when it settles, and appended to the view.

The split is made by markdown-it's own block parser, run on the tail alone (the settled
part never needs parsing again), so what counts as a block is exactly what the renderer
thinks. The one thing this cannot see is a link reference definition written after its
use (``[1]`` above, ``[1]: https://…`` below): a finished answer that holds one is
rendered once more as a whole (see MarkdownView.finish_markdown), which puts that right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.ui.widgets.markdown_rules import build_markdown

# markdown-it's own line breaks (its normalize rule reads "\r\n" and "\r" as "\n").
_LINE_BREAK = re.compile(r"\r\n?|\n")
_BLOCK_PARSER = build_markdown().disable("inline")  # block structure only: cheap


@dataclass(frozen=True)
class StreamUpdate:
    """What changed in the view: text that settled since the last update, and the tail."""

    settled: str  # render once and append after the settled part shown so far
    tail: str  # render and put in place of the previous tail

    @property
    def rendered_chars(self) -> int:
        """How much source text this update renders (its cost, whatever came before)."""
        return len(self.settled) + len(self.tail)


class MarkdownStream:
    """Markdown text as it streams, split into a settled part and a tail (see module)."""

    def __init__(self) -> None:
        self.text = ""
        self.settled_chars = 0  # text[:settled_chars] is rendered for good

    def append(self, delta: str) -> StreamUpdate:
        """Take more text; what to render now."""
        self.text += delta
        tail = self.text[self.settled_chars :]
        cut = _last_block_offset(tail)
        self.settled_chars += cut
        return StreamUpdate(settled=tail[:cut], tail=tail[cut:])

    def reset(self, text: str = "") -> None:
        """Start again from ``text``, which the caller has rendered whole."""
        self.text = text
        self.settled_chars = len(text)


def _last_block_offset(text: str) -> int:
    """Where the last top-level block of ``text`` starts (0 when it holds one block)."""
    starts = [
        token.map[0]
        for token in _BLOCK_PARSER.parse(text)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0
    line, offset = starts[-1], 0
    for _ in range(line):
        found = _LINE_BREAK.search(text, offset)
        if found is None:  # cannot happen: the parser counted these lines
            return 0
        offset = found.end()
    return offset
