"""The history file itself: opening it safely, schema migrations, search index, quarantine.

Durability: WAL journal with synchronous=FULL. WAL lets the sidebar read while a worker
writes, and a crash never leaves half a transaction in the file. FULL rather than NORMAL
because in WAL mode NORMAL skips the fsync at commit, so a power cut may roll back runs
that had already finished; FULL costs one fsync per commit, and a run commits twice
(begin, finish) against seconds of inference.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from app.core.paths import data_dir

log = logging.getLogger(__name__)

DB_FILENAME = "history.sqlite3"
_BUSY_TIMEOUT_S = 15.0
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # primary result codes
_COMPANIONS = ("", "-wal", "-shm", "-journal")  # one database's files on disk


class HistoryError(Exception):
    """The history database cannot be used as asked; the message names the file."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"History database {path}: {problem}")
        self.path = path


class CorruptHistoryError(HistoryError):
    """Damaged, or not a Quorum history. quarantine() moves it aside for a fresh start."""


class NewerSchemaError(HistoryError):
    """Written by a newer Quorum. Left untouched: a downgrade could lose data."""


class RunNotFoundError(HistoryError):
    """No run (or conversation) with that id."""


def default_path() -> Path:
    return data_dir() / DB_FILENAME


# Schema migrations, oldest first: MIGRATIONS[k - 1] takes the file from user_version
# k - 1 to k. To change the schema, append a function; never edit one that has shipped.
def _schema_v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE conversations (id INTEGER PRIMARY KEY, created_at REAL NOT NULL)")
    conn.execute(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY,"
        " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
        " turn INTEGER NOT NULL, created_at REAL NOT NULL, question TEXT NOT NULL,"
        " model_name TEXT NOT NULL, model_path TEXT NOT NULL, model_sha256 TEXT,"
        " params_json TEXT NOT NULL, consensus_json TEXT, status TEXT NOT NULL, error TEXT,"
        " seconds REAL NOT NULL, time_to_first_token REAL,"
        # Denormalised for the sidebar, so that listing never reads traces.
        " n_samples INTEGER NOT NULL, answer_snippet TEXT NOT NULL,"
        " UNIQUE (conversation_id, turn))"
    )
    conn.execute("CREATE INDEX runs_by_time ON runs (created_at)")
    conn.execute(
        "CREATE TABLE samples (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
        " idx INTEGER NOT NULL, seed INTEGER NOT NULL, trace TEXT NOT NULL, answer TEXT NOT NULL,"
        " extracted TEXT, extracted_rule TEXT, tokens INTEGER NOT NULL, seconds REAL NOT NULL,"
        " finish_reason TEXT NOT NULL, grp TEXT, UNIQUE (run_id, idx))"
    )


def _schema_v2(conn: sqlite3.Connection) -> None:
    # Each sample's token confidence (app.core.history.token_blob); older samples: NULL.
    conn.execute("ALTER TABLE samples ADD COLUMN token_stats BLOB")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_schema_v1, _schema_v2]


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Turn sqlite3's exceptions into HistoryErrors that name the file."""
    try:
        yield
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
            raise CorruptHistoryError(path, f"damaged or not a database ({exc})") from exc
        raise HistoryError(path, str(exc)) from exc


@contextmanager
def transaction(conn: sqlite3.Connection, write: bool = False) -> Iterator[sqlite3.Connection]:
    """One transaction. IMMEDIATE takes the write lock up front, so concurrent writers
    wait on the busy timeout instead of failing halfway through."""
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_database(path: Path) -> sqlite3.Connection:
    """Connect, refuse files that are not (or not yet) ours, set durability, migrate."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: the store serialises use of the connection with a lock.
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(path, f"cannot open it ({exc})") from exc
    try:
        with translate_errors(path):
            _prepare(conn, path)
    except BaseException:
        conn.close()  # release the file so that quarantine() can rename it on Windows
        raise
    return conn


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    # Read the version before writing anything: a newer file must stay untouched.
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise NewerSchemaError(
            path,
            f"written by a newer Quorum (schema v{version}; this version knows up to "
            f"v{len(MIGRATIONS)}). Update Quorum to open it; the file was not changed.",
        )
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise CorruptHistoryError(path, "an SQLite database, but not Quorum's history")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # e.g. some network drives; the rollback journal is safe too
        log.warning("history %s: WAL unavailable, using journal_mode=%s", path, mode)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    for target in range(version + 1, len(MIGRATIONS) + 1):
        with transaction(conn, write=True):
            # Another process may have migrated the file since we looked.
            if conn.execute("PRAGMA user_version").fetchone()[0] < target:
                MIGRATIONS[target - 1](conn)
                conn.execute(f"PRAGMA user_version = {target}")


# Search index: FTS5 with the trigram tokenizer (case-insensitive substrings, any script).
# It is derived data, outside the migrations: rebuilt whenever it may be stale, e.g. after
# a Python whose SQLite lacks FTS5 wrote to the file. Without FTS5, search scans rows.
# The index's version: "current" indexed answers only; v2 adds the reasoning traces, so a
# file indexed by an older Quorum is rebuilt once.
_INDEX_CURRENT = "current-v2"


def has_fts5_trigram(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.fts_probe USING fts5(x, tokenize=trigram)")
        conn.execute("DROP TABLE temp.fts_probe")
    except sqlite3.OperationalError:
        return False
    return True


def sync_search_index(conn: sqlite3.Connection, fts: bool) -> None:
    """Inside a write transaction: make runs_fts current, or flag it stale without FTS5."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs_fts'").fetchone()
    if not fts:
        if exists:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('search_index', 'stale')")
        return
    state = conn.execute("SELECT value FROM meta WHERE key = 'search_index'").fetchone()
    if exists and state == (_INDEX_CURRENT,):
        return
    if exists:
        conn.execute("DROP TABLE runs_fts")
    conn.execute("CREATE VIRTUAL TABLE runs_fts USING fts5(question, answers, tokenize=trigram)")
    for run_id, question in conn.execute("SELECT id, question FROM runs").fetchall():
        texts = conn.execute(
            "SELECT answer, trace FROM samples WHERE run_id = ? ORDER BY idx", (run_id,)
        ).fetchall()
        index_run(conn, True, run_id, question, [a for a, _ in texts], [t for _, t in texts])
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('search_index', ?)", (_INDEX_CURRENT,))


def index_run(
    conn: sqlite3.Connection, fts: bool, run_id: int, question: str, answers: list[str],
    traces: list[str] | None = None,
) -> None:  # fmt: skip
    """Index the question and the samples' answers and reasoning (each distinct text once)."""
    if fts:
        texts = dict.fromkeys([*answers, *(traces or [])])  # distinct, in order
        conn.execute("DELETE FROM runs_fts WHERE rowid = ?", (run_id,))
        conn.execute(
            "INSERT INTO runs_fts (rowid, question, answers) VALUES (?, ?, ?)",
            (run_id, question, "\n".join(t for t in texts if t)),
        )


def quarantine(path: Path | None = None) -> Path:
    """Rename an unusable history file, with its WAL and journal, to
    <name>.corrupt-<timestamp>; returns the new path. Close every store on it first.

    The companions move too: a stale -wal beside a fresh database would be replayed into it.
    """
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        raise HistoryError(path, "there is no file to move aside")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while any(Path(f"{target}{c}").exists() for c in _COMPANIONS):
        target, n = path.with_name(f"{path.name}.corrupt-{stamp}-{n}"), n + 1
    moved: list[str] = []
    try:
        for companion in _COMPANIONS:
            if Path(f"{path}{companion}").exists():
                Path(f"{path}{companion}").rename(f"{target}{companion}")
                moved.append(companion)
    except OSError as exc:
        for companion in moved:  # put back what moved, so that the files stay together
            with suppress(OSError):
                Path(f"{target}{companion}").rename(f"{path}{companion}")
        raise HistoryError(path, f"could not move it aside ({exc})") from exc
    log.warning("history %s moved aside to %s", path, target)
    return target
