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

Passes: `grant` puts a user in the fast lane until a time (`lane_until`); a second grant adds
its days to what is left. Nobody acts when it ends: the lane is read against the clock each time
it is asked for, so from the end on the user is in the standard lane. A job keeps the lane it was
submitted with (the jobs table has its own), so a pass ending while a job waits changes nothing
for that job. `set_lane` means a lane without end, as it always did: it clears any pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Callable

from .errors import UnknownUser, UserError
from .job import CANCELLED, LANES, QUEUED, RUNNING, STANDARD
from .store import JobStore

# scrypt cost: 2^14 × 8 × 128 B = 16 MiB and ~50 ms per check (OWASP's minimum for scrypt).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME_PATTERN = re.compile(r"^[\w.@+-]{1,64}$")
MIN_PASSWORD = 6
MAX_PASSWORD = 1024  # bounds the hashing work an attacker can ask for
DAY_S = 24 * 3600
MAX_PASS_DAYS = 3660  # ten years: a longer pass is a lane without end (`set_lane`)


@dataclass(frozen=True)
class User:
    name: str
    lane: str               # the lane in force when the row was read: a pass that has ended reads standard
    has_password: bool
    created_at: float
    lane_until: float | None = None  # when the lane in force ends (epoch s); None: it has no end
    admin: bool = False     # sees the admin console (users, codes, the line, workers, plots)


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


_USER_COLUMNS = "name, lane, password_hash IS NOT NULL, created_at, lane_until, admin"


class Users:
    def __init__(self, store: JobStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock  # when passes end is read against this (tests pass their own)

    def add(self, name: str, password: str | None = None, lane: str = STANDARD, admin: bool = False) -> User:
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
            db.execute("INSERT INTO users (name, lane, password_hash, created_at, session_stamp, admin) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (name, lane, stored, time.time(), _new_stamp(), int(bool(admin))))
        return self.get(name)

    def get(self, name: str, now: float | None = None) -> User | None:
        """The user with the lane in force at `now` (default: the clock), or None."""
        # The read connection: the page asks for a lane and sign-in checks a name even while a
        # write waits on a lock held by another process.
        rows = self.store.read(f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,))
        return None if not rows else _user(rows[0], self._now(now))

    def list(self, now: float | None = None) -> list[User]:
        rows = self.store.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall()
        at = self._now(now)
        return [_user(row, at) for row in rows]

    def set_lane(self, name: str, lane: str) -> User:
        """Put the user in `lane` with no end (any pass is over)."""
        check_lane(lane)
        self._require(name)
        self.store.execute("UPDATE users SET lane = ?, lane_until = NULL WHERE name = ?", (lane, name))
        return self.get(name)

    def grant(self, name: str, lane: str, days: float | None = None, until: float | None = None,
              now: float | None = None) -> User:
        """A pass: `lane` for `days` more (added to what is left of a pass in that lane) or up to
        `until` (epoch s, exactly: it may shorten a pass). Afterwards the user is in the standard lane."""
        at = self._now(now)
        with self.store.transaction() as db:  # read and write in one transaction: two grants at once both count
            self.grant_within(db, name, lane, days, until, at)
        return self.get(name, at)

    def grant_within(self, db: sqlite3.Connection, name: str, lane: str, days: float | None, until: float | None,
                     at: float) -> float:
        """`grant` inside the caller's open transaction (a redeem code spent, a paid order recorded in the
        same one: both happen or neither does); the pass's new end."""
        check_lane(lane)
        _check_pass(lane, days, until, at)
        row = db.execute("SELECT lane, lane_until FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise _no_such_user(name)
        current, current_end = row
        if current == lane and current_end is None:
            raise UserError(
                f"{name} is already in the {lane} lane with no end: a pass would end it. To give a pass "
                f"instead, first `users set-lane {name} {STANDARD}`.",
                f"{name} 已在 {lane} 通道且没有截止时间：发放通行证反而会让它到期结束。如确需改为限时，"
                f"请先执行 `users set-lane {name} {STANDARD}`。",
            )
        if until is None:
            left_from = current_end if current == lane and current_end is not None and current_end > at else at
            until = left_from + days * DAY_S
        if until - at > MAX_PASS_DAYS * DAY_S:
            raise _too_long()
        db.execute("UPDATE users SET lane = ?, lane_until = ? WHERE name = ?", (lane, until, name))
        return until

    def set_admin(self, name: str, admin: bool) -> User:
        """Give or take the admin role; the page reads it on every console event, so it takes effect at once."""
        self._require(name)
        self.store.execute("UPDATE users SET admin = ? WHERE name = ?", (int(bool(admin)), name))
        return self.get(name)

    def is_admin(self, name: str | None) -> bool:
        """Whether `name` holds the admin role now (False for no name, an unknown one, or an `--auth` user)."""
        if not name:
            return False
        rows = self.store.read("SELECT admin FROM users WHERE name = ?", (str(name),))
        return bool(rows and rows[0][0])

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

    def lane_of(self, name: str, now: float | None = None) -> str:
        """The lane `name`'s jobs go to if submitted at `now` (default: the clock)."""
        user = self.get(name, now)
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
            raise _no_such_user(name)

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now

    @staticmethod
    def _check_password(password: str) -> None:
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise UserError(
                f"A password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
                f"密码长度需为 {MIN_PASSWORD} 到 {MAX_PASSWORD} 个字符。",
            )


def _new_stamp() -> str:
    return secrets.token_hex(8)


def _user(row: tuple, now: float) -> User:
    name, lane, has_password, created_at, until, admin = row
    if until is not None and now >= until:
        return User(name, STANDARD, bool(has_password), created_at, admin=bool(admin))  # the pass is over
    return User(name, lane, bool(has_password), created_at, until, bool(admin))


def _no_such_user(name: str) -> UserError:
    return UnknownUser(f"No user named {name!r}. See `users list`.", f"没有名为 {name!r} 的用户。请查看 `users list`。")


def _too_long() -> UserError:
    return UserError(
        f"A pass lasts at most {MAX_PASS_DAYS} days. For a lane without end, use `users set-lane`.",
        f"通行证最长 {MAX_PASS_DAYS} 天。如需不限期的通道，请使用 `users set-lane`。",
    )


def _check_pass(lane: str, days: float | None, until: float | None, now: float) -> None:
    """Refuse a pass that means nothing: to the standard lane, with no length or two, or one ending now or before."""
    if lane == STANDARD:
        raise UserError(
            "A pass is for the fast lane (vip): the standard lane is where a user is when a pass ends. "
            "To end a pass now, use `users set-lane NAME standard`.",
            "通行证用于 VIP 快速通道（vip）：通行证到期后用户本就回到普通通道。如要立即结束通行证，"
            "请使用 `users set-lane 用户名 standard`。",
        )
    if (days is None) == (until is None):
        raise UserError("Say how long the pass lasts: either --days N or --until DATE, not both.",
                        "请说明通行证的期限：--days 天数 或 --until 日期，二选一。")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not math.isfinite(days) or days <= 0:
            shown = f"{days:g}" if isinstance(days, (int, float)) and not isinstance(days, bool) else repr(days)
            raise UserError(f"--days {shown}: give a number of days above 0, such as 1 or 0.5.",
                            f"--days {shown}：请给出大于 0 的天数，例如 1 或 0.5。")
        if days > MAX_PASS_DAYS:
            raise _too_long()
    elif not isinstance(until, (int, float)) or not math.isfinite(until) or until <= now:
        shown = time.strftime("%Y-%m-%d %H:%M", time.localtime(until)) if isinstance(until, (int, float)) \
            and math.isfinite(until) else repr(until)
        raise UserError(f"--until {shown} is not in the future: give a date still to come.",
                        f"--until {shown} 不在将来：请给出一个尚未到来的时间。")


# Owners of a removed user's jobs and keys start with this; NAME_PATTERN has no ':', so no user has it.
ARCHIVE_PREFIX = "removed:"

_DUMMY_HASH = hash_password(secrets.token_hex(8))
