"""Streamed Markdown: each update renders only the block being written, and the document
it builds is the one a whole render gives."""

from __future__ import annotations

import random

import pytest
from PySide6.QtGui import QTextDocument
from pytestqt.qtbot import QtBot

from app.core.answers.extract import extract_answer
from app.ui.widgets.markdown_stream import MarkdownStream
from app.ui.widgets.markdown_view import MarkdownView
from app.ui.widgets.render import document_css

pytestmark = pytest.mark.gui

# One section of a long answer, every kind of block in it; answers repeat it.
SECTION = """## Lighthouses

A lighthouse is a tower that emits light. Its lamp covers $\\pi r^2$ and 17*23 = 391.

- The Pharos of Alexandria
- Eddystone, rebuilt *four* times
  over a century

1. first
2. second

| Name | Height |
|------|--------|
| Pharos | 100 m |

```python
def beam(x):
    return 2*x  # $x$ stays
```

> A quoted **line**
continued lazily

$$
E = mc^2
$$

---
"""
ENDING = "**Final Answer**\n\\[\n\\boxed{391}\n\\]"


def _stream_into(view: MarkdownView, text: str, seed: int, largest: int = 40) -> list[int]:
    rng, done, costs = random.Random(seed), 0, []
    while done < len(text):
        size = rng.randint(1, largest)
        costs.append(view.append_markdown(text[done : done + size]).rendered_chars)
        done += size
    return costs


def _blocks(document: QTextDocument) -> list[tuple[object, ...]]:
    """Each block's text and the formats a reader sees (margins, list, code, weight)."""
    rows: list[tuple[object, ...]] = []
    block = document.begin()
    while block.isValid():
        fmt, listed = block.blockFormat(), block.textList()
        runs, pieces = [], block.begin()
        while not pieces.atEnd():
            piece = pieces.fragment()
            fmt_ = piece.charFormat()
            runs.append((piece.text().rstrip(), fmt_.fontWeight(), fmt_.fontItalic()))
            pieces += 1
        rows.append((block.text().rstrip(), fmt.topMargin(), fmt.bottomMargin(),
                     fmt.leftMargin(), int(fmt.alignment().value), fmt.nonBreakableLines(),
                     listed.format().style() if listed else None,
                     fmt.background().color().name(), [r for r in runs if r[0]]))  # fmt: skip
        block = block.next()
    return rows


def _view(qtbot: QtBot) -> MarkdownView:
    view = MarkdownView()
    view.document().setDefaultStyleSheet(document_css(dark=False))
    qtbot.addWidget(view)
    return view


def test_work_per_update_does_not_grow_with_the_text_shown(qtbot: QtBot) -> None:
    short_costs = _stream_into(_view(qtbot), SECTION * 2 + ENDING, seed=3)
    long_costs = _stream_into(_view(qtbot), SECTION * 40 + ENDING, seed=3)
    # Forty times the text, and no update renders more than the short answer's worst:
    # the largest block (the code fence, ~70 characters) plus a chunk.
    assert sum(len(part) for part in (SECTION * 40, ENDING)) > 20 * max(long_costs)
    assert max(long_costs) <= max(short_costs) + 40
    late = long_costs[-len(short_costs) :]
    assert sum(late) / len(late) <= 1.5 * sum(short_costs) / len(short_costs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_streamed_document_is_the_whole_render(qtbot: QtBot, seed: int) -> None:
    text = SECTION * 3 + ENDING
    streamed, whole = _view(qtbot), _view(qtbot)
    _stream_into(streamed, text, seed)
    whole.show_markdown(text)
    assert streamed.markdown() == text
    assert _blocks(streamed.document()) == _blocks(whole.document())
    assert streamed.toPlainText().rstrip() == whole.toPlainText().rstrip()
    assert "\u200b" not in streamed.toPlainText()  # the joiners are all gone
    streamed.finish_markdown(text, None)
    assert streamed.toHtml() == whole.toHtml()  # reopening the run shows the same document


def test_settled_text_ends_where_a_block_ends() -> None:
    stream = MarkdownStream()
    assert stream.append("First paragraph,\nstill the first").settled == ""
    update = stream.append(".\n\n# A heading\n\nSecond")
    assert update.settled == "First paragraph,\nstill the first.\n\n# A heading\n\n"
    assert update.tail == "Second"
    # An unclosed code fence is one block however long: nothing in it settles early.
    update = stream.append(" paragraph.\n\n```\ncode\n\n\nmore code")
    assert update.tail == "```\ncode\n\n\nmore code"
    settled = "First paragraph,\nstill the first.\n\n# A heading\n\nSecond paragraph.\n\n"
    assert stream.text == settled + update.tail
    assert stream.settled_chars == len(settled)


def test_finishing_marks_the_final_answer_in_the_tail_only(qtbot: QtBot) -> None:
    view = _view(qtbot)
    text = SECTION * 10 + ENDING
    _stream_into(view, text, seed=5)
    whole_renders: list[str] = []
    original = view.show_markdown

    def counting_show(text: str, highlight: tuple[int, int] | None = None) -> None:
        whole_renders.append(text)
        original(text, highlight)

    view.show_markdown = counting_show  # type: ignore[method-assign]
    extracted = extract_answer(text)
    assert extracted is not None and extracted.text == "391"
    view.finish_markdown(text, extracted.span)
    assert whole_renders == []  # the final answer sits in the last block
    document = view.document()
    marked = document.find("391", document.lastBlock().position()).charFormat()
    assert marked.fontWeight() == 700 and marked.background().color().name() == "#fff0a0"
    assert document.find("391").charFormat().background().color().name() != "#fff0a0"
    assert "\u200b" not in view.toPlainText()
    # A different text (a reopened run) is rendered whole.
    view.finish_markdown("Another **answer**.", None)
    assert whole_renders == ["Another **answer**."]


def test_reference_links_defined_below_are_resolved_when_finished(qtbot: QtBot) -> None:
    view = _view(qtbot)
    text = "See [the source][1].\n\nMore text.\n\n[1]: https://example.org/a\n"
    _stream_into(view, text, seed=1, largest=5)
    view.finish_markdown(text, None)
    assert 'href="https://example.org/a"' in view.toHtml()


def test_a_reader_scrolled_up_stays_put_while_text_streams(qtbot: QtBot) -> None:
    view = _view(qtbot)
    view.resize(400, 200)
    view.show()
    _stream_into(view, SECTION * 4, seed=2)
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()  # followed the stream
    bar.setValue(bar.maximum() // 3)
    kept = bar.value()
    _stream_into(view, SECTION * 2, seed=4)
    assert bar.value() == kept
