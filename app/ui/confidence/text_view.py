"""Text shaded by token confidence, with its alternatives on hover or click, and a thin
strip beside it marking where the model hesitated most.

`ConfidencePane` is a read-only plain-text view plus its strip. It is handed one
channel's text and the sample's TokenStats; the stats say where each token's text lies
in that channel (TokenStats.spans, in Python characters, turned into the document's
UTF-16 positions here). Shading is a background (and the theme's text colour) merged
into the document's character formats in one edit block; turning it off resets them, so
the text reads as before. A mark's height on the strip is where its token lies in the
text, by characters.
"""

from __future__ import annotations

from bisect import bisect_right

from PySide6.QtCore import QEvent, QPoint, QRect, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QToolTip, QWidget

from app.core.confidence.spots import (
    ChannelTokens,
    channel_tokens,
    describe_token,
    probability,
    uncertain_spots,
)
from app.core.inference.token_stats import TokenStats
from app.ui.confidence.scale import ConfidenceScale
from app.ui.widgets.plain_text import literal_rich_text

STRIP_WIDTH = 10
_CLICK_SLACK_PX = 6


def utf16_positions(text: str) -> list[int]:
    """For each character offset (and the end), its position in UTF-16 code units, which
    is what a QTextDocument counts."""
    out, at = [0], 0
    for char in text:
        at += 2 if ord(char) > 0xFFFF else 1
        out.append(at)
    return out


class ConfidenceText(QPlainTextEdit):
    """Read-only text that can shade its tokens and describe the one under the mouse.

    Signals:
        token_clicked(int): a token was clicked; the payload is its index in the stats.
    """

    token_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.document().setUndoRedoEnabled(False)  # shading is not an edit to undo
        self.stats: TokenStats | None = None
        self.tokens = ChannelTokens([], [], [])
        self.spots: list[int] = []
        self.shading = False
        self._positions: list[int] = [0]

    def set_tokens(self, text: str, stats: TokenStats | None, channel: str) -> None:
        """Show ``text`` (the channel's text) with ``stats`` (None: none to shade)."""
        if self.toPlainText() != text:
            self.setPlainText(text)
        self._positions = utf16_positions(text)
        tokens = channel_tokens(stats, channel) if stats is not None else None
        if tokens is None or (tokens.ends and tokens.ends[-1] > len(text)):
            stats, tokens = None, ChannelTokens([], [], [])  # the text is not what they cover
        self.stats, self.tokens = stats, tokens
        self.spots = uncertain_spots(stats, channel) if stats is not None else []
        self._apply()

    def set_shading(self, on: bool) -> None:
        self.shading = on
        self._apply()

    def token_span(self, index: int) -> tuple[int, int]:
        """The document positions [start, end) of token ``index``'s text."""
        at = self.tokens.indices.index(index)
        return self._positions[self.tokens.starts[at]], self._positions[self.tokens.ends[at]]

    def token_at_position(self, position: int) -> int | None:
        """The token whose text holds the character at document ``position``."""
        offset = _offset_of(self._positions, position)
        return self.tokens.token_at(offset) if self.stats is not None else None

    def shaded(self) -> list[tuple[int, int, QColor]]:
        """The shaded ranges now shown, in document positions: (start, end, background),
        adjacent tokens of the same shade as one range."""
        out: list[tuple[int, int, QColor]] = []
        block = self.document().begin()
        while block.isValid():
            for fmt_range in block.textFormats():
                if fmt_range.format.hasProperty(QTextFormat.Property.BackgroundBrush):
                    start = block.position() + fmt_range.start
                    colour = fmt_range.format.background().color()
                    if out and out[-1][1] == start and out[-1][2] == colour:
                        out[-1] = (out[-1][0], start + fmt_range.length, colour)
                    else:
                        out.append((start, start + fmt_range.length, colour))
            block = block.next()
        return out

    def select_token(self, index: int) -> None:
        """Select token ``index``'s text, scroll to it and show its alternatives."""
        start, end = self.token_span(index)
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)
        self.ensureCursorVisible()
        self.show_token_tip(index, self.viewport().mapToGlobal(self.cursorRect().bottomLeft()))

    def show_token_tip(self, index: int, where: QPoint) -> None:
        if self.stats is not None:
            QToolTip.showText(where, literal_rich_text(describe_token(self.stats, index)), self)

    def viewportEvent(self, event: QEvent) -> bool:
        # Tooltips go to the viewport: its coordinates are the ones cursorForPosition reads.
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self._token_under(event.pos())
            if index is None or not self.shading:
                QToolTip.hideText()
            else:
                self.show_token_tip(index, event.globalPos())
            return True
        return super().viewportEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if not self.shading or self.textCursor().hasSelection():
            return  # the reader is selecting text, not asking about a token
        index = self._token_under(event.position().toPoint())
        if index is not None:
            self.show_token_tip(index, event.globalPosition().toPoint())
            self.token_clicked.emit(index)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply()  # a light/dark switch changes the scale
        super().changeEvent(event)

    def scale(self) -> ConfidenceScale:
        palette = self.palette()
        return ConfidenceScale.for_theme(palette.color(QPalette.ColorRole.Base),
                                         palette.color(QPalette.ColorRole.Text))  # fmt: skip

    def _token_under(self, viewport_point: QPoint) -> int | None:
        return self.token_at_position(self.cursorForPosition(viewport_point).position())

    def _apply(self) -> None:
        # Formats on the document, one edit block: extra selections would be laid out one
        # by one (seconds for a long trace). Runs of same-shade tokens are one range.
        document = self.document()
        cursor = QTextCursor(document)
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.setCharFormat(QTextCharFormat())  # unshaded: the palette's own colours
        if self.shading and self.stats is not None:
            scale = self.scale()
            for start, end, background in self._runs(scale):
                shade = QTextCharFormat()
                shade.setBackground(background)
                shade.setForeground(scale.text)
                cursor.setPosition(self._positions[start])
                cursor.setPosition(self._positions[end], QTextCursor.MoveMode.KeepAnchor)
                cursor.mergeCharFormat(shade)
        cursor.endEditBlock()

    def _runs(self, scale: ConfidenceScale) -> list[tuple[int, int, QColor]]:
        """[start, end) character ranges of one shade each, adjacent same-shade tokens joined."""
        assert self.stats is not None
        runs: list[tuple[int, int, QColor]] = []
        tokens = self.tokens
        for at, index in enumerate(tokens.indices):
            background = scale.background(probability(self.stats, index))
            if background is None:
                continue
            start, end = tokens.starts[at], tokens.ends[at]
            if runs and runs[-1][1] == start and runs[-1][2] == background:
                runs[-1] = (runs[-1][0], end, background)
            else:
                runs.append((start, end, background))
        return runs


def _offset_of(positions: list[int], position: int) -> int:
    """The character offset at a UTF-16 position (positions is increasing)."""
    return max(0, bisect_right(positions, position) - 1)


class HesitationStrip(QWidget):
    """A thin column of marks, one per uncertain spot, at its height in the text.

    Signals:
        spot_clicked(int): a mark was clicked; the payload is the token's index.
    """

    spot_clicked = Signal(int)

    def __init__(self, text: ConfidenceText, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = text
        self.setFixedWidth(STRIP_WIDTH)
        self.setToolTip("Where the model hesitated most (click a mark to go there)")
        self.setAccessibleName("Uncertain spots")

    def marks(self) -> list[tuple[float, int]]:
        """(height as a fraction of the strip, token index) per spot, top to bottom."""
        length = max(1, len(self.text._positions) - 1)
        tokens = self.text.tokens
        return [(tokens.starts[tokens.indices.index(i)] / length, i) for i in self.text.spots]

    def mark_rect(self, fraction: float) -> QRect:
        y = int(fraction * max(1, self.height() - 3))
        return QRect(1, y, self.width() - 2, 3)

    def paintEvent(self, _event: QPaintEvent) -> None:
        if not self.text.shading or self.text.stats is None:
            return
        painter = QPainter(self)
        scale = self.text.scale()
        # The mark is the token's own shade at full strength, outlined in the text colour
        # so that it shows on either theme.
        painter.setPen(scale.text)
        for fraction, index in self.marks():
            shade = scale.step_colour(scale.step(probability(self.text.stats, index)))
            painter.fillRect(self.mark_rect(fraction), shade)
            painter.drawRect(self.mark_rect(fraction).adjusted(0, 0, -1, -1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        y = event.position().y()
        near = [(abs(self.mark_rect(f).center().y() - y), i) for f, i in self.marks()]
        near = [pair for pair in near if pair[0] <= _CLICK_SLACK_PX]
        if near and self.text.shading:
            self.spot_clicked.emit(min(near)[1])


class ConfidencePane(QWidget):
    """A ConfidenceText with its strip on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ConfidenceText()
        self.strip = HesitationStrip(self.text)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.strip)
        self.strip.spot_clicked.connect(self.text.select_token)

    def set_tokens(self, text: str, stats: TokenStats | None, channel: str) -> None:
        self.text.set_tokens(text, stats, channel)
        self.strip.update()

    def set_shading(self, on: bool) -> None:
        self.text.set_shading(on)
        self.strip.setVisible(on and bool(self.text.spots))
        self.strip.update()
