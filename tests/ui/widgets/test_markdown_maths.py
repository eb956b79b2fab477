"""Answers as Qwen3 and DeepSeek-R1 write them: the maths shows as maths, the arithmetic
as written, code exactly as it was, and the final answer highlighted where it sits."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextDocument
from pytestqt.qtbot import QtBot

from app.core.answers.extract import extract_answer
from app.ui.widgets.render import SafeTextBrowser, markdown_to_html

pytestmark = pytest.mark.gui

# The shapes below are the ones those models print: DeepSeek-R1 closes with a bold
# "Final Answer" line and a display block, Qwen3 with a sentence ending in \boxed{}.
DEEPSEEK_R1 = (
    "To multiply 17 by 23, split 23 into 20 + 3:\n\n"
    "1. 17*20 = 340\n"
    "2. 17*3 = 51\n"
    "3. 340 + 51 = 391\n\n"
    "So 17*23 = 391 and 3*4 = 12 is not needed here.\n\n"
    "**Final Answer**\n"
    "\\[\n"
    "\\boxed{391}\n"
    "\\]"
)
QWEN3 = (
    "We use the identity \\((a+b)^2 = a^2 + 2ab + b^2\\) with $a = 20$ and $b = 3$:\n\n"
    "$$\n"
    "23^2 = 400 + 120 + 9 = 529\n"
    "$$\n\n"
    "Checking in Python:\n\n"
    "```python\n"
    "x = 23*23  # $x$ stays as written\n"
    'print(f"{x} = 2**2 * ${x}")\n'
    "```\n\n"
    "Therefore, the final answer is \\boxed{529}."
)


def _shown(html: str, qtbot: QtBot) -> str:
    browser = SafeTextBrowser()
    qtbot.addWidget(browser)
    browser.setHtml(html)
    return browser.toPlainText()


def test_deepseek_final_answer_block_is_maths_and_highlighted(qtbot: QtBot) -> None:
    extracted = extract_answer(DEEPSEEK_R1)
    assert extracted is not None and extracted.text == "391"
    html = markdown_to_html(DEEPSEEK_R1, extracted.span)
    assert "<strong>Final Answer</strong>" in html
    # The display block is a centred paragraph of its own, the boxed value marked.
    assert '<p align="center"><span class="math">' in html
    assert '<span class="boxed"><b><span class="final-answer">391</span></b></span>' in html
    shown = _shown(html, qtbot)
    assert "\\boxed" not in shown and "\\[" not in shown and "\\]" not in shown
    assert "391" in shown.splitlines()[-1]


def test_arithmetic_stars_stay_as_written(qtbot: QtBot) -> None:
    html = markdown_to_html(DEEPSEEK_R1)
    assert "<em>" not in html
    shown = _shown(html, qtbot)
    for line in ("17*20 = 340", "17*3 = 51", "So 17*23 = 391 and 3*4 = 12 is not needed here."):
        assert line in shown
    # Emphasis written as emphasis still works.
    assert markdown_to_html("*really* and **bold**") == (
        "<p><em>really</em> and <strong>bold</strong></p>\n"
    )
    assert "(a+b)*(c+d) = x*y" in _shown(markdown_to_html("(a+b)*(c+d) = x*y"), qtbot)


def test_qwen3_inline_display_and_bare_boxed_are_maths(qtbot: QtBot) -> None:
    extracted = extract_answer(QWEN3)
    assert extracted is not None and extracted.text == "529"
    html = markdown_to_html(QWEN3, extracted.span)
    assert "(a+b)<sup>2</sup> = a<sup>2</sup> + 2ab + b<sup>2</sup>" in html
    assert '<span class="math">a = 20</span>' in html
    display = '<p align="center"><span class="math"> 23<sup>2</sup> = 400 + 120 + 9 = 529 </span>'
    assert display in html
    assert '<span class="boxed"><b><span class="final-answer">529</span></b></span>' in html
    shown = _shown(html, qtbot)
    assert "$" not in shown.split("Checking")[0]  # no delimiter left outside the code
    assert "\\(" not in shown and "\\boxed" not in shown


def test_code_blocks_keep_their_text(qtbot: QtBot) -> None:
    html = markdown_to_html(QWEN3)
    shown = _shown(html, qtbot)
    assert "x = 23*23  # $x$ stays as written" in shown
    assert 'print(f"{x} = 2**2 * ${x}")' in shown
    inline = markdown_to_html("Run `echo $HOME * $PATH` and `a*b*c`.")
    assert "<code>echo $HOME * $PATH</code>" in inline and "<code>a*b*c</code>" in inline


def test_display_block_lines_are_not_markdown() -> None:
    aligned = "\\[\n\\begin{aligned}\nx &= 2*3 \\\\\n- y &= 1\n\\end{aligned}\n\\]"
    html = markdown_to_html(aligned)
    assert "<ul>" not in html and "<li>" not in html and "<em>" not in html
    assert "x  = 2*3 <br/> - y  = 1" in html


def test_one_line_display_and_unclosed_blocks() -> None:
    assert markdown_to_html("$$ x = 1 $$") == (
        '<p align="center"><span class="math"> x = 1 </span></p>\n'
    )
    # "$$ a $$ and b" is inline maths inside a paragraph, not a block.
    assert markdown_to_html("$$a$$ and b").startswith('<p><span class="math">a</span>')
    # A block that has not closed yet (the model is still writing it) stays text.
    assert 'class="math"' not in markdown_to_html("\\[\n\\frac{1}{2}")
    assert 'class="math"' not in markdown_to_html("so \\boxed{\\frac{1}{2")


def test_maths_inside_lists_and_quotes() -> None:
    html = markdown_to_html("- first\n  $$\n  x^2\n  $$\n- second\n\n> \\(\\pi\\) is 3.14159")
    assert html.count("<li>") == 2 and "x<sup>2</sup>" in html
    assert '<blockquote>\n<p><span class="math">π</span> is 3.14159</p>' in html


def test_maths_renders_in_a_real_document() -> None:
    document = QTextDocument()
    document.setHtml(markdown_to_html(DEEPSEEK_R1 + "\n\n" + QWEN3))
    text = document.toPlainText()
    assert "391" in text and "529" in text and "(a+b)2 = a2 + 2ab + b2" in text
