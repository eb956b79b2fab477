"""The settings panel: thinking toggle wiring, model defaults, overrides, reset, seed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from app.core.inference.cpu_probe import REPACK, ProbeVerdict
from app.core.inference.requests import ModelDescription
from app.core.inference.sampling import RuntimeParams, SamplingParams, default_sampling
from app.core.models.gguf import read_gguf_info
from app.ui.settings.panel import SettingsPanel

pytestmark = pytest.mark.gui


def model_like(path: Path, architecture: str, supports_thinking: bool) -> ModelDescription:
    """The test file's real metadata, presented as another family's model."""
    info = replace(read_gguf_info(path), architecture=architecture)

    def defaults(thinking: bool) -> SamplingParams:
        return default_sampling(architecture, info.chat_template, {}, thinking)

    return ModelDescription(
        path=path, info=info, supports_thinking=supports_thinking, n_ctx=4096,
        runtime=RuntimeParams(), defaults_thinking=defaults(True), defaults_plain=defaults(False),
        llama_config=ProbeVerdict(REPACK, "forced"),
    )  # fmt: skip


@pytest.fixture
def panel(qtbot: QtBot) -> SettingsPanel:
    widget = SettingsPanel()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_thinking_toggle_follows_the_model(panel: SettingsPanel, test_model_path: Path) -> None:
    panel.show_model(model_like(test_model_path, "qwen3", supports_thinking=True))
    assert panel.thinking_box.isEnabled()
    panel.thinking_box.setChecked(False)
    assert panel.thinking() is False
    panel.show_model(model_like(test_model_path, "llama", supports_thinking=False))
    assert not panel.thinking_box.isEnabled()
    assert "no thinking switch" in panel.thinking_box.toolTip()
    assert panel.thinking() is True  # a model without a switch does what it always does


def test_thinking_switch_changes_the_defaults_shown(
    panel: SettingsPanel, test_model_path: Path, qtbot: QtBot
) -> None:
    panel.show_model(model_like(test_model_path, "qwen3", supports_thinking=True))
    panel.thinking_box.setChecked(True)
    assert panel.sampling().temperature == pytest.approx(0.6)  # Qwen3, thinking
    assert panel.sampling().top_p == pytest.approx(0.95)
    assert panel.default_labels["temperature"].text() == "default 0.6"
    box = panel.thinking_box
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    assert not panel.thinking_box.isChecked()
    assert panel.sampling().temperature == pytest.approx(0.7)  # Qwen3, no thinking
    assert panel.sampling().top_p == pytest.approx(0.8)


def test_user_edits_survive_a_model_change_and_reset_clears_them(
    panel: SettingsPanel, test_model_path: Path
) -> None:
    panel.show_model(model_like(test_model_path, "llama", supports_thinking=False))
    panel.spins["top_k"].setValue(5)
    panel.show_model(model_like(test_model_path, "qwen3", supports_thinking=True))
    assert panel.sampling().top_k == 5  # the user's choice
    assert panel.sampling().temperature == pytest.approx(0.6)  # the new model's default
    panel.threads_spin.setValue(1)
    panel.reset_button.click()
    assert panel.sampling().top_k == 20
    assert panel.runtime().n_threads == RuntimeParams().n_threads


def test_seed_blank_means_random_and_typed_seed_is_used(panel: SettingsPanel) -> None:
    assert panel.sampling().seed is None
    panel.seed_edit.setText("12345")
    assert panel.sampling().seed == 12345
    panel.seed_edit.setText("9999999999")  # beyond 2^32
    with pytest.raises(ValueError, match="seed"):
        panel.sampling()


def test_every_engine_parameter_is_editable(panel: SettingsPanel) -> None:
    sampling_names = {f for f in SamplingParams.__dataclass_fields__ if f != "seed"}
    assert set(panel.spins) == sampling_names
    panel.context_spin.setValue(2048)
    panel.threads_spin.setValue(3)
    panel.gpu_spin.setValue(-1)
    assert panel.gpu_spin.text() == "all"
    assert panel.runtime() == replace(RuntimeParams(), n_ctx=2048, n_threads=3, n_gpu_layers=-1)


def test_state_round_trip(panel: SettingsPanel, qtbot: QtBot) -> None:
    panel.spins["temperature"].setValue(1.1)
    qtbot.keyClicks(panel.seed_edit, "77")
    panel.context_spin.setValue(8192)
    state = panel.state()
    other = SettingsPanel()
    qtbot.addWidget(other)
    other.restore(state)
    assert other.sampling() == panel.sampling()
    assert other.runtime() == panel.runtime()
    other.restore({"overrides": {"bogus": 1}, "runtime": {"nonsense": 2}})  # another version
    assert other.sampling() == SamplingParams()


def test_reset_restores_the_thinking_toggle(panel: SettingsPanel, test_model_path: Path) -> None:
    panel.show_model(model_like(test_model_path, "qwen3", supports_thinking=True))
    panel.thinking_box.setChecked(False)
    assert panel.sampling().temperature == pytest.approx(0.7)  # the non-thinking default
    panel.reset_button.click()
    assert panel.thinking_box.isChecked() and panel.thinking() is True
    assert panel.sampling().temperature == pytest.approx(0.6)  # thinking defaults again


def test_max_tokens_beyond_the_context_warns(panel: SettingsPanel) -> None:
    panel.context_spin.setValue(4096)
    panel.spins["max_tokens"].setValue(2048)
    assert panel.context_warning.isHidden()
    panel.spins["max_tokens"].setValue(8192)
    assert not panel.context_warning.isHidden()
    assert panel.context_warning.text().startswith(
        "Max tokens (8,192) is more than the context size (4,096)"
    )
    panel.context_spin.setValue(16384)  # a larger context answers it too
    assert panel.context_warning.isHidden()
