"""What confidence shading costs the window: handing a pane N tokens, turning the shading
on (formats merged in one edit block), and DeepConf's figure for the same sample.

Scripted statistics (tests/confidence_data.py), no model; offscreen Qt.

    QT_QPA_PLATFORM=offscreen python benchmarks/confidence_view.py [--tokens 1000 4000 16000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtWidgets import QApplication

from app.core.confidence.deepconf import sample_confidence
from app.ui.confidence.text_view import ConfidencePane
from tests.confidence_data import scripted_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1000, 4000, 16000])
    args = parser.parse_args()
    app = QApplication([])
    for n in args.tokens:
        # Probabilities spread over every shade, words of a few characters.
        pieces = [("trace", f"w{i % 97} ", (i * 37 % 100) / 100 + 0.005) for i in range(n)]
        stats = scripted_stats(pieces)
        text = "".join(piece for _, piece, _ in pieces)
        pane = ConfidencePane()
        started = time.perf_counter()
        pane.set_tokens(text, stats, "trace")
        handed = time.perf_counter()
        pane.set_shading(True)
        app.processEvents()
        shaded = time.perf_counter()
        sample_confidence(stats)
        scored = time.perf_counter()
        print(f"{n:>6} tokens: set_tokens {1000 * (handed - started):6.0f} ms · "
              f"shading on {1000 * (shaded - handed):6.0f} ms · "
              f"DeepConf {1000 * (scored - shaded):6.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
