"""Run history: every question, its parameters, traces, answers and timings, in SQLite.

A run is recorded as 'running' when generation starts (begin_run) and completed in one
transaction when it ends (finish_run). A consensus run also writes each sample the moment
it finishes (add_sample, its own transaction), so a crash or kill -9 loses only the
samples in flight: the run stays 'running' in the file with the samples it had, and the
next HistoryStore to open the file marks it 'interrupted'; resume_run takes it up again.
Durability settings and the file format live in history_db.

Threads: one connection per HistoryStore, guarded by a lock, so the GUI thread and a
worker may both call any method; every call is short. Another process (the CLI beside
the GUI) has its own connection and SQLite's busy timeout serialises the writers.
A run being made by another live process (the CLI beside the window) is told apart from
a dead one by a file lock its process holds (app.core.history.live_runs): opening a store
marks only the runs whose process is gone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.core.history.database import (
    CorruptHistoryError,
    HistoryError,
    RunNotFoundError,
    default_path,
    has_fts5_trigram,
    index_run,
    open_database,
    sync_search_index,
    transaction,
    translate_errors,
)
from app.core.history.live_runs import LiveRuns
from app.core.history.records import (
    FINAL_STATUSES,
    RunRecord,
    RunStatus,
    RunSummary,
    SampleRecord,
    answer_snippet,
    check_samples,
    dump_json,
    first_line,
)

INTERRUPTED_MESSAGE = "Quorum stopped before this run finished."

_RUN_COLUMNS = (
    "id, conversation_id, turn, created_at, question, model_name, model_path, model_sha256,"
    " params_json, consensus_json, status, error, seconds, time_to_first_token"
)
_SAMPLE_COLUMNS = (
    "run_id, idx, seed, trace, answer, extracted, extracted_rule, tokens, seconds,"
    " finish_reason, grp, token_stats"
)
_SAMPLE_SLOTS = ",".join("?" * len(_SAMPLE_COLUMNS.split(",")))
_SUMMARY_COLUMNS = (
    "id, conversation_id, turn, created_at, question, model_name, status, n_samples,"
    " answer_snippet, json_extract(params_json, '$.samples'),"
    " json_extract(consensus_json, '$.answer_agreement'),"
    " json_extract(consensus_json, '$.answered')"
)
# Search without FTS5 (or for terms under 3 characters, too short for trigrams). Python's
# casefold, because SQLite's own LIKE and lower() fold ASCII letters only.
_FOLDED_TERM = (
    "(instr(casefold(question), ?) OR EXISTS (SELECT 1 FROM samples"
    " WHERE samples.run_id = runs.id AND (instr(casefold(samples.answer), ?)"
    " OR instr(casefold(samples.trace), ?))))"
)


class HistoryStore:
    """The history file (default: data_dir()/history.sqlite3). Raises HistoryError
    subclasses: CorruptHistoryError (offer quarantine()), NewerSchemaError."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.RLock()
        self._fts = False
        self._live = LiveRuns(self.path)
        self._conn: sqlite3.Connection | None = open_database(self.path)
        try:
            self._conn.create_function("casefold", 1, _casefold, deterministic=True)
            with self._tx(write=True) as conn:
                self._fts = has_fts5_trigram(conn)  # else search scans with casefold()
                sync_search_index(conn, self._fts)
                running = conn.execute("SELECT id FROM runs WHERE status = ?", (RunStatus.RUNNING,))
                dead = [
                    (r[0],) for r in running.fetchall() if not self._live.is_live_elsewhere(r[0])
                ]
                conn.executemany(
                    "UPDATE runs SET status = ?, error = COALESCE(error, ?) WHERE id = ?",
                    [(RunStatus.INTERRUPTED, INTERRUPTED_MESSAGE, run_id) for (run_id,) in dead],
                )
        except BaseException:
            self.close()
            raise

    def begin_run(self, run: RunRecord) -> int:
        """Record a run as 'running' before generation starts; returns its id.

        conversation_id None starts a new conversation; otherwise the run becomes that
        conversation's next turn. Fills in run.id, run.conversation_id, run.turn, run.status.
        """
        params = dump_json(run.params, "params")
        with self._tx(write=True) as conn:
            run_id, conversation_id, turn = self._insert_run(conn, run, params)
            self._live.hold(run_id)  # before the commit: no other store may call it dead
        run.id, run.conversation_id, run.turn = run_id, conversation_id, turn
        run.status = RunStatus.RUNNING
        return run_id

    def add_sample(self, run_id: int, sample: SampleRecord) -> None:
        """Store one finished sample of a running run now, in its own transaction."""
        check_samples([sample])
        with self._tx(write=True, durable=False) as conn:
            exists = conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
            if exists is None:
                raise RunNotFoundError(self.path, f"run {run_id} no longer exists")
            conn.execute(
                f"INSERT OR REPLACE INTO samples ({_SAMPLE_COLUMNS}) VALUES ({_SAMPLE_SLOTS})",
                (run_id, sample.index, sample.seed, sample.trace, sample.answer, sample.extracted,
                 sample.extracted_rule, sample.tokens, sample.seconds, sample.finish_reason,
                 sample.group, sample.token_stats),
            )  # fmt: skip
            conn.execute(
                "UPDATE runs SET n_samples = (SELECT count(*) FROM samples WHERE run_id = ?)"
                " WHERE id = ?",
                (run_id, run_id),
            )

    def resume_run(self, run_id: int) -> RunRecord:
        """Take an interrupted run up again: 'running' once more, with the samples it has.
        Raises HistoryError if another process is still making it."""
        if self._live.is_live_elsewhere(run_id):
            raise HistoryError(self.path, f"run {run_id} is still going in another Quorum")
        with self._tx(write=True) as conn:
            found = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if found is None:
                raise RunNotFoundError(self.path, f"no run {run_id}")
            if not self._live.hold(run_id):
                raise HistoryError(self.path, f"run {run_id} is still going in another Quorum")
            conn.execute(
                "UPDATE runs SET status = ?, error = NULL WHERE id = ?", (RunStatus.RUNNING, run_id)
            )
        return self.get_run(run_id)

    def finish_run(self, run: RunRecord) -> None:
        """Store the outcome and every sample in one transaction (status done, cancelled
        or error). A run never begun (id None) is inserted in that same transaction."""
        if run.status not in FINAL_STATUSES:
            raise ValueError(f"finish_run needs a status in {FINAL_STATUSES}, not {run.status!r}")
        check_samples(run.samples)
        params = dump_json(run.params, "params")
        consensus = None if run.consensus is None else dump_json(run.consensus, "consensus")
        run_id, conversation_id, turn = run.id, run.conversation_id, run.turn
        with self._tx(write=True) as conn:
            if run_id is None:
                run_id, conversation_id, turn = self._insert_run(conn, run, params)
            updated = conn.execute(
                "UPDATE runs SET created_at = ?, question = ?, model_name = ?, model_path = ?,"
                " model_sha256 = ?, params_json = ?, consensus_json = ?, status = ?, error = ?,"
                " seconds = ?, time_to_first_token = ?, n_samples = ?, answer_snippet = ?"
                " WHERE id = ?",
                (run.created_at, run.question, run.model_name, run.model_path, run.model_sha256,
                 params, consensus, run.status, run.error, run.seconds, run.time_to_first_token,
                 len(run.samples), answer_snippet(run.samples), run_id),
            )  # fmt: skip
            if updated.rowcount == 0:
                raise RunNotFoundError(self.path, f"run {run.id} no longer exists")
            conn.execute("DELETE FROM samples WHERE run_id = ?", (run_id,))
            conn.executemany(
                f"INSERT INTO samples ({_SAMPLE_COLUMNS}) VALUES ({_SAMPLE_SLOTS})",
                [(run_id, s.index, s.seed, s.trace, s.answer, s.extracted, s.extracted_rule,
                  s.tokens, s.seconds, s.finish_reason, s.group, s.token_stats)
                 for s in run.samples],
            )  # fmt: skip
            index_run(conn, self._fts, run_id, run.question, [s.answer for s in run.samples],
                      [s.trace for s in run.samples])  # fmt: skip
        self._live.release(run_id)
        run.id, run.conversation_id, run.turn = run_id, conversation_id, turn

    def get_run(self, run_id: int) -> RunRecord:
        with self._tx() as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
            found = row.fetchone()
            if found is None:
                raise RunNotFoundError(self.path, f"no run {run_id}")
            samples = conn.execute(
                f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE run_id = ? ORDER BY idx", (run_id,)
            ).fetchall()
        return self._run_from_row(found, samples)

    def conversation(self, conversation_id: int) -> list[RunRecord]:
        """The conversation's runs, first turn first (empty if there is no such conversation)."""
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE conversation_id = ? ORDER BY turn",
                (conversation_id,),
            ).fetchall()
            samples = conn.execute(
                f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE run_id IN"
                " (SELECT id FROM runs WHERE conversation_id = ?) ORDER BY run_id, idx",
                (conversation_id,),
            ).fetchall()
        by_run: dict[int, list[tuple[Any, ...]]] = {row[0]: [] for row in rows}
        for sample_row in samples:
            by_run[sample_row[0]].append(sample_row)
        return [self._run_from_row(row, by_run[row[0]]) for row in rows]

    def list_runs(self, search: str = "", limit: int = 200) -> list[RunSummary]:
        """Newest first. Every whitespace-separated term of search must occur, in any case,
        in the question or in one of the answers or reasoning traces."""
        terms = search.split()
        where = ""
        args: list[Any] = []
        if terms and self._fts and all(len(t) >= 3 for t in terms):  # trigrams need 3 chars
            where = "WHERE id IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?)"
            args.append(" ".join('"' + t.replace('"', '""') + '"' for t in terms))
        elif terms:
            where = "WHERE " + " AND ".join([_FOLDED_TERM] * len(terms))
            for term in terms:
                args += [term.casefold()] * 3  # question, answers, reasoning
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM runs {where}"
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [
            RunSummary(
                id=r[0], conversation_id=r[1], turn=r[2], created_at=r[3],
                question=first_line(r[4]), model_name=r[5], status=r[6], n_samples=r[7],
                answer=r[8], requested=_int_or_none(r[9]), agreement=_float_or_none(r[10]),
                answered=_int_or_none(r[11]),
            )
            for r in rows
        ]  # fmt: skip

    def delete_run(self, run_id: int) -> None:
        """Delete a run and its samples (no error if already gone). A conversation left
        without runs goes too."""
        with self._tx(write=True) as conn:
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            conn.execute(
                "DELETE FROM conversations WHERE NOT EXISTS"
                " (SELECT 1 FROM runs WHERE runs.conversation_id = conversations.id)"
            )
            if self._fts:
                conn.execute("DELETE FROM runs_fts WHERE rowid = ?", (run_id,))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._live.release_all()  # its runs, if unfinished, are now interrupted

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, write: bool = False, durable: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock, translate_errors(self.path):
            if self._conn is None:
                raise HistoryError(self.path, "the history is closed")
            if durable:
                with transaction(self._conn, write) as conn:
                    yield conn
                return
            # A sample commits without an fsync (synchronous=NORMAL): in WAL mode that
            # still survives a crash or kill -9 of the process, and only a power cut may
            # roll it back. 512 short samples would otherwise cost 512 fsyncs; the run's
            # begin and finish stay fully durable.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with transaction(self._conn, write) as conn:
                    yield conn
            finally:
                self._conn.execute("PRAGMA synchronous=FULL")

    def _insert_run(
        self, conn: sqlite3.Connection, run: RunRecord, params: str
    ) -> tuple[int, int, int]:
        conversation_id, turn = run.conversation_id, 0
        if conversation_id is None:
            cursor = conn.execute(
                "INSERT INTO conversations (created_at) VALUES (?)", (run.created_at,)
            )
            conversation_id = int(cursor.lastrowid or 0)
        else:
            exists = conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
            if exists.fetchone() is None:
                raise RunNotFoundError(self.path, f"no conversation {conversation_id}")
            turn = conn.execute(
                "SELECT COALESCE(MAX(turn) + 1, 0) FROM runs WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()[0]
        cursor = conn.execute(
            f"INSERT INTO runs ({_RUN_COLUMNS}, n_samples, answer_snippet)"
            " VALUES (NULL,?,?,?,?,?,?,?,?,NULL,?,NULL,?,?,0,'')",
            (conversation_id, turn, run.created_at, run.question, run.model_name, run.model_path,
             run.model_sha256, params, RunStatus.RUNNING, run.seconds, run.time_to_first_token),
        )  # fmt: skip
        run_id = int(cursor.lastrowid or 0)
        index_run(conn, self._fts, run_id, run.question, [])
        return run_id, conversation_id, turn

    def _run_from_row(self, row: tuple[Any, ...], samples: list[tuple[Any, ...]]) -> RunRecord:
        return RunRecord(
            id=row[0],
            conversation_id=row[1],
            turn=row[2],
            created_at=row[3],
            question=row[4],
            model_name=row[5],
            model_path=row[6],
            model_sha256=row[7],
            params=self._load_json(row[8], row[0]),
            consensus=None if row[9] is None else self._load_json(row[9], row[0]),
            status=row[10],
            error=row[11],
            seconds=row[12],
            time_to_first_token=row[13],
            samples=[SampleRecord(*s[1:]) for s in samples],
        )

    def _load_json(self, text: str, run_id: int) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CorruptHistoryError(self.path, f"run {run_id} holds invalid JSON") from exc


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold()
