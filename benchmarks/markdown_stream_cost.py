"""GUI-thread cost of one streamed answer update, against the length already shown.

Streams a long Markdown answer (headings, lists, a table, code, maths, as
`benchmarks/ui_latency.py` asks the model for) into the answer view in 120-character
updates (about what 30 ms of a fast small model brings) and prints, at the points where
the answer is as long as 600, 2,000, 4,000 and 8,000 tokens (4 characters a token), the
CPU time of one update: the incremental path the window uses now (`MarkdownView.
append_markdown`: render the settled blocks and the tail only) against a whole
re-render (`setHtml` of everything, what the answer pane did before).

CPU time of the GUI thread (time.thread_time), not wall time, so other work on a busy
machine slows the run but barely moves the figures. No model is needed.

    python benchmarks/markdown_stream_cost.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHARS_PER_TOKEN = 4
UPDATE_CHARS = 120
CHECKPOINTS = (600, 2000, 4000, 8000)  # tokens
SECTION = """## Section {n}

A lighthouse is a tower that emits light: its lamp covers $\\pi r^2$, and 17*23 = 391.

- The Pharos of Alexandria, one of the wonders
- Eddystone, rebuilt *four* times over a century

| Name | Height |
|------|--------|
| Pharos | 100 m |

```python
def beam(x):
    return 2*x
```

$$
E = mc^2
$$

"""


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.ui.widgets.markdown_view import MarkdownView
    from app.ui.widgets.render import document_css, markdown_to_html

    app = QApplication([sys.argv[0]])
    text = ""
    while len(text) < CHECKPOINTS[-1] * CHARS_PER_TOKEN + UPDATE_CHARS:
        text += SECTION.format(n=text.count("## ") + 1)
    view = MarkdownView()
    view.resize(700, 800)
    view.show()
    view.document().setDefaultStyleSheet(document_css(dark=False))
    whole = MarkdownView()
    whole.resize(700, 800)
    whole.show()
    whole.document().setDefaultStyleSheet(document_css(dark=False))
    print(f"{'tokens':>7} {'chars':>7} {'incremental ms':>15} {'whole re-render ms':>19}")
    done, marks = 0, list(CHECKPOINTS)
    recent: list[float] = []
    while marks:
        chunk = text[done : done + UPDATE_CHARS]
        started = time.thread_time()
        view.append_markdown(chunk)
        app.processEvents()  # the layout and paint that follow the edit
        recent = [*recent[-9:], (time.thread_time() - started) * 1000]
        done += len(chunk)
        if done >= marks[0] * CHARS_PER_TOKEN:
            started = time.thread_time()
            whole.setHtml(markdown_to_html(text[:done]))
            app.processEvents()
            full = (time.thread_time() - started) * 1000
            print(f"{marks[0]:>7} {done:>7} {statistics.median(recent):>15.2f} {full:>19.1f}")
            marks.pop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
