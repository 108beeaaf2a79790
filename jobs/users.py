"""Users and their lanes. Passwords are kept only as salted scrypt hashes.

A user with a password can sign in to the web app; a user without one exists for API keys (the
developer API issue). With no password anywhere, the app is single-user (owner "local").

Access ends when the operator says so, in the running app too (the database is the truth):

- Each user row carries a `session_stamp`, random, drawn when the user is added and again when
  the password changes. The app notes the stamp a browser session signed in under and ends the
  session once the row's stamp differs or the row is gone (api/sessions.py).
- `remove` deletes the row, revokes every API key of the user (REST, MCP and the JWTs made from
  them are checked against the key's row on every call), cancels their queued jobs, asks their
  running ones to stop at the next step, and moves their jobs and keys to an archive owner,
  `removed:NAME:STAMP`. A ':' can never be in a user name, so no one signs in or holds a key as
  that owner: a new user of the same name starts with no works and no keys, while the operator
  still sees the old rows (`jobs list --user removed:...`) until `jobs prune` deletes them. Their
  file links (the jobs' `file_token`) are cleared: a removed user keeps no way in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from .errors import UserError
from .job import CANCELLED, LANES, QUEUED, RUNNING, STANDARD
from .store import JobStore

# scrypt cost: 2^14 × 8 × 128 B = 16 MiB and ~50 ms per check (OWASP's minimum for scrypt).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME_PATTERN = re.compile(r"^[\w.@+-]{1,64}$")
MIN_PASSWORD = 6
MAX_PASSWORD = 1024  # bounds the hashing work an attacker can ask for


@dataclass(frozen=True)
class User:
    name: str
    lane: str
    has_password: bool
    created_at: float


@dataclass(frozen=True)
class Removal:
    """What `Users.remove` did, for the operator's message."""

    name: str
    archive: str            # the owner the user's jobs and keys now carry
    keys_revoked: int
    jobs_cancelled: int     # queued jobs, cancelled at once
    jobs_stopping: int      # running jobs, asked to stop at their next step
    jobs_kept: int          # every job of the user, now under `archive`


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, stored: str | None) -> bool:
    if not stored or not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check_lane(lane: str) -> str:
    if lane not in LANES:
        raise UserError(
            f"Unknown lane {lane!r}; use one of: {', '.join(LANES)}.",
            f"未知的通道 {lane!r}；可选：{', '.join(LANES)}。",
        )
    return lane


class Users:
    def __init__(self, store: JobStore):
        self.store = store

    def add(self, name: str, password: str | None = None, lane: str = STANDARD) -> User:
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise UserError(
                f"User name {name!r} is not allowed: use 1-64 letters, digits or . _ @ + -.",
                f"用户名 {name!r} 不可用：请使用 1-64 个字母、数字或 . _ @ + -。",
            )
        check_lane(lane)
        if password is not None:
            self._check_password(password)
        stored = hash_password(password) if password else None
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserError(
                    f"User {name!r} already exists. Use `users set-lane` or `users set-password`, or remove it first.",
                    f"用户 {name!r} 已存在。请用 `users set-lane` 或 `users set-password`，或先删除该用户。",
                )
            db.execute("INSERT INTO users (name, lane, password_hash, created_at, session_stamp) "
                       "VALUES (?, ?, ?, ?, ?)", (name, lane, stored, time.time(), _new_stamp()))
        return self.get(name)

    def get(self, name: str) -> User | None:
        # The read connection: the page asks for a lane and sign-in checks a name even while a
        # write waits on a lock held by another process.
        rows = self.store.read(
            "SELECT name, lane, password_hash IS NOT NULL, created_at FROM users WHERE name = ?", (name,)
        )
        return None if not rows else User(rows[0][0], rows[0][1], bool(rows[0][2]), rows[0][3])

    def list(self) -> list[User]:
        rows = self.store.execute(
            "SELECT name, lane, password_hash IS NOT NULL, created_at FROM users ORDER BY name"
        ).fetchall()
        return [User(r[0], r[1], bool(r[2]), r[3]) for r in rows]

    def set_lane(self, name: str, lane: str) -> User:
        check_lane(lane)
        self._require(name)
        self.store.execute("UPDATE users SET lane = ? WHERE name = ?", (lane, name))
        return self.get(name)

    def set_password(self, name: str, password: str | None) -> User:
        self._require(name)
        if password is not None:
            self._check_password(password)
        # A new stamp ends every browser session of this user at its next request.
        self.store.execute("UPDATE users SET password_hash = ?, session_stamp = ? WHERE name = ?",
                           (hash_password(password) if password else None, _new_stamp(), name))
        return self.get(name)

    def remove(self, name: str) -> Removal:
        """Remove the user and every way in they had, in one transaction (see the module's notes)."""
        self._require(name)
        now = time.time()
        archive = f"{ARCHIVE_PREFIX}{name}:{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{secrets.token_hex(2)}"
        with self.store.transaction() as db:
            if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise UserError(f"No user named {name!r}. See `users list`.",
                                f"没有名为 {name!r} 的用户。请查看 `users list`。")
            revoked = db.execute("UPDATE api_keys SET revoked_at = ? WHERE owner = ? AND revoked_at IS NULL",
                                 (now, name)).rowcount
            db.execute("UPDATE api_keys SET owner = ? WHERE owner = ?", (archive, name))
            cancelled = db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, position = NULL, error_en = NULL, error_zh = NULL "
                "WHERE owner = ? AND status = ?", (CANCELLED, now, name, QUEUED)).rowcount
            stopping = db.execute("UPDATE jobs SET cancel_requested = 1 WHERE owner = ? AND status = ?",
                                  (name, RUNNING)).rowcount
            kept = db.execute("UPDATE jobs SET owner = ?, file_token = NULL WHERE owner = ?",
                              (archive, name)).rowcount
        return Removal(name, archive, revoked, cancelled, stopping, kept)

    def session_stamp(self, name: str) -> str | None:
        """The stamp a sign-in of `name` holds now; None when there is no such user (an `--auth`
        user, or one removed). Read on every request of a signed-in page: one primary-key SELECT."""
        rows = self.store.read("SELECT session_stamp FROM users WHERE name = ?", (str(name),))
        return rows[0][0] if rows else None

    def lane_of(self, name: str) -> str:
        user = self.get(name)
        return user.lane if user else STANDARD

    def any_password(self) -> bool:
        return bool(self.store.read("SELECT 1 FROM users WHERE password_hash IS NOT NULL LIMIT 1"))

    def check(self, name: str, password: str) -> bool:
        """Sign-in check; the same time is spent for an unknown name, so names cannot be probed."""
        rows = self.store.read("SELECT password_hash FROM users WHERE name = ?", (str(name),))
        row = rows[0] if rows else None
        if row is None or row[0] is None:
            verify_password(password, _DUMMY_HASH)
            return False
        return verify_password(password, row[0])

    def _require(self, name: str) -> None:
        if self.get(name) is None:
            raise UserError(f"No user named {name!r}. See `users list`.", f"没有名为 {name!r} 的用户。请查看 `users list`。")

    @staticmethod
    def _check_password(password: str) -> None:
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise UserError(
                f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
                f"密码长度需为 {MIN_PASSWORD} 到 {MAX_PASSWORD} 个字符。",
            )


def _new_stamp() -> str:
    return secrets.token_hex(8)


# Owners of a removed user's jobs and keys start with this; NAME_PATTERN has no ':', so no user has it.
ARCHIVE_PREFIX = "removed:"

_DUMMY_HASH = hash_password(secrets.token_hex(8))
