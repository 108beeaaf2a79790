"""Redeem codes (兑换码): how a self-hosted studio sells or hands out fast-lane passes without a
payment provider (issue 24, item 2).

The operator makes a batch (`codes make --lane vip --days 1 --count 50`), hands the codes out, and
a signed-in user redeems one on the page: the pass is granted (`Users.grant`, stacking onto what is
left) and the code is spent.

- A code is 16 characters of Crockford's base32 (80 random bits), printed in groups of four. It is
  read case- and dash-insensitively, with O read as 0 and I or L as 1, as people retype it.
- Only its SHA-256 is stored (80 bits leave nothing to guess from the hash); the operator sees a
  short id in `codes list` and revokes by it.
- Spending is one conditional UPDATE: of two users redeeming one code at once exactly one wins.
- A guess never says whether a code exists: wrong, used, expired and revoked codes get the same
  answer. Failed tries are limited per user and per address (MAX_FAILURES in FAILURE_WINDOW_S), and
  a blocked caller is refused before any code is looked at.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from bilingual import Text

from .errors import JobError, UserError
from .job import STANDARD
from .store import JobStore
from .users import User, Users, check_lane

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O or U
CODE_CHARS = 16
GROUP = 4
# What people type for what they read: Crockford's decoding rules.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
MAX_COUNT = 10_000
MAX_DAYS = 3660  # as a pass granted by hand (jobs/users.py)
MAX_FAILURES = 5  # failed tries per user and per address ...
FAILURE_WINDOW_S = 15 * 60  # ... within this long; then that caller waits until the oldest try ages out
MAX_CODE_INPUT = 64  # longer input is no code of ours: refused before any work


class CodeRefused(JobError):
    """A code that cannot be redeemed, for whatever reason: one answer for all (no oracle)."""

    status = 400


class TooManyCodeTries(JobError):
    """Too many failed codes from one user or one address."""

    status = 429


REFUSED = Text(
    "This code cannot be redeemed. Check it for typos: a code works once, before its expiry date.",
    "这个兑换码无法使用。请检查是否输错：每个兑换码只能使用一次，且需在有效期内使用。",
)


@dataclass(frozen=True)
class RedeemCode:
    """One code as the operator sees it: never the code itself."""

    id: str
    lane: str
    days: float
    created_at: float
    expires_at: float | None
    used_by: str | None
    used_at: float | None
    revoked_at: float | None

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.used_at is not None:
            return "used"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "open"


_COLUMNS = "id, lane, days, created_at, expires_at, used_by, used_at, revoked_at"


def normalize(code: str) -> str:
    """The code as stored: upper case, no dashes or spaces, O as 0 and I, L as 1."""
    return "".join(code.split()).replace("-", "").upper().translate(_READ_AS)


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i:i + GROUP] for i in range(0, CODE_CHARS, GROUP))


class Codes:
    def __init__(self, store: JobStore, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock
        self.users = Users(store, clock=clock)
        self._failures: dict[str, deque[float]] = {}  # "user:NAME" / "addr:IP" -> failed tries' times
        self._lock = threading.Lock()

    # ------------------------------------------------------------ operator side

    def make(self, lane: str, days: float, count: int, expires_at: float | None = None) -> list[tuple[str, str]]:
        """`count` new codes for a `days`-day pass in `lane`: (id, code) pairs, the codes shown once."""
        check_lane(lane)
        now = self.clock()
        if lane == STANDARD:
            raise UserError("A code grants a pass to the fast lane: use --lane vip.",
                            "兑换码用于开通快速通道：请使用 --lane vip。")
        if not 0 < days <= MAX_DAYS:
            raise UserError(f"--days {days:g} must be more than 0 and at most {MAX_DAYS}.",
                            f"--days {days:g} 必须大于 0 且不超过 {MAX_DAYS}。")
        if not 1 <= count <= MAX_COUNT:
            raise UserError(f"--count {count} must be from 1 to {MAX_COUNT}.",
                            f"--count {count} 必须在 1 到 {MAX_COUNT} 之间。")
        if expires_at is not None and expires_at <= now:
            raise UserError("--expires is in the past: give a later date.", "--expires 已经过去：请给出更晚的日期。")
        made = [(secrets.token_hex(4), new_code()) for _ in range(count)]
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO redeem_codes (id, code_hash, lane, days, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(code_id, code_hash(code), lane, float(days), now, expires_at) for code_id, code in made])
        return made

    def list(self) -> list[RedeemCode]:
        rows = self.store.read(f"SELECT {_COLUMNS} FROM redeem_codes ORDER BY created_at DESC, id")
        return [RedeemCode(*row) for row in rows]

    def get(self, code_id: str) -> RedeemCode | None:
        rows = self.store.read(f"SELECT {_COLUMNS} FROM redeem_codes WHERE id = ?", (code_id,))
        return RedeemCode(*rows[0]) if rows else None

    def revoke(self, code_id: str) -> RedeemCode:
        """An unused code stops working at once; a used one stays as it is (its pass was granted)."""
        self.store.execute("UPDATE redeem_codes SET revoked_at = ? WHERE id = ? AND used_at IS NULL "
                           "AND revoked_at IS NULL", (self.clock(), code_id))
        code = self.get(code_id)
        if code is None:
            raise UserError(f"No code with id {code_id!r}; `codes list` shows the ids.",
                            f"没有 id 为 {code_id!r} 的兑换码；`codes list` 会列出所有 id。")
        return code

    # ------------------------------------------------------------ the user's side

    def redeem(self, user: str, code: str, address: str | None = None) -> User:
        """Spend `code` for `user` (signed in) and grant its pass; the user with the pass."""
        callers = [f"user:{user}"] + ([f"addr:{address}"] if address else [])
        now = self.clock()
        self._check_tries(callers, now)
        if not code or len(code) > MAX_CODE_INPUT or len(normalize(code)) != CODE_CHARS:
            self._failed(callers, now)
            raise CodeRefused(REFUSED.en, REFUSED.zh)
        digest = code_hash(code)
        # The code spent and the pass granted in one transaction: a refused grant (a user whose fast
        # lane has no end) or a crash between them leaves the code good and the user as they were.
        with self.store.transaction() as db:
            spent = db.execute(
                "UPDATE redeem_codes SET used_by = ?, used_at = ? WHERE code_hash = ? AND used_at IS NULL "
                "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", (user, now, digest, now))
            if spent.rowcount == 1:
                lane, days = db.execute("SELECT lane, days FROM redeem_codes WHERE code_hash = ?", (digest,)).fetchone()
                self.users.grant_within(db, user, lane, days, None, now)
        if spent.rowcount != 1:
            self._failed(callers, now)
            raise CodeRefused(REFUSED.en, REFUSED.zh)
        return self.users.get(user, now)

    def _check_tries(self, callers: list[str], now: float) -> None:
        with self._lock:
            for caller in callers:
                tries = self._failures.get(caller)
                while tries and tries[0] <= now - FAILURE_WINDOW_S:
                    tries.popleft()
                if tries is not None and not tries:
                    del self._failures[caller]  # a forgotten caller costs no memory
                if tries and len(tries) >= MAX_FAILURES:
                    minutes = max(1, round((tries[0] + FAILURE_WINDOW_S - now) / 60))
                    error = TooManyCodeTries(
                        f"Too many codes that did not work. Try again in {minutes} min.",
                        f"输错的兑换码太多了，请 {minutes} 分钟后再试。")
                    error.retry_after = minutes * 60
                    raise error

    def _failed(self, callers: list[str], now: float) -> None:
        with self._lock:
            for caller in callers:
                self._failures.setdefault(caller, deque()).append(now)
