"""One colour per answer group, shared by the bar chart, the sample chips and the PNG export.

While a run goes, a group keeps its colour: colours are handed out in the order groups are
first seen, never re-sorted as counts change, so a chip does not change colour when its
group overtakes another. A finished run is coloured by rank (largest group first), the one
order a run reopened from the history can rebuild, so it looks the same live and reopened.
"No answer" is always grey, so it never looks like an answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QColor

from app.core.answers.grouping import NO_ANSWER

NO_ANSWER_COLOUR = "#9a9a9a"
# Ten well-separated, mid-brightness hues that read on light and dark backgrounds alike.
BASE_COLOURS = ("#3b75af", "#e5832d", "#4b9b4f", "#c8443f", "#8661b4",
                "#2aa3a0", "#c4a23a", "#d16ba5", "#7f6447", "#5c8dd6")  # fmt: skip
_GOLDEN_RATIO = 0.618033988749895


class GroupPalette:
    """One colour per answer group, shared by the chart, the chips and the PNG export."""

    def __init__(self) -> None:
        self._assigned: dict[str, QColor] = {}

    def colour(self, label: str) -> QColor:
        """The group's colour, handing out the next one if the group is new."""
        if label == NO_ANSWER:
            return QColor(NO_ANSWER_COLOUR)
        if label not in self._assigned:
            self._assigned[label] = _nth_colour(len(self._assigned))
        return QColor(self._assigned[label])

    def assign(self, labels: Iterable[str]) -> None:
        """Give colours to these groups, in this order, where they have none yet."""
        for label in labels:
            self.colour(label)

    def known(self, label: str) -> bool:
        return label == NO_ANSWER or label in self._assigned

    def clear(self) -> None:
        self._assigned.clear()


def _nth_colour(n: int) -> QColor:
    if n < len(BASE_COLOURS):
        return QColor(BASE_COLOURS[n])
    # Past the base set, step round the hue circle by the golden angle: neighbours stay apart.
    hue = (n - len(BASE_COLOURS)) * _GOLDEN_RATIO % 1.0
    return QColor.fromHsvF(hue, 0.55, 0.8)
