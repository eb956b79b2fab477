"""StepStats, the vectorised figures of a whole decode step, against a plain reference that
sorts every row in full: many rows (more than one chunk), a vocabulary that is not a whole
number of groups, top-k below 5, top-k off, and the largest logits crowded into one group."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.inference.sampling import SamplingParams
from app.core.inference.token_stats import StepStats


def _reference(z: np.ndarray, chosen: int, sampling: SamplingParams) -> dict[str, object]:
    z = z.astype(np.float64)
    log_p = z - z.max()
    log_p -= math.log(np.exp(log_p).sum())
    order = np.argsort(-z, kind="stable")
    k = sampling.top_k if 0 < sampling.top_k < len(z) else len(z)
    kept = order[:k]
    p = np.exp(log_p[kept] - log_p[kept].max())
    p /= p.sum()
    keep = k
    if sampling.top_p < 1.0:
        keep = min(keep, int(np.searchsorted(np.cumsum(p), sampling.top_p)) + 1)
    if sampling.min_p > 0.0:
        keep = min(keep, max(1, int((p >= sampling.min_p * p[0]).sum())))
    scaled = z[kept[:keep]] / sampling.temperature
    log_q = scaled - scaled.max()
    log_q -= math.log(np.exp(log_q).sum())
    where = np.nonzero(kept[:keep] == chosen)[0]
    return {
        "logprob": log_p[chosen],
        "entropy": -(np.exp(log_p) * log_p).sum() / math.log(2),
        "top": sorted(log_p[order[:5]].tolist(), reverse=True),
        "top_ids": set(order[:5].tolist()),
        "sampled": float(log_q[where[0]]) if where.size else None,
        "sampled_entropy": -(np.exp(log_q) * log_q).sum() / math.log(2),
    }


@pytest.mark.parametrize(
    "sampling",
    [
        SamplingParams(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05),
        SamplingParams(temperature=1.3, top_k=3, top_p=1.0, min_p=0.0),
        SamplingParams(temperature=0.6, top_k=0, top_p=0.95, min_p=0.0),
    ],
)
def test_every_row_matches_a_full_sort(sampling: SamplingParams) -> None:
    rng = np.random.default_rng(7)
    rows, n_vocab = 37, 1000  # three chunks of rows; 1000 = 15 groups of 64 and a part
    logits = (rng.normal(size=(rows, n_vocab)) * 3).astype(np.float32)
    # Row 0: the 45 largest logits all in one strided group (ids 5, 5 + 16, ...), where a
    # search that kept one candidate per group would miss all but one.
    logits[0, 5::16][:45] += 40.0
    chosen = rng.integers(0, n_vocab, size=rows)
    chosen[1] = int(np.argmax(logits[1]))
    step = StepStats(logits, sampling)
    for i in range(rows):
        got, want = step.row(i, int(chosen[i])), _reference(logits[i], int(chosen[i]), sampling)
        assert got.logprob == pytest.approx(want["logprob"], abs=1e-5)
        assert got.entropy_bits == pytest.approx(want["entropy"], abs=1e-4)
        assert got.top_logprobs == pytest.approx(want["top"], abs=1e-5)
        assert set(got.top_ids) == want["top_ids"]
        assert got.sampled_entropy_bits == pytest.approx(want["sampled_entropy"], abs=1e-4)
        if want["sampled"] is None:
            assert got.sampled_logprob is None
        else:
            assert got.sampled_logprob == pytest.approx(want["sampled"], abs=1e-5)
    assert step.row(1, int(chosen[1])).sampled_logprob is not None  # the best is always kept


def test_a_row_alone_gives_the_same_figures_as_in_a_step() -> None:
    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(20, 4099)) * 2).astype(np.float32)
    sampling = SamplingParams(temperature=0.8, top_k=20, top_p=0.95, min_p=0.0)
    together = StepStats(logits, sampling)
    for i in (0, 15, 16, 19):  # either side of a chunk's edge
        alone = StepStats(logits[i : i + 1], sampling).row(0, 7)
        assert together.row(i, 7) == alone
