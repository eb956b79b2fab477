"""History store: round trips, search, conversations, crash safety, bad files, exports."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.history import database, describe
from app.core.history.database import (
    MIGRATIONS,
    CorruptHistoryError,
    HistoryError,
    NewerSchemaError,
    RunNotFoundError,
    quarantine,
)
from app.core.history.export import export_json, export_markdown
from app.core.history.records import RunRecord, SampleRecord
from app.core.history.store import INTERRUPTED_MESSAGE, HistoryStore
from app.core.paths import data_dir
from tests.markdown_check import render, visible

REPO = Path(__file__).resolve().parents[3]


def sample(index: int, answer: str = "The answer is 4.", **changes: Any) -> SampleRecord:
    fields: dict[str, Any] = {
        "index": index,
        "seed": 1000 + index,
        "trace": f"Let me think, step {index}.",
        "answer": answer,
        "extracted": "4",
        "extracted_rule": "boxed",
        "tokens": 40 + index,
        "seconds": 0.25 * (index + 1),
        "finish_reason": "stop",
        "group": "4",
    }
    fields.update(changes)
    return SampleRecord(**fields)


def new_run(question: str = "What is 2+2?", **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "id": None,
        "conversation_id": None,
        "turn": 0,
        "created_at": 1_790_000_000.123456,
        "question": question,
        "model_name": "Qwen3-0.6B Q8_0",
        "model_path": "/models/Qwen3-0.6B-Q8_0.gguf",
        "model_sha256": "ab" * 32,
        "params": {"seed": 42, "temperature": 0.6, "top_p": 0.95, "n": 1},
    }
    fields.update(changes)
    return RunRecord(**fields)


def finish(store: HistoryStore, run: RunRecord, samples: list[SampleRecord]) -> RunRecord:
    run.samples = samples
    run.status = "done"
    run.seconds = 3.5
    run.time_to_first_token = 0.4
    store.finish_run(run)
    return run


def save(
    store: HistoryStore, question: str = "What is 2+2?", n: int = 1, **changes: Any
) -> RunRecord:
    run = new_run(question, **changes)
    store.begin_run(run)
    return finish(store, run, [sample(i) for i in range(n)])


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Any:
    with HistoryStore(db_path) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_default_location_wal_and_schema_version() -> None:
    with HistoryStore() as store:
        assert store.path == data_dir() / "history.sqlite3"
        save(store)
    conn = raw(data_dir() / "history.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()


def test_round_trip_unicode_and_long_trace(db_path: Path) -> None:
    line = "∑ 数学 🤔 עברית \u202e reversed \x00 nul, tab\t and `code` \\ backslash 'q' \"dq\"\n"
    trace = line * 30_000  # about 2.4 MB
    run = new_run(
        "Combien font 2+2 ? 🙂\nSecond line, ß and İ",
        params={
            "seed": 2**32 - 1,
            "temperature": 0.6,
            "stop": ["</think>", "<|im_end|>"],
            "nested": {"a": [1, 2.5, None, True], "ünïcode": "✓"},
        },
        model_sha256=None,
    )
    with HistoryStore(db_path) as store:
        store.begin_run(run)
        finish(store, run, [sample(0, answer="**4** — quatre 🎉", trace=trace, group=None)])
    with HistoryStore(db_path) as reopened:
        back = reopened.get_run(run.id or 0)
    assert back == run
    assert back.trace == trace and back.answer == "**4** — quatre 🎉"
    assert back.params["seed"] == 2**32 - 1


def test_round_trip_consensus_run(store: HistoryStore) -> None:
    samples = [
        sample(i, answer=f"Answer {i}: {'4' if i % 3 else '5'}", seed=7 * i + 3, tokens=100 + i)
        for i in range(16)
    ]
    samples[2] = dataclasses.replace(samples[2], extracted=None, extracted_rule=None, group=None)
    samples[5] = dataclasses.replace(samples[5], finish_reason="length", group="5")
    consensus = {"majority": "4", "share": 0.625, "wilson": [0.38, 0.82], "groups": {"4": 10}}
    run = new_run("Pick a number", params={"seed": 3, "n": 16, "temperature": 0.7})
    store.begin_run(run)
    run.consensus = consensus
    finish(store, run, samples)
    back = store.get_run(run.id or 0)
    assert back == run
    assert [s.seed for s in back.samples] == [7 * i + 3 for i in range(16)]
    assert back.consensus == consensus


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    question=st.text(),
    trace=st.text(),
    answer=st.text(),
    extracted=st.none() | st.text(),
    seed=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    seconds=st.floats(allow_nan=False),
    param=st.text(),
)
def test_round_trip_any_text(
    question: str,
    trace: str,
    answer: str,
    extracted: str | None,
    seed: int,
    seconds: float,
    param: str,
) -> None:
    path = data_dir() / "hypothesis.sqlite3"  # one file for every example: ids just grow
    run = new_run(question, params={param: [param, seconds]})
    with HistoryStore(path) as store:
        store.begin_run(run)
        run.samples = [sample(0, trace=trace, answer=answer, extracted=extracted, seed=seed)]
        run.status, run.seconds = "cancelled", seconds
        store.finish_run(run)
        assert store.get_run(run.id or 0) == run


def test_finish_run_without_begin_inserts_in_one_go(store: HistoryStore) -> None:
    run = new_run()
    run.status = "error"
    run.error = "Model failed to load"
    store.finish_run(run)
    assert run.id is not None and run.conversation_id is not None and run.turn == 0
    assert store.get_run(run.id) == run


def test_conversation_turns_in_order(store: HistoryStore) -> None:
    first = save(store, "What is 2+2?")
    other = save(store, "Unrelated question")
    second = save(store, "And times 3?", conversation_id=first.conversation_id)
    third = save(store, "And minus 1?", conversation_id=first.conversation_id)
    assert first.conversation_id != other.conversation_id
    turns = store.conversation(first.conversation_id or 0)
    assert [r.id for r in turns] == [first.id, second.id, third.id]
    assert [r.turn for r in turns] == [0, 1, 2]
    assert turns == [first, second, third]
    # A deleted turn leaves a gap; a later follow-up never reuses a turn index.
    store.delete_run(second.id or 0)
    fourth = save(store, "And plus 5?", conversation_id=first.conversation_id)
    assert [r.turn for r in store.conversation(first.conversation_id or 0)] == [0, 2, 3]
    assert fourth.turn == 3
    assert store.conversation(987654) == []
    with pytest.raises(RunNotFoundError, match="no conversation 987654"):
        store.begin_run(new_run(conversation_id=987654))


def test_list_runs_newest_first_with_summaries(store: HistoryStore) -> None:
    old = save(store, "First question\nwith details", created_at=100.0)
    mid = new_run("Second question", created_at=200.0)
    store.begin_run(mid)
    consensus = new_run("  \n Vote question", created_at=300.0, params={"seed": 1, "n": 5})
    store.begin_run(consensus)
    votes = [sample(i, extracted=x, group=x) for i, x in enumerate(["7", "9", "9", "7", "9"])]
    finish(store, consensus, votes)
    rows = store.list_runs()
    assert [r.id for r in rows] == [consensus.id, mid.id, old.id]
    top, running, first = rows
    assert (top.question, top.n_samples, top.answer, top.status) == (
        "Vote question",
        5,
        "9",
        "done",
    )
    assert (running.status, running.n_samples, running.answer) == ("running", 0, "")
    assert (first.question, first.answer, first.model_name) == (
        "First question",
        "4",
        old.model_name,
    )
    assert first.created_at == 100.0 and first.conversation_id == old.conversation_id
    assert [r.id for r in store.list_runs(limit=2)] == [consensus.id, mid.id]


@pytest.fixture(params=["fts5", "scan"])
def search_store(
    request: pytest.FixtureRequest, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    if request.param == "scan":  # as on a Python whose SQLite lacks FTS5
        monkeypatch.setattr("app.core.history.store.has_fts5_trigram", lambda conn: False)
    with HistoryStore(db_path) as opened:
        conn = raw(db_path)
        has_index = conn.execute("SELECT 1 FROM sqlite_master WHERE name='runs_fts'").fetchone()
        conn.close()
        assert bool(has_index) == (request.param == "fts5")
        yield opened


def ids(rows: list[Any]) -> set[int]:
    return {row.id for row in rows}


def test_search_question_and_answer(search_store: HistoryStore) -> None:
    store = search_store
    primes = new_run("Is 91 a prime number?")
    store.begin_run(primes)
    finish(store, primes, [sample(0, answer="No: 91 = 7 × 13, so it is composite.")])
    city = new_run("Where is the ETH?")
    store.begin_run(city)
    finish(store, city, [sample(0, answer="In Zürich, 100% sure (a_b)", trace="secret-trace-word")])
    pending = new_run("Unfinished quokka question")
    store.begin_run(pending)

    assert ids(store.list_runs("prime")) == {primes.id}
    assert ids(store.list_runs("PRIME NUMBER")) == {primes.id}  # case, and every term
    assert ids(store.list_runs("composite")) == {primes.id}  # answer only
    assert ids(store.list_runs("ZÜRICH")) == {city.id}  # non-ASCII case folding
    assert ids(store.list_runs("prime zürich")) == set()
    assert ids(store.list_runs("7 ×")) == {primes.id}  # short terms
    assert ids(store.list_runs("100%")) == {city.id}
    assert ids(store.list_runs("a_b")) == {city.id}
    assert ids(store.list_runs("%")) == {city.id}  # a wildcard only in LIKE, literal here
    assert ids(store.list_runs("_")) == {city.id}
    assert ids(store.list_runs('"ETH')) == set()
    assert ids(store.list_runs("quokka")) == {pending.id}  # question of a running run
    assert ids(store.list_runs("secret-trace-word")) == {city.id}  # reasoning is searched
    assert ids(store.list_runs("SECRET-trace")) == {city.id}
    assert ids(store.list_runs("   ")) == {primes.id, city.id, pending.id}
    store.delete_run(primes.id or 0)
    assert store.list_runs("composite") == []


def test_an_index_made_before_reasoning_was_searched_is_rebuilt(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        run = save(store, "Old question")
    conn = raw(db_path)  # as an older Quorum left it: answers only, marked current
    with conn:
        conn.execute("UPDATE meta SET value = 'current' WHERE key = 'search_index'")
        conn.execute("UPDATE runs_fts SET answers = 'The answer is 4.'")
    conn.close()
    with HistoryStore(db_path) as store:
        assert ids(store.list_runs("step 0")) == {run.id}


def test_rows_say_consensus_size_and_agreement(store: HistoryStore) -> None:
    done = new_run("Consensus", params={"seed": 1, "samples": 4})
    store.begin_run(done)
    done.consensus = {"answer_agreement": 0.75, "answered": 4, "agreement": 0.75}
    finish(store, done, [sample(i) for i in range(4)])
    cut = new_run("Cut short", params={"seed": 2, "samples": 8})
    store.begin_run(cut)
    store.add_sample(cut.id or 0, sample(0))
    single = save(store, "Single")
    rows = {r.id: r for r in store.list_runs()}
    assert describe.consensus_summary(rows[done.id or 0]) == (
        "consensus of 4, agreement 75% of 4 answered"
    )
    assert describe.consensus_summary(rows[cut.id or 0]) == "consensus of 8 (1 saved)"
    assert describe.consensus_summary(rows[single.id or 0]) == ""
    assert (rows[done.id or 0].requested, rows[single.id or 0].requested) == (4, None)


def test_search_index_rebuilt_after_a_session_without_fts5(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HistoryStore(db_path) as store:
        save(store, "Indexed question")
    with monkeypatch.context() as patch:
        patch.setattr("app.core.history.store.has_fts5_trigram", lambda conn: False)
        with HistoryStore(db_path) as store:
            zebra = new_run("Name an animal")
            store.begin_run(zebra)
            finish(store, zebra, [sample(0, answer="A zebra")])
    with HistoryStore(db_path) as store:
        assert ids(store.list_runs("zebra")) == {zebra.id}
        assert len(store.list_runs("indexed question")) == 1


def test_delete_run(store: HistoryStore, db_path: Path) -> None:
    keep = save(store, "Keep me", n=3)
    gone = save(store, "Delete me", n=4)
    store.delete_run(gone.id or 0)
    store.delete_run(gone.id or 0)  # already gone: not an error
    with pytest.raises(RunNotFoundError, match=f"no run {gone.id}"):
        store.get_run(gone.id or 0)
    assert ids(store.list_runs()) == {keep.id}
    assert store.get_run(keep.id or 0) == keep
    conn = raw(db_path)
    try:
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 3
        assert conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1
    finally:
        conn.close()
    with pytest.raises(RunNotFoundError):  # its conversation went with its only run
        store.begin_run(new_run(conversation_id=gone.conversation_id))


def test_second_store_keeps_a_live_run_and_marks_a_dead_one_interrupted(db_path: Path) -> None:
    first = HistoryStore(db_path)
    try:
        done = save(first, "Finished before the crash", n=2)
        unfinished = new_run("In progress when the app died")
        first.begin_run(unfinished)
        with HistoryStore(db_path) as second:  # e.g. the CLI beside a window that runs
            assert second.get_run(done.id or 0) == done
            assert second.get_run(unfinished.id or 0).status == "running"
            with pytest.raises(HistoryError, match="still going in another Quorum"):
                second.resume_run(unfinished.id or 0)
    finally:
        first.close()  # its process lock goes, as it would if the process died
    with HistoryStore(db_path) as third:
        stale = third.get_run(unfinished.id or 0)
        assert stale.status == "interrupted"
        assert stale.error == INTERRUPTED_MESSAGE
        assert stale.samples == []
        assert {(r.id, r.status) for r in third.list_runs()} == {
            (done.id, "done"),
            (unfinished.id, "interrupted"),
        }
        resumed = third.resume_run(unfinished.id or 0)
        assert (resumed.status, resumed.error) == ("running", None)
        finish(third, resumed, [sample(0)])
        assert third.get_run(unfinished.id or 0) == resumed


_KILLED_CHILD = """
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from app.core.history.store import HistoryStore, RunRecord, SampleRecord
store = HistoryStore(Path(sys.argv[2]))
run = RunRecord(None, None, 0, 1.0, "consensus", "m", "/m.gguf", None, {"seed": 1, "samples": 8})
store.begin_run(run)
for i in (0, 2, 1):
    store.add_sample(run.id, SampleRecord(i, 100 + i, "trace", f"a{i}", "4", "boxed", 5, 0.5,
                                          "stop", "4"))
print(run.id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_mid_consensus_keeps_every_finished_sample(db_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(REPO), str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    run_id = int(child.stdout.split()[0])
    with HistoryStore(db_path) as store:
        run = store.get_run(run_id)
        assert (run.status, run.error) == ("interrupted", INTERRUPTED_MESSAGE)
        assert [(s.index, s.seed, s.answer) for s in run.samples] == [
            (0, 100, "a0"), (1, 101, "a1"), (2, 102, "a2")
        ]  # fmt: skip
        assert store.list_runs()[0].n_samples == 3
        with pytest.raises(RunNotFoundError):
            store.add_sample(run_id + 1, run.samples[0])


_CRASHING_CHILD = """
import os, sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from app.core.history.store import HistoryStore, RunRecord, SampleRecord
store = HistoryStore(Path(sys.argv[2]))
for n in range(3):
    run = RunRecord(None, None, 0, 1.0 + n, f"done {n}", "m", "/m.gguf", None, {"seed": n})
    store.begin_run(run)
    trace = "t" * 100_000
    run.samples = [SampleRecord(0, 500 + n, trace, f"answer {n}", None, None, 9, 1.0, "stop")]
    run.status = "done"
    store.finish_run(run)
store.begin_run(RunRecord(None, None, 0, 9.0, "in progress", "m", "/m.gguf", None, {"seed": 9}))
os._exit(1)  # no close, no checkpoint: as if the power went
"""


def test_process_killed_mid_run_loses_only_that_run(db_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_CHILD, str(REPO), str(db_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 1, child.stderr
    with HistoryStore(db_path) as store:
        rows = store.list_runs()
        assert [(r.question, r.status) for r in rows] == [
            ("in progress", "interrupted"),
            ("done 2", "done"),
            ("done 1", "done"),
            ("done 0", "done"),
        ]
        for row in rows[1:]:
            run = store.get_run(row.id)
            n = int(row.question.split()[1])
            assert run.samples[0].seed == 500 + n and run.samples[0].trace == "t" * 100_000
            assert run.params == {"seed": n}


@pytest.mark.parametrize(
    "content",
    [
        os.urandom(8192),
        b"This is my shopping list, not a database.\n" * 50,
        b"SQLite format 3\x00" + b"\xff" * 4000,
    ],
    ids=["random", "text", "bad-header"],
)
def test_unreadable_file_is_reported_and_quarantined(db_path: Path, content: bytes) -> None:
    db_path.write_bytes(content)
    with pytest.raises(CorruptHistoryError) as caught:
        HistoryStore(db_path)
    assert str(db_path) in str(caught.value)
    assert caught.value.path == db_path
    assert db_path.read_bytes() == content  # never touched
    moved = quarantine(db_path)
    assert moved.name.startswith("history.sqlite3.corrupt-")
    assert moved.read_bytes() == content and not db_path.exists()
    with HistoryStore(db_path) as fresh:
        assert fresh.list_runs() == []
        save(fresh)
    # A second bad file in the same second gets its own name.
    fresh_bytes = db_path.read_bytes()
    moved_again = quarantine(db_path)
    assert moved_again != moved and moved.read_bytes() == content
    assert moved_again.read_bytes() == fresh_bytes


@pytest.mark.parametrize("damage", ["schema-page", "truncated"])
def test_damaged_file_is_reported(db_path: Path, damage: str) -> None:
    with HistoryStore(db_path) as store:
        for n in range(20):
            save(store, f"question {n}", n=3)
    data = bytearray(db_path.read_bytes())
    if damage == "schema-page":
        data[100:4096] = b"\xa5" * (4096 - 100)  # page 1, after the 100-byte file header
    else:
        del data[len(data) // 2 :]
    db_path.write_bytes(bytes(data))
    with (
        pytest.raises(CorruptHistoryError, match="damaged or not a database") as caught,
        HistoryStore(db_path) as store,
    ):
        store.list_runs()
        store.get_run(20)
    assert str(db_path) in str(caught.value)
    assert quarantine(db_path).read_bytes() == bytes(data)


def test_quarantine_moves_wal_with_the_database(db_path: Path) -> None:
    store = HistoryStore(db_path)
    save(store)
    wal = Path(f"{db_path}-wal")
    assert wal.exists()
    store.close()
    wal.write_bytes(b"stale wal")  # as if left behind by a crash
    moved = quarantine(db_path)
    assert Path(f"{moved}-wal").read_bytes() == b"stale wal"
    assert not wal.exists()
    with pytest.raises(HistoryError, match="no file to move aside"):
        quarantine(db_path)


def test_other_sqlite_database_is_refused(db_path: Path) -> None:
    conn = raw(db_path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()
    with pytest.raises(CorruptHistoryError, match="not Quorum's history"):
        HistoryStore(db_path)
    conn = raw(db_path)
    assert conn.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    conn.close()


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        save(store)
    conn = raw(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(NewerSchemaError) as caught:
        HistoryStore(db_path)
    message = str(caught.value)
    assert str(db_path) in message and "newer Quorum" in message
    assert f"v{len(MIGRATIONS) + 1}" in message
    assert db_path.read_bytes() == before


def test_migrations_run_in_order_and_keep_data(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HistoryStore(db_path) as store:
        kept = save(store, "Saved by schema v1", n=2)

    applied: list[int] = []
    shipped = len(MIGRATIONS)

    def add_notes(conn: sqlite3.Connection) -> None:  # what a real next one could look like
        applied.append(shipped + 1)
        conn.execute("ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")

    def add_index(conn: sqlite3.Connection) -> None:
        applied.append(shipped + 2)
        conn.execute("CREATE INDEX runs_by_model ON runs (model_name)")

    monkeypatch.setattr(database, "MIGRATIONS", [*MIGRATIONS, add_notes, add_index])
    with HistoryStore(db_path) as store:
        assert store.get_run(kept.id or 0) == kept
        save(store, "Saved by schema v3")
    with HistoryStore(db_path):
        pass  # already current: nothing runs twice
    assert applied == [shipped + 1, shipped + 2]
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == shipped + 2
        assert conn.execute("SELECT note FROM runs ORDER BY id").fetchall() == [("migrated",)] * 2
    finally:
        conn.close()


def test_bad_records_are_refused_without_writing(store: HistoryStore) -> None:
    run = new_run()
    store.begin_run(run)
    for samples, message in [
        ([sample(0), sample(0)], "two samples have index 0"),
        ([sample(0, seed=2**64)], "seed must be a 64-bit int"),
        ([sample(0, tokens=1.5)], "tokens must be a 64-bit int"),
    ]:
        run.samples, run.status = samples, "done"
        with pytest.raises(ValueError, match=message):
            store.finish_run(run)
    run.samples = []
    run.status = "running"
    with pytest.raises(ValueError, match="finish_run needs a status"):
        store.finish_run(run)
    run.status, run.params = "done", {"seed": {1, 2}}
    with pytest.raises(ValueError, match="params must be JSON"):
        store.finish_run(run)
    assert store.get_run(run.id or 0).status == "running"
    with pytest.raises(ValueError, match="params must be JSON"):
        store.begin_run(new_run(params={"path": Path("/x")}))
    assert len(store.list_runs()) == 1


def test_finishing_a_deleted_run_fails_clearly(store: HistoryStore) -> None:
    run = new_run()
    store.begin_run(run)
    store.delete_run(run.id or 0)
    run.status = "done"
    with pytest.raises(RunNotFoundError, match=f"run {run.id} no longer exists"):
        store.finish_run(run)
    assert store.list_runs() == []


def test_closed_store_says_so(db_path: Path) -> None:
    store = HistoryStore(db_path)
    store.close()
    store.close()
    with pytest.raises(HistoryError, match="closed"):
        store.list_runs()


def test_unopenable_location_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    with pytest.raises(HistoryError) as caught:
        HistoryStore(folder)
    assert str(folder) in str(caught.value)


def consensus_run(store: HistoryStore) -> RunRecord:
    run = new_run("Solve x² = 4\nShow the steps.", params={"seed": 11, "n": 3, "temperature": 0.6})
    store.begin_run(run)
    run.consensus = {"majority": "2", "share": 2 / 3, "entropy_bits": float("nan")}
    trace = "First ```python\nprint(1)\n``` then ````more```` ticks"
    samples = [
        sample(0, seed=901, answer="x = 2 | x = -2", extracted="±2", trace=trace, group="2"),
        sample(1, seed=902, answer="x = 2", extracted="2", group="2"),
        sample(
            2, seed=903, answer="I am unsure", extracted=None, group=None, finish_reason="length"
        ),
    ]
    return finish(store, run, samples)


def test_export_json_holds_every_field(store: HistoryStore) -> None:
    run = consensus_run(store)
    data = json.loads(export_json(run))
    assert data["format"] == "quorum.run" and data["format_version"] == 1
    run_fields = [f.name for f in dataclasses.fields(RunRecord)]
    assert list(data) == ["format", "format_version", "created_at_utc", *run_fields]
    sample_fields = [f.name for f in dataclasses.fields(SampleRecord)]
    assert sample_fields[0] == "index"  # then the number people see, counted from 1
    assert all(list(s) == ["index", "number", *sample_fields[1:]] for s in data["samples"])
    assert [s["seed"] for s in data["samples"]] == [901, 902, 903]
    assert [(s["index"], s["number"]) for s in data["samples"]] == [(0, 1), (1, 2), (2, 3)]
    assert data["params"]["seed"] == 11
    assert data["consensus"]["entropy_bits"] is None  # NaN is not JSON
    # Everything else comes back exactly.
    data["samples"] = [
        SampleRecord(**{k: v for k, v in s.items() if k != "number"}) for s in data["samples"]
    ]
    rebuilt = RunRecord(**{name: data[name] for name in run_fields})
    run.consensus = {**(run.consensus or {}), "entropy_bits": None}
    assert rebuilt == run
    assert export_json(store.get_run(run.id or 0)) == export_json(
        dataclasses.replace(run, consensus={**run.consensus, "entropy_bits": float("nan")})
    )


def test_export_markdown_consensus(store: HistoryStore) -> None:
    run = consensus_run(store)
    text = export_markdown(store.get_run(run.id or 0))
    assert text.startswith(f"# Quorum run {run.id}\n")
    for needle in ["| seed | 11 |", "## Consensus", '"entropy_bits": null', "ab" * 32]:
        assert needle in text
    # Text that is not Quorum's is escaped for Markdown; a viewer shows it as written.
    assert "Solve x² = 4\\\nShow the steps." in text  # a hard line break keeps the line
    assert "x = 2 \\| x = -2" in text
    shown = render(text, "lax-gfm")
    for value in ("Solve x² = 4\nShow the steps.", run.model_name, run.model_path,
                  "x = 2 | x = -2"):  # fmt: skip
        assert visible(value, shown), value
    for seed in (901, 902, 903):
        assert f"### Sample {seed - 900} (seed {seed})" in text  # numbered from 1
        assert f"| {seed - 900} | {seed} |" in text
    assert "### Sample 0" not in text
    assert "| 3 | 903 | — | — |" in text  # no extracted answer, no group
    assert "samples are indices from 0" in text  # the saved figures' member lists
    # The trace holds runs of 3 and 4 backticks, so it is fenced with 5.
    assert "`````text\nFirst ```python\nprint(1)\n``` then ````more```` ticks\n`````" in text
    assert "**Extracted answer (boxed):** `±2`" in text


def test_export_markdown_single_and_empty_runs(store: HistoryStore) -> None:
    run = save(store, "Why is the sky blue?")
    text = export_markdown(run)
    assert "## Answer\n\nThe answer is 4." in text
    assert "## Reasoning\n\n```text\nLet me think, step 0.\n```" in text
    assert "seed 1000" in text and "- **Status:** done" in text
    assert "first token after 0.40 s" in text
    interrupted = new_run("Lost question")
    with HistoryStore(store.path) as crashed:
        crashed.begin_run(interrupted)
    with HistoryStore(store.path) as other:
        lost = other.get_run(interrupted.id or 0)
    text = export_markdown(lost)
    assert "No answer was recorded" in text
    assert f"- **Status:** interrupted: {INTERRUPTED_MESSAGE}" in text


def _join_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def _writer(store: HistoryStore, prefix: str, count: int, errors: list[BaseException]) -> None:
    try:
        for n in range(count):
            run = new_run(f"{prefix} {n}", params={"seed": n})
            store.begin_run(run)
            finish(store, run, [sample(i, seed=n * 10 + i) for i in range(3)])
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def test_two_threads_share_one_store(store: HistoryStore) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for row in store.list_runs("thread"):
                    run = store.get_run(row.id)
                    assert run.status == "running" or len(run.samples) == 3
        except BaseException as exc:
            errors.append(exc)

    reading = threading.Thread(target=reader)
    reading.start()
    try:
        _join_all(
            [
                threading.Thread(target=_writer, args=(store, f"thread {t}", 25, errors))
                for t in "ab"
            ]
        )
    finally:
        stop.set()
        reading.join(timeout=60)
    assert not reading.is_alive() and errors == []
    rows = store.list_runs(limit=1000)
    assert len(rows) == 50 and {r.status for r in rows} == {"done"}
    assert {r.n_samples for r in rows} == {3}


def test_two_stores_on_one_file_write_concurrently(db_path: Path) -> None:
    errors: list[BaseException] = []
    with HistoryStore(db_path) as first, HistoryStore(db_path) as second:
        _join_all(
            [
                threading.Thread(target=_writer, args=(first, "first", 20, errors)),
                threading.Thread(target=_writer, args=(second, "second", 20, errors)),
            ]
        )
        assert errors == []
        assert len(first.list_runs("first")) == 20
        assert len(second.list_runs("second")) == 20
        conn = raw(db_path)
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 120
        conn.close()


def test_round_trip_timing_is_fast_enough(store: HistoryStore) -> None:
    """512 consensus samples with 4 kB traces: the sidebar must stay instant."""
    run = new_run("Big consensus", params={"seed": 1, "n": 512})
    store.begin_run(run)
    finish(store, run, [sample(i, trace="x" * 4000) for i in range(512)])
    started = time.perf_counter()
    assert store.get_run(run.id or 0) == run
    rows = store.list_runs("consensus")
    assert time.perf_counter() - started < 2.0
    assert rows[0].n_samples == 512 and rows[0].answer == "4"
