"""Token figures in the history: the blob round trip (float16 rounding bounded), the size
budget and what is kept past it, the schema migration of an older file, and the JSON export."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.core.history import database, token_blob
from app.core.history.export import export_json
from app.core.history.records import RunRecord, SampleRecord
from app.core.history.store import HistoryStore
from app.core.inference.token_stats import TokenStats


def made_up(n: int, seed: int = 0) -> TokenStats:
    """Figures with the shapes a run gives, drawn at random (no model needed here)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 49152, size=n).tolist()
    tops = [rng.integers(0, 49152, size=5).tolist() for _ in range(n)]
    stats = TokenStats(
        token_ids=ids,
        channels=["trace" if i < n // 2 else "answer" for i in range(n)],
        ends=list(range(1, n + 1)),
        logprob=(-rng.exponential(2.0, size=n)).tolist(),
        entropy_bits=rng.uniform(0, 12, size=n).tolist(),
        top_ids=tops,
        top_logprobs=[
            sorted((-rng.exponential(3.0, size=5)).tolist(), reverse=True) for _ in range(n)
        ],
        sampled_logprob=[None if i % 7 == 3 else -float(i % 5) / 3 for i in range(n)],
        sampled_entropy_bits=rng.uniform(0, 4, size=n).tolist(),
        texts={t: f"tok{t}" for t in {*ids, *(t for row in tops for t in row)}},
        forced=[2, 3],
    )
    return stats


def test_round_trip_keeps_everything_within_float16_rounding() -> None:
    stats = made_up(300)
    back = TokenStats.from_blob(stats.to_blob(1))
    assert back is not None and back.stored == token_blob.FULL and back.stored_note is None
    assert back.token_ids == stats.token_ids and back.channels == stats.channels
    assert back.ends == stats.ends and back.top_ids == stats.top_ids
    assert back.texts == stats.texts and back.forced == [2, 3] and back.basis == stats.basis
    # float16: 11 significant bits, so within 2^-11 of the value, relatively.
    for got, want in [(back.logprob, stats.logprob), (back.entropy_bits, stats.entropy_bits),
                      (back.sampled_entropy_bits, stats.sampled_entropy_bits)]:  # fmt: skip
        assert got == pytest.approx(want, rel=2**-11, abs=1e-7)
    for got_row, want_row in zip(back.top_logprobs, stats.top_logprobs, strict=True):
        assert got_row == pytest.approx(want_row, rel=2**-11, abs=1e-7)
    assert [v is None for v in back.sampled_logprob] == [v is None for v in stats.sampled_logprob]
    # The export and the CLI read it as they read fresh figures.
    assert len(back.to_json()["top"]) == 300


def test_the_budget_holds_and_past_it_the_lean_figures_are_kept_and_said() -> None:
    stats = made_up(2000)
    full = stats.to_blob(1)
    texts = len(json.dumps({str(k): v for k, v in stats.texts.items()}).encode())
    raw = 47 * 2000 + texts  # the stated bytes per token, and each distinct text once
    assert len(full) < raw
    assert token_blob.sample_budget(512) * 512 <= token_blob.RUN_BUDGET_BYTES
    # A share too small for everything: logprob, entropy, channel and text end remain.
    lean_blob = token_blob.encode(stats.columns(), len(full) - 1)
    assert len(lean_blob) <= len(full) - 1
    lean = TokenStats.from_blob(lean_blob)
    assert lean is not None and lean.stored == token_blob.NO_ALTERNATIVES
    assert lean.stored_note is not None and "alternatives" in lean.stored_note
    assert lean.token_ids == stats.token_ids and lean.ends == stats.ends
    assert lean.logprob == pytest.approx(stats.logprob, rel=2**-11, abs=1e-7)
    assert lean.top_ids == [[]] * 2000 and set(lean.texts) == set(stats.token_ids)
    # Smaller still: nothing but a note with the sizes.
    dropped = token_blob.encode(stats.columns(), 100)
    # The note and the basis text alone: a few hundred bytes, against a 64 KiB share at least.
    assert len(dropped) <= 512 < token_blob.sample_budget(512)
    assert TokenStats.from_blob(dropped) is None
    note = token_blob.decode(dropped)["note"]
    assert token_blob.decode(dropped)["stored"] == token_blob.DROPPED and "100-byte" in note


def test_a_damaged_blob_reads_as_no_figures_not_a_crash() -> None:
    blob = made_up(10).to_blob(1)
    assert TokenStats.from_blob(blob[:20]) is None
    assert TokenStats.from_blob(b"nonsense") is None
    with pytest.raises(token_blob.TokenBlobError, match="damaged"):
        token_blob.decode(blob[:20])


def _run(samples: list[SampleRecord]) -> RunRecord:
    return RunRecord(id=None, conversation_id=None, turn=0, created_at=1.7e9, question="2+2?",
                     model_name="m", model_path="/m.gguf", model_sha256=None,
                     params={"seed": 1}, samples=samples, status="done")  # fmt: skip


def _sample(index: int, blob: bytes | None) -> SampleRecord:
    return SampleRecord(index, 7 + index, "think", "4", "4", "last_number", 10, 0.5, "stop",
                        token_stats=blob)  # fmt: skip


def test_an_older_history_opens_and_then_keeps_token_figures(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    conn = sqlite3.connect(path)  # a file as schema v1 left it, with one run in it
    database.MIGRATIONS[0](conn)
    conn.execute("INSERT INTO conversations VALUES (1, 1.7e9)")
    conn.execute(
        "INSERT INTO runs VALUES (1, 1, 0, 1.7e9, 'old?', 'm', '/m.gguf', NULL, '{}', NULL,"
        " 'done', NULL, 1.0, NULL, 1, '4')"
    )
    conn.execute(
        "INSERT INTO samples VALUES (1, 0, 5, 'think', '4', '4', 'last_number', 3, 1.0,"
        " 'stop', NULL)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    blob = made_up(50).to_blob(2)
    with HistoryStore(path) as store:
        old = store.get_run(1)
        assert old.question == "old?" and old.samples[0].answer == "4"
        assert old.samples[0].token_stats is None  # written before there were any
        run = _run([_sample(0, blob), _sample(1, None)])
        store.finish_run(run)
        again = store.get_run(run.id or 0)
    assert again.samples[0].token_stats == blob and again.samples[1].token_stats is None
    assert TokenStats.from_blob(again.samples[0].token_stats) is not None
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(database.MIGRATIONS)
    conn.close()


def test_the_json_export_carries_the_decoded_figures() -> None:
    stats = made_up(20)
    run = _run([_sample(0, stats.to_blob(1)), _sample(1, None), _sample(2, b"QTS\x01bad")])
    data = json.loads(export_json(run))
    first = data["samples"][0]["token_stats"]
    assert first["stored"] == "full" and first["token_ids"] == stats.token_ids
    assert first["texts"][str(stats.token_ids[0])] == stats.texts[stats.token_ids[0]]
    assert len(first["logprob"]) == 20 and all(math.isfinite(v) for v in first["logprob"])
    assert data["samples"][1]["token_stats"] is None
    assert data["samples"][2]["token_stats"]["stored"] == "unreadable"
