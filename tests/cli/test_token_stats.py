"""``quorum solve --json`` gives each token's confidence (token_stats), and leaves it out
with --no-token-stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_solve import quorum

pytestmark = pytest.mark.model


def test_json_has_token_stats_of_the_shape_documented(test_model_path: Path) -> None:
    args = ["solve", "Say hello.", "-m", str(test_model_path), "--json", "--seed", "2",
            "--max-tokens", "10", "--no-history"]  # fmt: skip
    out = quorum(*args)
    assert out.returncode == 0, out.stderr
    (sample,) = json.loads(out.stdout)["samples"]
    stats = sample["token_stats"]
    n = sample["tokens"]
    for key in ("tokens", "channel", "logprob", "entropy_bits", "top", "sampled_logprob",
                "sampled_entropy_bits"):  # fmt: skip
        assert len(stats[key]) == n, key
    assert "before the sampler chain" in stats["basis"]
    assert "".join(stats["tokens"]).strip() == sample["answer"].strip()
    assert set(stats["channel"]) <= {"trace", "answer"}
    for lp, entropy, top in zip(stats["logprob"], stats["entropy_bits"], stats["top"], strict=True):
        assert lp <= 0 and entropy >= 0 and 1 <= len(top) <= 5
        assert all(isinstance(t, str) and v <= 0 for t, v in top)
        assert top[0][1] >= lp - 1e-4  # the best alternative is at least as likely
    without = json.loads(quorum(*args, "--no-token-stats").stdout)["samples"][0]
    assert "token_stats" not in without and without["answer"] == sample["answer"]


def test_consensus_json_has_token_stats_per_sample(test_model_path: Path) -> None:
    args = ["solve", "Say hello.", "-m", str(test_model_path), "--json", "--seed", "2",
            "--max-tokens", "6", "--no-history", "-n", "2"]  # fmt: skip
    out = quorum(*args)
    assert out.returncode == 0, out.stderr
    samples = json.loads(out.stdout)["samples"]
    assert len(samples) == 2
    for sample in samples:
        stats = sample["token_stats"]
        assert len(stats["logprob"]) == len(stats["top"]) == sample["tokens"]
        assert "".join(stats["tokens"]).strip() == (sample["trace"] + sample["answer"]).strip()
    without = json.loads(quorum(*args, "--no-token-stats").stdout)["samples"]
    assert all("token_stats" not in s for s in without)
