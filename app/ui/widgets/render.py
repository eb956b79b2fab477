"""Model output to safe HTML, and the text browser that shows it.

Model output is untrusted. markdown-it runs with raw HTML disabled, so ``<script>`` or
``<img>`` written by a model is escaped text, never markup. Markdown images become plain
links (a picture would be fetched from wherever the model pointed), the browser refuses
to load any resource at all, and a link opens only when clicked, in the system browser,
and only for http, https and mailto.

Maths (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``, a bare ``\\boxed{}``) is found
by the rules in `app.ui.widgets.markdown_rules` and shown through `app.core.latex`. The
extracted final answer is highlighted by putting two private-use characters around its
span in the source text, rendering, then turning them into a styled span: the span
survives markdown and maths conversion because those only copy characters they do not
recognise.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QTextBrowser, QWidget

from app.core.latex import latex_to_html
from app.ui.widgets.markdown_rules import build_markdown

log = logging.getLogger(__name__)

MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
_MARK_ENCODED = ("%EE%80%80", "%EE%80%81")  # the same characters, percent-encoded in a URL
OPENABLE_SCHEMES = frozenset({"http", "https", "mailto"})


def _render_math(
    self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    token = tokens[idx]
    body = f'<span class="math">{latex_to_html(token.content)}</span>'
    if token.type == "math_display":  # on a line of its own unless it starts or ends a block
        before = "<br/>" if idx > 0 else ""
        after = "<br/>" if idx < len(tokens) - 1 else ""
        return f"{before}{body}{after}"
    return body


def _render_math_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, _options: OptionsDict, _env: EnvType
) -> str:
    return f'<p align="center"><span class="math">{latex_to_html(tokens[idx].content)}</span></p>\n'


def _render_image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    # Never an <img>: showing it would fetch whatever the model pointed at.
    token = tokens[idx]
    alt = html.escape(self.renderInlineAsText(token.children or [], options, env) or "image")
    src = str(token.attrGet("src") or "")
    if src.split(":", 1)[0].lower() in ("http", "https"):
        return f'<a href="{html.escape(src)}">[image: {alt}]</a>'
    return f"[image: {alt}]"


def _build_markdown() -> MarkdownIt:
    md = build_markdown()
    md.add_render_rule("math_block", _render_math_block)
    md.add_render_rule("math_inline", _render_math)
    md.add_render_rule("math_display", _render_math)
    md.add_render_rule("image", _render_image)
    return md


_MD = _build_markdown()


def markdown_to_html(text: str, highlight: tuple[int, int] | None = None) -> str:
    """Safe HTML for ``text``; ``highlight`` is a (start, end) span to mark as the answer."""
    clean = text.replace(MARK_OPEN, "").replace(MARK_CLOSE, "")
    if highlight is not None and clean == text:  # offsets are only valid on the original
        start, end = highlight
        if 0 <= start < end <= len(clean):
            clean = clean[:start] + MARK_OPEN + clean[start:end] + MARK_CLOSE + clean[end:]
    rendered = _MD.render(clean)
    for encoded in _MARK_ENCODED:
        rendered = rendered.replace(encoded, "")
    rendered = rendered.replace(MARK_OPEN, '<span class="final-answer">')
    rendered = rendered.replace(MARK_CLOSE, "</span>")
    # Qt's rich text draws cell borders from the table attributes, not from CSS.
    return rendered.replace("<table>", '<table border="1" cellspacing="0" cellpadding="4">')


def document_css(dark: bool) -> str:
    """The default style sheet for rendered answers, matched to a light or dark palette."""
    mark_bg, mark_fg = ("#6b5a00", "#fff8d0") if dark else ("#fff0a0", "#000000")
    code_bg = "#2b2f36" if dark else "#f0f1f3"
    math_fg = "#c9d7ff" if dark else "#1a3a8a"
    return (
        f".final-answer {{ background-color: {mark_bg}; color: {mark_fg}; font-weight: bold; }}"
        f" .boxed {{ background-color: {mark_bg}; color: {mark_fg}; }}"
        f" .math {{ font-family: serif; color: {math_fg}; }}"
        f" code {{ font-family: monospace; background-color: {code_bg}; }}"
        f" pre {{ font-family: monospace; background-color: {code_bg}; }}"
    )


class SafeTextBrowser(QTextBrowser):
    """A read-only rich-text view that loads nothing and opens links only on request.

    Signals:
        link_refused(QUrl): a link whose scheme Quorum does not open was clicked.
    """

    link_refused = Signal(QUrl)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)  # never navigate inside the view
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_anchor_clicked)

    def loadResource(self, kind: int, url: QUrl | str) -> Any:
        # Rendered HTML embeds no resources of ours, so any request comes from content.
        log.debug("refused to load resource %s", url)
        return None

    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme().lower() in OPENABLE_SCHEMES:
            QDesktopServices.openUrl(url)
        else:
            log.info("refused to open link %s", url.toString())
            self.link_refused.emit(url)
