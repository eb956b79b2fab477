"""Greedy settings with consensus on: the window says before Ask that every sample would
be the same, and offers to run one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from tests.ui.consensus.test_window import (  # noqa: F401 (fixtures)
    bare_window,
    window,
)

pytestmark = [pytest.mark.gui, pytest.mark.model, pytest.mark.usefixtures("no_message_boxes")]


def test_temperature_0_warns_before_ask_and_offers_one_sample(
    window: MainWindow,  # noqa: F811 (the fixture imported above)
    qtbot: QtBot,
) -> None:
    figures = window.consensus_view.figures
    window.question.setPlainText("What is 2 + 2?")
    assert not figures.same_samples_label.isVisible()
    window.settings_panel.spins["temperature"].setValue(0.0)
    assert figures.same_samples_label.isVisible()  # nothing asked yet
    assert "4 samples" in figures.same_samples_label.text()
    assert "If you ask now" in figures.plan_label.text()
    window.settings_panel.spins["temperature"].setValue(0.7)
    assert not figures.same_samples_label.isVisible()
    window.settings_panel.spins["top_k"].setValue(1)  # greedy too
    assert figures.one_sample_button.isVisible()
    qtbot.mouseClick(figures.one_sample_button, Qt.MouseButton.LeftButton)
    assert not window.consensus_options.enabled()  # Ask now runs one sample
