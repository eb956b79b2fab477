"""The confidence shading: one hue whose strength grows as the model's probability for a
token falls, so that it reads by lightness alone (colour-blind readers lose nothing) and
in either theme.

Six steps, not a continuous ramp, so that the legend can name each one. The strongest
step is as strong as the theme allows while the text on it keeps a WCAG contrast of at
least 4.5:1 (computed, not assumed: a dark theme's light text allows less shading than a
light theme's dark text); the steps below it are even fractions of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor

HUE = QColor("#e69f00")  # Okabe–Ito orange: distinct from the selection blue
# Lower bounds of the steps, most likely first: p >= 0.9 is left unshaded.
BOUNDS = (0.9, 0.7, 0.5, 0.3, 0.1, 0.0)
LABELS = ("≥ 90%", "70–90%", "50–70%", "30–50%", "10–30%", "< 10%")
MIN_CONTRAST = 4.5
MAX_STRENGTH = 0.9  # even where contrast would allow a solid hue, keep the paper's tint


def luminance(colour: QColor) -> float:
    """WCAG relative luminance."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return (0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF())
            + 0.0722 * linear(colour.blueF()))  # fmt: skip


def contrast(first: QColor, second: QColor) -> float:
    """WCAG contrast ratio, 1 to 21."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mix(base: QColor, strength: float) -> QColor:
    """``base`` moved ``strength`` (0 to 1) of the way to the hue."""
    return QColor.fromRgbF(*(b + (h - b) * strength for b, h in zip(
        (base.redF(), base.greenF(), base.blueF()), (HUE.redF(), HUE.greenF(), HUE.blueF()),
        strict=True)))  # fmt: skip


@dataclass(frozen=True)
class ConfidenceScale:
    """The six backgrounds for a theme's base and text colours."""

    base: QColor
    text: QColor
    strongest: float  # the top step's strength, the most that keeps MIN_CONTRAST

    @classmethod
    def for_theme(cls, base: QColor, text: QColor) -> ConfidenceScale:
        strongest = 0.0
        for hundredth in range(int(MAX_STRENGTH * 100), 0, -1):
            if contrast(text, mix(base, hundredth / 100)) >= MIN_CONTRAST:
                strongest = hundredth / 100
                break
        return cls(base, text, strongest)

    def step(self, probability: float) -> int:
        """0 (p >= 90%, unshaded) to 5 (p < 10%)."""
        for index, bound in enumerate(BOUNDS):
            if probability >= bound:
                return index
        return len(BOUNDS) - 1

    def background(self, probability: float) -> QColor | None:
        """The shading for a token of this probability; None: unshaded."""
        step = self.step(probability)
        return None if step == 0 else self.step_colour(step)

    def step_colour(self, step: int) -> QColor:
        return mix(self.base, self.strongest * step / (len(BOUNDS) - 1))
