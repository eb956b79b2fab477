"""Finish reasons are stored in the history and printed by the CLI: their text is fixed."""

from __future__ import annotations

import json

from app.core.inference.engine import FinishReason


def test_finish_reason_values_are_the_stored_text() -> None:
    assert [str(r) for r in FinishReason] == [
        "stop", "length", "context_full", "prompt_too_long", "cancelled", "error",
    ]  # fmt: skip
    assert json.dumps({"finish_reason": FinishReason.CONTEXT_FULL}) == (
        '{"finish_reason": "context_full"}'
    )
    assert FinishReason("stop") is FinishReason.STOP and FinishReason.STOP == "stop"
