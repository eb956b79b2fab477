"""Model output rendered safely: no markup from the model, no network, readable maths."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QTextDocument
from pytestqt.qtbot import QtBot

from app.core.answers.extract import extract_answer
from app.core.latex import latex_to_html
from app.ui.widgets import render
from app.ui.widgets.render import SafeTextBrowser, markdown_to_html

pytestmark = pytest.mark.gui

HOSTILE = (
    "Here you go <script>alert('x')</script> and <img src=http://evil.example/track.png>\n\n"
    '<a href="javascript:alert(1)">click</a> <iframe src="http://evil.example"></iframe>\n\n'
    "![pixel](http://evil.example/pixel.gif) [js](javascript:alert(1))"
)


def test_raw_html_from_the_model_is_escaped_not_rendered() -> None:
    html = markdown_to_html(HOSTILE)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;img src=http://evil.example/track.png&gt;" in html
    assert "&lt;a href=&quot;javascript:alert(1)&quot;&gt;" in html  # shown, inert
    assert 'href="javascript' not in html
    assert "[js](javascript:alert(1))" in html  # markdown refuses the link, keeps the text


def test_markdown_images_become_links_not_pictures() -> None:
    html = markdown_to_html("![a chart](https://example.org/chart.png)")
    assert "<img" not in html
    assert '<a href="https://example.org/chart.png">[image: a chart]</a>' in html


def test_browser_loads_no_resource_at_all(qtbot: QtBot) -> None:
    browser = SafeTextBrowser()
    qtbot.addWidget(browser)
    kind = int(QTextDocument.ResourceType.ImageResource.value)
    assert browser.loadResource(kind, QUrl("http://evil.example/x.png")) is None
    assert browser.loadResource(kind, QUrl("file:///etc/passwd")) is None
    # Even HTML that slipped an <img> through would draw nothing fetched.
    requested: list[QUrl] = []
    original = browser.loadResource

    def spy(kind: int, url: QUrl) -> object:
        requested.append(url)
        return original(kind, url)

    browser.loadResource = spy  # type: ignore[method-assign]
    browser.setHtml(markdown_to_html(HOSTILE))
    browser.document().adjustSize()
    assert requested == []  # nothing in it even asks for a resource
    assert "alert('x')" in browser.toPlainText()  # shown as text


def test_links_open_only_on_click_and_only_for_web_and_mail(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    browser = SafeTextBrowser()
    qtbot.addWidget(browser)
    browser.setHtml(markdown_to_html("[site](https://example.org) [me](mailto:a@b.c)"))
    assert opened == []  # rendering opens nothing
    assert not browser.openLinks() and not browser.openExternalLinks()
    refused: list[QUrl] = []
    browser.link_refused.connect(refused.append)
    for url in ("https://example.org", "mailto:a@b.c", "file:///etc/passwd", "ftp://x.org/f"):
        browser.anchorClicked.emit(QUrl(url))
    assert opened == ["https://example.org", "mailto:a@b.c"]
    assert [u.toString() for u in refused] == ["file:///etc/passwd", "ftp://x.org/f"]
    assert browser.source().isEmpty()  # the view never navigated


def test_code_is_monospace_and_escaped() -> None:
    html = markdown_to_html("Use `x < y`:\n\n```python\nif a < b:\n    print('<b>')\n```")
    assert "<code>x &lt; y</code>" in html
    assert "<pre><code" in html and "print('&lt;b&gt;')" in html
    assert "font-family: monospace" in render.document_css(dark=False)


def test_tables_render_with_borders() -> None:
    html = markdown_to_html("| a | b |\n|---|---|\n| 1 | 2 |")
    assert '<table border="1"' in html and "<td>2</td>" in html


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"\frac{1}{2}", "1/2"),
        (r"\frac{a+b}{c}", "(a+b)/c"),
        (r"\sqrt{2}", "√2"),
        (r"\sqrt{x+1}", "√(x+1)"),
        (r"x^2", "x<sup>2</sup>"),
        (r"a_{n+1}", "a<sub>n+1</sub>"),
        (r"\alpha \le \beta", "α ≤ β"),
        (r"3 \times 4 \neq 11", "3 × 4 ≠ 11"),
        (r"90^\circ", "90°"),
        (r"\text{area} = \pi r^2", "area = π r<sup>2</sup>"),
        (r"x \in \mathbb{R}", "x ∈ ℝ"),
        (r"\left( \frac{1}{2} \right)", "( 1/2 )"),
    ],
)
def test_latex_becomes_readable(latex: str, expected: str) -> None:
    assert latex_to_html(latex) == expected


def test_latex_never_leaves_backslash_soup_or_markup() -> None:
    out = latex_to_html(r"\frac{\sqrt{b^2-4ac}}{2a} \unknowncommand{x} <b>")
    assert "\\" not in out
    assert "&lt;b&gt;" in out
    deep = latex_to_html("{" * 10_000 + "x")  # hostile nesting must not blow the stack
    assert deep.endswith("x")


def test_maths_delimiters_in_markdown() -> None:
    html = markdown_to_html(r"Area $\pi r^2$, also \(\frac{1}{2}\) and $$\boxed{42}$$")
    assert html.count('class="math"') == 3
    assert "π r<sup>2</sup>" in html and "1/2" in html and "<b>42</b>" in html
    money = markdown_to_html("It costs $5 and $10.")
    assert 'class="math"' not in money and "$5 and $10" in money
    code = markdown_to_html("`$HOME/$USER`")
    assert 'class="math"' not in code


@pytest.mark.parametrize(
    "answer",
    [
        "So the answer is **42**.",
        r"Therefore $\boxed{\frac{3}{4}}$",
        "Steps:\n\n1. add\n2. get 12",
        "Final Answer: 7 apples",
    ],
)
def test_extracted_answer_is_highlighted(answer: str) -> None:
    extracted = extract_answer(answer)
    assert extracted is not None
    html = markdown_to_html(answer, extracted.span)
    assert html.count('<span class="final-answer">') == 1
    inside = html.split('<span class="final-answer">', 1)[1]
    assert inside.index("</span>") >= 0
    assert render.MARK_OPEN not in html and render.MARK_CLOSE not in html


def test_model_cannot_forge_the_highlight_markers() -> None:
    forged = f"{render.MARK_OPEN}fake{render.MARK_CLOSE} answer 5"
    html = markdown_to_html(forged)
    assert "final-answer" not in html
    assert render.MARK_OPEN not in html


def test_highlight_outside_the_text_is_ignored() -> None:
    assert "final-answer" not in markdown_to_html("short", (3, 99))


def test_highlight_and_code_styles_reach_the_browser(qtbot: QtBot) -> None:
    browser = SafeTextBrowser()
    qtbot.addWidget(browser)
    browser.document().setDefaultStyleSheet(render.document_css(dark=False))
    answer = "So the answer is **42**, see `code`."
    extracted = extract_answer(answer)
    assert extracted is not None
    browser.setHtml(markdown_to_html(answer, extracted.span))
    found = browser.document().find("42").charFormat()
    assert found.background().color().name() == "#fff0a0"
    assert "monospace" in browser.document().find("code").charFormat().fontFamilies()
    assert browser.document().find("answer is").charFormat().background().style().name == (
        "NoBrush"
    )
