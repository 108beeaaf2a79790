"""Users and their lanes. Passwords are kept only as salted scrypt hashes.

A user with a password can sign in to the web app; a user without one exists for API keys (the
developer API issue). With no password anywhere, the app is single-user (owner "local").
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
from .job import LANES, STANDARD
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
            db.execute("INSERT INTO users (name, lane, password_hash, created_at) VALUES (?, ?, ?, ?)",
                       (name, lane, stored, time.time()))
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
        self.store.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                           (hash_password(password) if password else None, name))
        return self.get(name)

    def remove(self, name: str) -> None:
        self._require(name)
        self.store.execute("DELETE FROM users WHERE name = ?", (name,))

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


_DUMMY_HASH = hash_password(secrets.token_hex(8))
