"""A safe text browser that shows Markdown and takes it streamed, at a cost per update
that does not grow with the text already shown.

`MarkdownStream` says which source text settled and which is the tail; this view
renders only those and edits the end of its document in place: the previous tail's
HTML is removed and the settled and new tail HTML inserted. Qt lays out only the
blocks that changed, so an update costs the same at the 50th paragraph as at the 1st.

One Qt detail makes that work: `QTextCursor.insertHtml` merges the first block of the
inserted HTML into the block at the cursor, and that block keeps its own format (a
paragraph appended after a heading would become part of the heading). Each insertion
therefore starts with a zero-width space, which is what gets merged into the previous
block, so every block of the new HTML arrives as a block of its own, with its own
format; the zero-width space is deleted straight after.
"""

from __future__ import annotations

import re

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QWidget

from app.ui.widgets.markdown_stream import MarkdownStream, StreamUpdate
from app.ui.widgets.paced_text import PacedText
from app.ui.widgets.render import SafeTextBrowser, markdown_to_html

# A link reference definition may be used above it: only a whole render resolves that.
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:", re.MULTILINE)
_JOINER = "\u200b"  # zero-width space: merged into the previous block, then deleted
_FOLLOW_SLACK_PX = 4


class MarkdownView(SafeTextBrowser):
    """A SafeTextBrowser showing Markdown, whole (show_markdown) or streamed
    (append_markdown at once, stream_markdown at a pace: app.ui.widgets.paced_text),
    following the stream while the reader is at the bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stream = MarkdownStream()
        self._tail_start = 0  # document position where the tail's HTML begins
        self._highlight: tuple[int, int] | None = None
        self.last_update: StreamUpdate | None = None  # what the latest append rendered
        self._paced = PacedText(self, lambda delta: self.append_markdown(delta))

    def markdown(self) -> str:
        """The Markdown as written: what is shown, and streamed text still to render."""
        return self._stream.text + self._paced.pending

    def stream_markdown(self, delta: str) -> None:
        """Add streamed text, rendered at a pace (and only once shown, if hidden)."""
        self._paced.add(delta)

    def highlight(self) -> tuple[int, int] | None:
        return self._highlight

    def show_markdown(self, text: str, highlight: tuple[int, int] | None = None) -> None:
        """Show ``text`` whole (``highlight``: a span of it to mark as the final answer)."""
        self._paced.discard()
        with self._following():
            self.setHtml(markdown_to_html(text, highlight).rstrip() if text else "")
        self._stream.reset(text)
        self._tail_start = self._end()
        self._highlight = highlight

    def append_markdown(self, delta: str) -> StreamUpdate:
        """Add streamed text; only the settled blocks and the tail are rendered."""
        update = self._stream.append(delta)
        self._highlight = None
        with self._following():
            cursor = QTextCursor(self.document())
            self._remove_tail(cursor)
            if update.settled:
                self._insert(cursor, markdown_to_html(update.settled))
                self._tail_start = cursor.position()
            if update.tail:
                self._insert(cursor, markdown_to_html(update.tail))
        self.last_update = update
        return update

    def finish_markdown(self, text: str, highlight: tuple[int, int] | None = None) -> None:
        """The stream ended as ``text``: mark ``highlight`` and settle, re-rendering only
        the tail when the text is what streamed and the highlight lies in the tail (a
        final answer usually closes the answer); otherwise render it whole."""
        self._paced.flush()
        settled = self._stream.settled_chars
        in_tail = highlight is None or highlight[0] >= settled
        if text != self._stream.text or not in_tail or _REFERENCE.search(text):
            self.show_markdown(text, highlight)
            return
        if highlight is not None:
            tail_highlight = (highlight[0] - settled, highlight[1] - settled)
            with self._following():
                cursor = QTextCursor(self.document())
                self._remove_tail(cursor)
                self._insert(cursor, markdown_to_html(text[settled:], tail_highlight))
        self._highlight = highlight

    def rerender(self) -> None:
        """Render everything again (after a style change, or to settle a stream)."""
        self._paced.flush()
        self.show_markdown(self._stream.text, self._highlight)

    def _remove_tail(self, cursor: QTextCursor) -> None:
        cursor.setPosition(self._tail_start)
        # Removing across block ends gives the block at the cursor the format of the last
        # block removed (a paragraph would turn into the tail's code block): put it back.
        block_format, char_format = cursor.blockFormat(), cursor.blockCharFormat()
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setBlockFormat(block_format)
        cursor.setBlockCharFormat(char_format)

    def _insert(self, cursor: QTextCursor, html: str) -> None:
        html = html.rstrip()  # a trailing newline would become a space in the last block
        if cursor.position() == 0 and self.document().isEmpty():
            self.setHtml(html)  # nothing above to merge into
            cursor.movePosition(QTextCursor.MoveOperation.End)
            return
        start = cursor.position()
        cursor.insertHtml(_JOINER + html)
        joiner = QTextCursor(self.document())
        joiner.setPosition(start)
        joiner.setPosition(start + 1, QTextCursor.MoveMode.KeepAnchor)
        if joiner.selectedText() == _JOINER:
            joiner.removeSelectedText()

    def _end(self) -> int:
        return max(0, self.document().characterCount() - 1)

    def _following(self) -> _FollowBottom:
        return _FollowBottom(self)


class _FollowBottom:
    """Keeps the view at the bottom across an edit when it was there before, else where
    it was: a reader scrolled up to read stays put while the text grows below."""

    def __init__(self, view: MarkdownView) -> None:
        self._bar = view.verticalScrollBar()

    def __enter__(self) -> None:
        self._position = self._bar.value()
        self._at_bottom = self._position >= self._bar.maximum() - _FOLLOW_SLACK_PX

    def __exit__(self, *_exc: object) -> None:
        self._bar.setValue(self._bar.maximum() if self._at_bottom else self._position)
