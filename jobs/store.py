"""Jobs and users in one SQLite file under the data folder.

One connection, used under a lock: the app writes from its worker and request threads, and the
operator's CLI may write from another process at the same time (WAL mode and a busy timeout make
that safe). The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[n]` takes a database
from version n-1 to n, so a later release adds a step instead of rewriting the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, NamedTuple

from bilingual import Text

from .errors import DataDirError
from .job import FINISHED, QUEUED, RUNNING, Job
from .private import FILE_MODE, MASTER_NAME, create_private_file, make_private_folder, tighten

DB_NAME = "studio.db"
# Reads have their own connection with a short busy timeout: in WAL mode a reader never waits for
# a writer, so a lock held by another process (or a write waiting on one) never stalls a page or
# a poll. The writer keeps the long timeout: it waits its turn in the worker threads.
READ_BUSY_MS = 1000

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        lane TEXT NOT NULL,
        mode TEXT NOT NULL,
        request TEXT NOT NULL,
        status TEXT NOT NULL,
        progress REAL NOT NULL DEFAULT 0,
        message_en TEXT NOT NULL DEFAULT '',
        message_zh TEXT NOT NULL DEFAULT '',
        position INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        seed INTEGER,
        prompt TEXT,
        video TEXT,
        cover TEXT,
        info TEXT,
        error_en TEXT,
        error_zh TEXT,
        worker TEXT
    );
    CREATE INDEX jobs_by_owner ON jobs (owner, created_at DESC, seq DESC);
    CREATE INDEX jobs_by_status ON jobs (status, seq);
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        lane TEXT NOT NULL,
        password_hash TEXT,
        created_at REAL NOT NULL
    );
    """,
    2: """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        sealed_secret TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL,
        revoked_at REAL
    );
    CREATE INDEX api_keys_by_owner ON api_keys (owner);
    ALTER TABLE jobs ADD COLUMN request_id TEXT;
    ALTER TABLE jobs ADD COLUMN api_key TEXT;
    ALTER TABLE jobs ADD COLUMN file_token TEXT;
    CREATE UNIQUE INDEX jobs_by_request ON jobs (api_key, request_id) WHERE request_id IS NOT NULL;
    CREATE UNIQUE INDEX jobs_by_file_token ON jobs (file_token) WHERE file_token IS NOT NULL;
    """,
    # Sign-in sessions end when this stamp changes (a new password) or its row goes (removal); see
    # jobs/users.py. Keys of users removed before this release kept working: they are revoked now.
    3: """
    ALTER TABLE users ADD COLUMN session_stamp TEXT;
    UPDATE users SET session_stamp = lower(hex(randomblob(8)));
    UPDATE api_keys SET revoked_at = (julianday('now') - 2440587.5) * 86400.0
        WHERE revoked_at IS NULL AND owner NOT IN (SELECT name FROM users);
    """,
    # Passes: a user's lane may end (`users grant`). NULL: the lane has no end, as every lane had
    # before; after the end the user is in the standard lane (jobs/users.py).
    4: """
    ALTER TABLE users ADD COLUMN lane_until REAL;
    """,
    # Redeem codes (兑换码) for passes, kept only as SHA-256 hashes of their normalized text; see
    # jobs/codes.py.
    5: """
    CREATE TABLE redeem_codes (
        id TEXT PRIMARY KEY,
        code_hash TEXT NOT NULL UNIQUE,
        lane TEXT NOT NULL,
        days REAL NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL,
        used_by TEXT,
        used_at REAL,
        revoked_at REAL
    );
    """,
    # The standard lane's free videos a day (jobs/quota.py): one row per video submitted there, kept
    # apart from the jobs table so that deleting a work (or pruning it) does not give its video back.
    # `payer`: the owner, or the visitor's address (`address:<ip>`).
    6: """
    CREATE TABLE quota_uses (
        job_id TEXT PRIMARY KEY,
        payer TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX quota_uses_by_payer ON quota_uses (payer, at);
    """,
    # Passes paid through an operator's payment provider (POST /api/billing/grant): one row per
    # order, so a provider's retries grant once (jobs/orders.py).
    7: """
    CREATE TABLE billing_orders (
        order_id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        lane TEXT NOT NULL,
        days REAL NOT NULL,
        granted_at REAL NOT NULL,
        lane_until REAL
    );
    """,
    # The admin role: who sees the admin console on the page (`users add NAME --admin`, `users set-admin`).
    8: """
    ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    """,
}
SCHEMA_VERSION = max(MIGRATIONS)

_COLUMNS = (
    "seq", "id", "owner", "lane", "mode", "request", "status", "progress", "message_en", "message_zh",
    "position", "attempts", "cancel_requested", "created_at", "started_at", "finished_at", "seed",
    "prompt", "video", "cover", "info", "error_en", "error_zh", "worker", "request_id", "api_key", "file_token",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM jobs"
# What a listing of works shows: the user's prompt and style come out of the request JSON in SQL,
# so listing thousands of jobs parses no JSON in Python.
_BRIEF = ("id", "owner", "lane", "mode", "status", "progress", "position", "created_at", "seed", "video", "cover",
          "file_token")
_SELECT_BRIEF = (f"SELECT {', '.join(_BRIEF)}, json_extract(request, '$.prompt'), json_extract(request, '$.style'), "
                 "json_extract(request, '$.seed'), json_extract(request, '$.model') FROM jobs")


def check_writable(folder: Path) -> None:
    """Refuse a data folder we cannot create or write, naming it. The folder is private (0700)."""
    try:
        make_private_folder(folder)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise DataDirError(
            f"The data folder {folder} is not writable ({exc.strerror or exc}). Give this user write "
            "access, or choose another folder with --data-dir / STUDIO_DATA_DIR.",
            f"数据目录 {folder} 不可写（{exc.strerror or exc}）。请为当前用户授予写权限，"
            "或用 --data-dir / STUDIO_DATA_DIR 指定其他目录。",
        ) from None


class JobStore:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir).expanduser().resolve()
        check_writable(self.data_dir)
        self.path = self.data_dir / DB_NAME
        self._lock = threading.RLock()
        try:
            create_private_file(self.path)  # 0600 before SQLite makes it 0644; -wal and -shm follow it
            for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", MASTER_NAME):
                tighten(self.data_dir / name, FILE_MODE)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, never corrupt
            self._db.execute("PRAGMA foreign_keys = ON")
            # Reads of long listings come from the page cache without copies.
            self._db.execute("PRAGMA mmap_size = 268435456")
            self._db.execute("PRAGMA cache_size = -32768")
            self._migrate()
            self._read_lock = threading.Lock()
            self._reader = sqlite3.connect(self.path, check_same_thread=False, timeout=READ_BUSY_MS / 1000,
                                           isolation_level=None)
            self._reader.execute(f"PRAGMA busy_timeout = {READ_BUSY_MS}")
            self._reader.execute("PRAGMA mmap_size = 268435456")
        except sqlite3.DatabaseError as exc:
            raise DataDirError(
                f"{self.path} is not a studio database ({exc}). Move it away, or choose another "
                "folder with --data-dir / STUDIO_DATA_DIR.",
                f"{self.path} 不是本工具的数据库（{exc}）。请移走该文件，或用 --data-dir / STUDIO_DATA_DIR 指定其他目录。",
            ) from None

    # ------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataDirError(
                    f"{self.path} was written by a newer release (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}). Update the studio, or use another --data-dir.",
                    f"{self.path} 由更新版本创建（数据结构版本 {version}，本版本支持 {SCHEMA_VERSION}）。"
                    "请升级本工具，或换一个 --data-dir。",
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in MIGRATIONS[step].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {step}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._read_lock:
            self._reader.close()

    # ------------------------------------------------------------ low level

    def execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    def read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        """Rows of a SELECT, from the read connection: never waits behind the writer's lock."""
        with self._read_lock:
            return self._reader.execute(sql, tuple(params)).fetchall()

    def transaction(self) -> "_Transaction":
        return _Transaction(self)

    # ------------------------------------------------------------ jobs

    def insert(self, job: Job, payer: str | None = None, paid_at: float | None = None) -> Job:
        """Store a new job; with `payer`, it is one of the payer's free videos of the day too, used at
        `paid_at` (default: its creation), in the same transaction: never a job without its use."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO jobs (id, owner, lane, mode, request, status, created_at, position, request_id, "
                "api_key, file_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.id, job.owner, job.lane, job.mode, json.dumps(job.request, ensure_ascii=False),
                 job.status, job.created_at, job.position, job.request_id, job.api_key, job.file_token),
            )
            if payer is not None:
                db.execute("INSERT INTO quota_uses (job_id, payer, at) VALUES (?, ?, ?)", (job.id, payer, job.created_at if paid_at is None else paid_at))
        return self.get(job.id) if cursor.lastrowid else job

    def by_request_id(self, api_key: str, request_id: str) -> Job | None:
        rows = self.read(f"{_SELECT} WHERE api_key = ? AND request_id = ?", (api_key, request_id))
        return _job(rows[0]) if rows else None

    def by_file_token(self, token: str) -> Job | None:
        rows = self.read(f"{_SELECT} WHERE file_token = ?", (str(token),))
        return _job(rows[0]) if rows else None

    def get(self, job_id: str) -> Job | None:
        rows = self.read(f"{_SELECT} WHERE id = ?", (str(job_id),))
        return _job(rows[0]) if rows else None

    def list(
        self,
        owner: str | None = None,
        status: str | Iterable[str] | None = None,
        limit: int | None = None,
        older_than: float | None = None,
        brief: bool = False,
    ) -> list[Job]:
        """Jobs newest first, filtered by owner, status and creation time. `brief` jobs carry only
        what a gallery shows (status, place, progress, date, seed, files; prompt, style, seed and
        model in `request`), not errors, timings or `info`: for listings of thousands."""
        where, params = [], []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if older_than is not None:
            where.append("created_at < ?")
            params.append(older_than)
        sql = (_SELECT_BRIEF if brief else _SELECT) + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, seq DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self.read(sql, params)
        return [_brief_job(row) for row in rows] if brief else [_job(row) for row in rows]

    def prunable(self, owner: str | None = None, older_than: float | None = None,
                 keep: int | None = None) -> list[Job]:
        """Finished jobs past the limits: older than `older_than`, or beyond the newest `keep` of
        their owner. Done in SQL, so a prune after every job stays cheap with thousands of works."""
        finished = f"status IN ({', '.join('?' * len(FINISHED))})"
        where, params = [finished], list(FINISHED)
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        limits, limit_params = [], []
        if older_than is not None:
            limits.append("created_at < ?")
            limit_params.append(older_than)
        if keep is not None:
            # Rank within the owner, newest first, over finished jobs only.
            limits.append(f"seq IN (SELECT seq FROM (SELECT seq, ROW_NUMBER() OVER (PARTITION BY owner "
                          f"ORDER BY created_at DESC, seq DESC) AS n FROM jobs WHERE {' AND '.join(where)}) "
                          "WHERE n > ?)")
            limit_params.extend([*params, int(keep)])
        if not limits:
            return []
        sql = f"{_SELECT} WHERE {' AND '.join(where)} AND ({' OR '.join(limits)})"
        return [_job(row) for row in self.execute(sql, [*params, *limit_params]).fetchall()]

    def queued(self, models: frozenset[str] | None = None) -> list[tuple[str, str, int]]:
        """(id, lane, seq) of every queued job in submission order; with `models`, only the jobs
        for one of them (lower-case names) or for no model in particular (jobs from before models
        were recorded)."""
        return for_models(self.queue(), models)

    def queue(self) -> list[QueuedRow]:
        """Every queued job in submission order, with its model and its place in line as stored."""
        return [QueuedRow(*row) for row in self.execute(
            "SELECT id, lane, seq, lower(json_extract(request, '$.model')), position FROM jobs "
            "WHERE status = ? ORDER BY seq",
            (QUEUED,),
        ).fetchall()]

    def count_written(self, statuses: tuple[str, ...], owner: str) -> int:
        """The owner's jobs in any of `statuses`, on the writer connection: the room check of a
        submit runs right after other submits' inserts and must count them (the read connection
        lost that race under load). One statement: a job claimed between two counts (queued, then
        running) was counted twice."""
        marks = ", ".join("?" * len(statuses))
        return self.execute(f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks}) AND owner = ?",
                            (*statuses, owner)).fetchone()[0]

    def count(self, status: str, owner: str | None = None) -> int:
        if owner is None:
            return self.read("SELECT COUNT(*) FROM jobs WHERE status = ?", (status,))[0][0]
        return self.read("SELECT COUNT(*) FROM jobs WHERE status = ? AND owner = ?", (status, owner))[0][0]

    def count_by_lane(self, status: str) -> dict[str, int]:
        """How many jobs in `status` each lane holds (lanes without one are left out)."""
        return dict(self.read("SELECT lane, COUNT(*) FROM jobs WHERE status = ? GROUP BY lane", (status,)))

    def claim(self, job_id: str, worker: str) -> Job | None:
        """Queued -> running, atomically; None if someone cancelled it meanwhile."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET status = ?, attempts = attempts + 1, started_at = ?, position = NULL, "
                "progress = 0, worker = ? WHERE id = ? AND status = ?",
                (RUNNING, time.time(), worker, job_id, QUEUED),
            )
            return self.get(job_id) if cursor.rowcount else None

    def set_progress(self, job_id: str, progress: float, message: Text) -> None:
        self.execute(
            "UPDATE jobs SET progress = ?, message_en = ?, message_zh = ? WHERE id = ? AND status = ?",
            (progress, message.en, message.zh, job_id, RUNNING),
        )

    def finish(self, job_id: str, status: str, **values) -> Job | None:
        """Close a job (succeeded, failed or cancelled) with its results or its error; `values`
        are `Job` fields."""
        if status not in FINISHED:
            raise ValueError(f"finish() needs a final status, not {status!r}")
        values = dict(values)
        if "info" in values:
            values["info"] = json.dumps(values["info"], ensure_ascii=False)
        for name in ("message", "error"):  # one Text, two columns
            if name in values:
                text = values.pop(name)
                values[f"{name}_en"], values[f"{name}_zh"] = (None, None) if text is None else (text.en, text.zh)
        values.update(status=status, finished_at=time.time(), position=None)
        names = sorted(values)
        with self._lock:
            self._db.execute(
                f"UPDATE jobs SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                [values[n] for n in names] + [job_id],
            )
            return self.get(job_id)

    def requeue(self, job_id: str, count_attempt: bool = True) -> None:
        """Back in line at its old place. `count_attempt=False`: the start did not happen after all
        (its worker never began it), so it does not count towards the job's tries."""
        self.execute(
            "UPDATE jobs SET status = ?, progress = 0, message_en = '', message_zh = '', worker = NULL, "
            f"attempts = attempts{'' if count_attempt else ' - 1'} WHERE id = ?",
            (QUEUED, job_id),
        )

    def set_positions(self, positions: dict[str, int | None]) -> None:
        if not positions:
            return  # no write transaction for nothing
        with self.transaction() as db:
            db.executemany(
                "UPDATE jobs SET position = ? WHERE id = ? AND status = ?",
                [(position, job_id, QUEUED) for job_id, position in positions.items()],
            )

    def request_cancel(self, job_id: str) -> str | None:
        """Cancel a queued job at once; flag a running one for its worker. The status after."""
        with self.transaction() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            if row[0] == QUEUED:
                db.execute(
                    "UPDATE jobs SET status = 'cancelled', finished_at = ?, position = NULL, "
                    "error_en = NULL, error_zh = NULL WHERE id = ?",
                    (time.time(), job_id),
                )
                return "cancelled"
            if row[0] == RUNNING:
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
            return row[0]

    def cancel_requested(self) -> list[str]:
        return [r[0] for r in self.read(
            "SELECT id FROM jobs WHERE status = ? AND cancel_requested = 1", (RUNNING,)
        )]

    def delete(self, job_id: str) -> None:
        """Remove a job's row. Its free video of the day stays used (deleting a work must not give it
        back), unless the job was never charged (`_NOT_CHARGED`: it failed, or was cancelled unstarted)."""
        with self.transaction() as db:
            db.execute(f"DELETE FROM quota_uses WHERE job_id = ? AND EXISTS (SELECT 1 FROM jobs AS j WHERE "
                       f"j.id = quota_uses.job_id AND {_NOT_CHARGED})", (job_id,))
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    # ------------------------------------------------------------ free videos a day

    def quota_used(self, payer: str, since: float, until: float, written: bool = False) -> int:
        """The payer's free videos used from `since` to `until` (epoch s): every use whose job was not
        given back (a job deleted since still counts). `written`: on the writer connection, like
        `count_written`, for the check of a submit, which must see the inserts just before it; else
        on the read connection, so that a page asking what is left never waits behind a lock."""
        sql = (f"SELECT COUNT(*) FROM quota_uses LEFT JOIN jobs AS j ON j.id = quota_uses.job_id "
               f"WHERE payer = ? AND at >= ? AND at < ? AND NOT COALESCE({_NOT_CHARGED}, 0)")
        if written:
            return self.execute(sql, (payer, since, until)).fetchone()[0]
        return self.read(sql, (payer, since, until))[0][0]

    def forget_quota_uses(self, before: float) -> int:
        """Drop uses older than `before` (epoch s): only today's are ever counted."""
        return self.execute("DELETE FROM quota_uses WHERE at < ?", (before,)).rowcount


# A job that does not use up a free video: it failed (the server's fault or an input that went
# missing), or it was cancelled before it started rendering. One cancelled mid-render counts: the GPU
# did the work. SQL over the alias `j` of the jobs table.
_NOT_CHARGED = "(j.status = 'failed' OR (j.status = 'cancelled' AND j.started_at IS NULL))"


class _Transaction:
    """`with store.transaction() as db:` — one IMMEDIATE transaction under the store's lock."""

    def __init__(self, store: JobStore):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        self.store._db.execute("BEGIN IMMEDIATE")
        return self.store._db

    def __exit__(self, kind, value, tb) -> None:
        try:
            self.store._db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self.store._lock.release()


def _job(row: tuple) -> Job:
    values = _DEFAULTS.copy()
    values.update(zip(_COLUMNS, row))
    values["request"] = json.loads(values["request"])
    values["info"] = json.loads(values["info"]) if values["info"] else {}
    values["cancel_requested"] = bool(values["cancel_requested"])
    values["message"] = _text(values.pop("message_en"), values.pop("message_zh"))
    error_en, error_zh = values.pop("error_en"), values.pop("error_zh")
    values["error"] = None if error_en is None and error_zh is None else _text(error_en, error_zh)
    return _make(values)


class QueuedRow(NamedTuple):
    id: str
    lane: str
    seq: int
    model: str | None  # lower case; None for jobs from before models were recorded
    position: int | None


def for_models(rows: Iterable[QueuedRow], models: frozenset[str] | None) -> list[tuple[str, str, int]]:
    """(id, lane, seq) of the rows a worker holding `models` may take (None: every row)."""
    return [(row.id, row.lane, row.seq) for row in rows
            if models is None or row.model is None or row.model in models]


def _text(en: str | None, zh: str | None) -> Text:
    # The service fills both columns; should one be empty, its sibling stands in (a Text has both).
    return Text(en or zh or "", zh or en or "")


def _brief_job(row: tuple) -> Job:
    values = _DEFAULTS.copy()
    values.update(zip(_BRIEF, row))
    prompt, style, seed, model = row[len(_BRIEF):]
    values["request"] = {"prompt": prompt or "", "style": style or "none", "seed": seed}
    if model:  # jobs from before models were recorded have none
        values["request"]["model"] = model
    values["info"] = {}
    return _make(values)


# Every field with a default; a row's values go on top of a copy.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Job) if f.default is not dataclasses.MISSING}
_new_job = object.__new__
_set = object.__setattr__


def _make(values: dict) -> Job:
    """A Job from a complete field dict, without the frozen dataclass's per-field
    `object.__setattr__` calls: a third of the time of listing thousands of jobs."""
    job = _new_job(Job)
    _set(job, "__dict__", values)
    return job


def default_data_dir() -> Path:
    """`STUDIO_DATA_DIR`, else `data/` beside app.py: the app and the CLI agree without flags."""
    env = os.environ.get("STUDIO_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1] / "data"
