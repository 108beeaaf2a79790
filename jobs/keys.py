"""API keys for the developer API, in the format of Zhipu's open platform: `<id>.<secret>`.

A key is `id.secret`: `id` is 16 lowercase hex characters (public: listed, logged, stored with
each job), `secret` is 32 URL-safe characters (192 random bits). Zhipu's SDKs (zai-sdk,
`ZhipuAiClient(api_key=..., base_url="http://HOST:7860/api/paas/v4")`) send it one of two ways:

- `Authorization: Bearer <id>.<secret>` verbatim (their default, `disable_token_cache=True`);
- `Authorization: Bearer <JWT>` (with `disable_token_cache=False`): HS256, header
  `{"alg": "HS256", "sign_type": "SIGN"}`, payload `{"api_key": <id>, "exp": <ms since epoch>,
  "timestamp": <ms>}`, signed with the secret as the HMAC key (zai/core/_jwt_token.py). `exp` is
  in milliseconds; a value below 10^11 is read as seconds, for clients that follow RFC 7519.

How the secret is kept (table `api_keys`; the database alone never reveals a key):

- `secret_hash` = hex SHA-256 of the secret. This is all the bearer check needs, compared with
  `hmac.compare_digest`. The secret is 192 random bits, so an unsalted fast hash cannot be
  reversed by guessing; a salt or a slow hash would only cost time on every API call.
- `sealed_secret`: verifying a JWT needs the secret itself (it is the HMAC key), so it is kept
  sealed: base64 of `secret XOR keystream`, with the keystream HKDF-Expand (RFC 5869, SHA-256,
  info "cogvideo api key seal") of the pseudo-random key HMAC-SHA256(master, key id), as long as
  the secret. `master` is 32 random bytes in `<data_dir>/api-keys.secret`, created on first use
  with mode 0600. Each key id gets its own keystream, used once, so a copy of `studio.db` (a
  backup, a shared disk) opens nothing without that file. Whoever has both files and can read
  them can make keys' JWTs: protect the data folder as a whole. If the master file is lost,
  bearer keys keep working and JWTs of the keys made before fail (create new keys).

`ApiKeys.authenticate` runs on every API call (about 20 µs): one primary-key SELECT, so a key
revoked by `python -m cogvideo keys revoke` from another process stops working on the next call;
then a SHA-256 (bearer) or, for a JWT not seen before, one HMAC with the secret, unsealed once per
key and cached. A verified JWT is remembered until it expires (zai-sdk reuses one for three
minutes). `last_used_at` is written at most once a minute per key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import JobError, UserError
from .job import STANDARD
from .private import FILE_MODE, MASTER_NAME, tighten
from .store import JobStore
from .users import Users

log = logging.getLogger(__name__)

MASTER_BYTES = 32
SEAL_INFO = b"cogvideo api key seal"
MAX_TOKEN = 4096            # a zai-sdk JWT is ~200 characters; anything far longer is not ours
MAX_LABEL = 64
TOUCH_EVERY_S = 60.0        # last_used_at is written at most this often per key
TOUCH_FLUSH_S = 1.0         # how soon (and how often, while it fails) a noted use is written
JWT_LEEWAY_S = 30.0         # clock skew allowed between the caller and this machine
MS_THRESHOLD = 10**11       # an `exp` above this is milliseconds (zai-sdk), below it seconds
_CACHE_MAX = 10_000

_ID = re.compile(r"[0-9a-f]{16}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class ApiKeyError(JobError):
    """An API-key command with an unknown key or a bad label; the message quotes the value."""


@dataclass(frozen=True)
class ApiKey:
    """One key as the operator sees it: never its secret."""

    id: str
    owner: str
    name: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Principal:
    """Who an API call acts for: the key's owner (a user name) and the key's id."""

    owner: str
    key_id: str


_KEY_COLUMNS = "id, owner, name, created_at, last_used_at, revoked_at"


class ApiKeys:
    def __init__(self, store: JobStore):
        self.store = store
        self.master_path = Path(store.data_dir) / MASTER_NAME
        self._master_bytes: bytes | None = None
        self._master_lock = threading.Lock()
        # key id -> (sealed_secret as stored, the secret or None when it does not open)
        self._secrets: dict[str, tuple[str, bytes | None]] = {}
        # JWT -> (key id, expiry in seconds), for tokens whose signature was verified
        self._jwts: dict[str, tuple[str, float]] = {}
        # key id -> when this process last wrote its last_used_at
        self._touched: dict[str, float] = {}
        # key id -> a last use not yet written: a background thread writes them (see `_touch`)
        self._unwritten: dict[str, float] = {}
        self._touch_lock = threading.Lock()
        self._flusher: threading.Thread | None = None

    # ------------------------------------------------------------ operator side

    def add(self, user: str, name: str | None = None, lane: str | None = None) -> tuple[ApiKey, str]:
        """Create a key for `user` (the user is created WITHOUT a password if missing, in `lane` or standard;
        if `lane` is given for an existing user, set that user's lane, with no end). Returns the record and the full key."""
        label = _check_label(name)
        users = Users(self.store)
        existing = users.get(user) if isinstance(user, str) else None
        if existing is None:
            try:
                users.add(user, password=None, lane=lane or STANDARD)
            except UserError:
                if not isinstance(user, str) or users.get(user) is None:
                    raise  # a bad name or lane; not a race with another process adding the same user
                if lane is not None:
                    users.set_lane(user, lane)
        elif lane is not None and (lane != existing.lane or existing.lane_until is not None):
            users.set_lane(user, lane)  # `--lane` is a lane without end, as `users set-lane`: a pass gives way

        master = self._master()
        for _ in range(5):
            key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(24)
            raw = secret.encode()
            sealed = base64.b64encode(_xor(raw, _keystream(master, key_id, len(raw)))).decode()
            try:
                self.store.execute(
                    "INSERT INTO api_keys (id, owner, name, secret_hash, sealed_secret, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (key_id, user, label, hashlib.sha256(raw).hexdigest(), sealed, time.time()),
                )
            except sqlite3.IntegrityError:  # 2^-64 odds of an id already taken: draw again
                continue
            self._secrets[key_id] = (sealed, raw)
            return self.get(key_id), f"{key_id}.{secret}"
        raise RuntimeError("could not draw an unused API key id")  # pragma: no cover

    def get(self, key_id: str) -> ApiKey | None:
        row = self.store.execute(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (str(key_id),)).fetchone()
        return None if row is None else ApiKey(*row)

    def list(self, user: str | None = None) -> list[ApiKey]:
        sql, params = f"SELECT {_KEY_COLUMNS} FROM api_keys", []
        if user is not None:
            sql += " WHERE owner = ?"
            params.append(user)
        rows = self.store.execute(sql + " ORDER BY created_at DESC, id", params).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id or the full key; it stops working on the next call, in every
        process. Revoking a revoked key changes nothing and returns it."""
        text = key_id.strip() if isinstance(key_id, str) else ""
        ident = text.split(".", 1)[0].lower()  # from a full key keep the id: never echo a secret
        with self.store.transaction() as db:
            row = db.execute("SELECT revoked_at FROM api_keys WHERE id = ?", (ident,)).fetchone() \
                if _ID.fullmatch(ident) else None
            if row is None:
                shown = ident[:32] if text else str(key_id)[:32]
                raise ApiKeyError(
                    f"No API key {shown!r}. Give the key's id (its first 16 characters, see `keys list`) "
                    "or the whole key.",
                    f"没有 API 密钥 {shown!r}。请提供密钥的 id（前 16 个字符，见 `keys list`）或完整密钥。",
                )
            if row[0] is None:
                db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (time.time(), ident))
        self._secrets.pop(ident, None)
        return self.get(ident)

    def any_active(self) -> bool:
        return bool(self.store.read("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1"))

    # ------------------------------------------------------------ every API call

    def authenticate(self, token: str) -> Principal | None:
        """The caller of `Authorization: Bearer <token>`: `token` is the full key or a zai-sdk JWT.
        None for anything else (unknown, revoked, expired, malformed); never raises on bad input."""
        if isinstance(token, (bytes, bytearray)):
            try:
                token = bytes(token).decode("ascii")
            except UnicodeDecodeError:
                return None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
            return None
        token = token.strip()
        if token[:7].lower() == "bearer ":  # a whole header value: forgive it
            token = token[7:].strip()
        parts = token.split(".")
        if len(parts) == 2:
            key_id, secret = parts
            if not (_ID.fullmatch(key_id) and _SECRET.fullmatch(secret)):
                return None
            row = self._row(key_id)
            if row is None or not hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), row[3]):
                return None
        elif len(parts) == 3:
            # zai-sdk reuses one JWT for three minutes: a token verified once is looked up, not re-verified.
            # Expiry and revocation are still checked on every call.
            known = self._jwts.get(token)
            if known is None:
                found = self._check_jwt(parts)
                if found is None:
                    return None
                key_id, expires, row = found
                if len(self._jwts) >= _CACHE_MAX:
                    self._jwts.clear()
                self._jwts[token] = (key_id, expires)
            else:
                key_id, expires = known
                if expires + JWT_LEEWAY_S < time.time():
                    self._jwts.pop(token, None)
                    return None
                row = self._row(key_id)
                if row is None:
                    return None
        else:
            return None
        self._touch(key_id, row[2])
        return Principal(row[0], key_id)

    def _row(self, key_id: str) -> tuple | None:
        """(owner, revoked_at, last_used_at, secret_hash, sealed_secret) of an active key, read
        from the database on every call: a revocation by another process counts at once. A key
        whose owner is no longer a user is dead too (removal revokes it; this holds even if not)."""
        rows = self.store.read(
            "SELECT owner, revoked_at, last_used_at, secret_hash, sealed_secret FROM api_keys "
            "WHERE id = ? AND EXISTS (SELECT 1 FROM users WHERE users.name = api_keys.owner)",
            (key_id,),
        )
        return None if not rows or rows[0][1] is not None else rows[0]

    def _check_jwt(self, parts: list[str]) -> tuple[str, float, tuple] | None:
        """(key id, expiry in seconds, row) of a valid, unexpired HS256 JWT of an active key."""
        head64, body64, sig64 = parts
        try:
            if not all(_B64URL.fullmatch(p) for p in parts):
                return None
            header = json.loads(_b64decode(head64))
            if not isinstance(header, dict) or header.get("alg") != "HS256":
                return None  # never "none", never another algorithm
            body = json.loads(_b64decode(body64))
            if not isinstance(body, dict):
                return None
            key_id, exp = body.get("api_key"), body.get("exp")
            if not isinstance(key_id, str) or not _ID.fullmatch(key_id):
                return None
            if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
                return None
            signature = _b64decode(sig64)
        except (ValueError, TypeError, ArithmeticError, RecursionError):  # bad base64 or JSON, absurd numbers
            return None
        expires = exp / 1000 if exp > MS_THRESHOLD else exp
        if expires + JWT_LEEWAY_S < time.time():
            return None
        row = self._row(key_id)
        if row is None:
            return None
        secret = self._secret(key_id, row)
        if secret is None:
            return None
        expected = hmac.new(secret, f"{head64}.{body64}".encode(), hashlib.sha256).digest()
        return (key_id, expires, row) if hmac.compare_digest(expected, signature) else None

    def _secret(self, key_id: str, row: tuple) -> bytes | None:
        """The key's secret, unsealed once and then cached (checked against its hash)."""
        sealed = row[4]
        cached = self._secrets.get(key_id)
        if cached is not None and cached[0] == sealed:
            return cached[1]
        try:
            raw = base64.b64decode(sealed, validate=True)
            secret = _xor(raw, _keystream(self._master(), key_id, len(raw)))
        except (ValueError, OSError, ApiKeyError) as exc:
            log.warning("API key %s: cannot unseal its secret (%s); JWT sign-in fails, bearer keys work", key_id, exc)
            secret = None
        if secret is not None and not hmac.compare_digest(hashlib.sha256(secret).hexdigest(), row[3]):
            log.warning("API key %s: %s does not open its secret (replaced or lost?); JWT sign-in with this key "
                        "fails, bearer keys work. Create a new key.", key_id, self.master_path)
            secret = None
        if len(self._secrets) >= _CACHE_MAX:
            self._secrets.clear()
        self._secrets[key_id] = (sealed, secret)
        return secret

    def _touch(self, key_id: str, last_used_at: float | None) -> None:
        """Note the key's use; a background thread writes it. The check runs on the web server's
        event loop, where a write could wait the writer's busy timeout behind another process's
        lock and freeze every page (issue 20): last_used_at is best effort, a few seconds late."""
        now = time.time()
        if last_used_at is not None and now - last_used_at < TOUCH_EVERY_S:
            return
        if now - self._touched.get(key_id, 0.0) < TOUCH_EVERY_S:
            return  # this process wrote (or tried) within the minute
        if len(self._touched) >= _CACHE_MAX:
            self._touched.clear()
        self._touched[key_id] = now
        with self._touch_lock:
            if len(self._unwritten) < _CACHE_MAX:
                self._unwritten[key_id] = now
            if self._flusher is None or not self._flusher.is_alive():
                self._flusher = threading.Thread(target=self._flush_loop, name="api-key-last-used", daemon=True)
                self._flusher.start()

    def flush(self) -> bool:
        """Write the noted last uses; those that fail (a busy or full database) stay for the next
        try. True when nothing is left."""
        with self._touch_lock:
            pending = dict(self._unwritten)
        for key_id, when in pending.items():
            try:  # the condition keeps several processes from writing within the same minute
                self.store.execute(
                    "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
                    (when, key_id, when - TOUCH_EVERY_S),
                )
            except sqlite3.ProgrammingError:
                raise  # the store was closed: nothing more will be written
            except sqlite3.Error as exc:
                log.warning("API key %s: last_used_at not written yet (%s); trying again", key_id, exc)
                continue
            with self._touch_lock:
                if self._unwritten.get(key_id) == when:
                    del self._unwritten[key_id]
        with self._touch_lock:
            return not self._unwritten

    def _flush_loop(self) -> None:
        """Ends when everything is written; the next use starts it again. After a failed write it
        waits longer each time, up to a minute."""
        wait = TOUCH_FLUSH_S
        while True:
            time.sleep(wait)
            try:
                if self.flush():
                    with self._touch_lock:
                        if not self._unwritten:
                            self._flusher = None
                            return
                wait = min(2 * wait, TOUCH_EVERY_S)
            except sqlite3.ProgrammingError:  # the store was closed (shutdown): best effort ends here
                return
            except Exception:
                log.exception("writing API keys' last use failed")
                return

    # ------------------------------------------------------------ the master secret

    def _master(self) -> bytes:
        if self._master_bytes is None:
            with self._master_lock:
                if self._master_bytes is None:
                    self._master_bytes = _load_master(self.master_path)
        return self._master_bytes


def _load_master(path: Path) -> bytes:
    """Read `api-keys.secret`, creating it (32 random bytes, mode 0600) if missing. Two processes
    creating it at once agree: the file appears whole under its name (a hard link), or not at all."""
    try:
        data = path.read_bytes()
        tighten(path, FILE_MODE)  # made readable by others (a copy, a restore): private again
    except FileNotFoundError:
        data = _create_master(path)
    except OSError as exc:
        raise ApiKeyError(
            f"Cannot read {path} ({exc.strerror or exc}). Give this user read access to it.",
            f"无法读取 {path}（{exc.strerror or exc}）。请为当前用户授予读取权限。",
        ) from None
    if len(data) != MASTER_BYTES:
        raise ApiKeyError(
            f"{path} is damaged ({len(data)} bytes, expected {MASTER_BYTES}). Restore it from a backup; "
            "or move it away (a new one is made) and create new API keys: JWTs of the old keys will fail.",
            f"{path} 已损坏（{len(data)} 字节，应为 {MASTER_BYTES}）。请从备份恢复；"
            "或将其移走（会生成新文件）并重新创建 API 密钥：旧密钥的 JWT 将无法验证。",
        )
    return data


def _create_master(path: Path) -> bytes:
    data = secrets.token_bytes(MASTER_BYTES)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # exactly 0600, whatever the umask
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)
        except FileExistsError:
            data = path.read_bytes()  # another process made it first: use theirs
        except OSError:  # a filesystem without hard links
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                data = path.read_bytes()
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
    except OSError as exc:
        raise ApiKeyError(
            f"Cannot create {path} ({exc.strerror or exc}). Give this user write access to the data folder, "
            "or choose another one with --data-dir / STUDIO_DATA_DIR.",
            f"无法创建 {path}（{exc.strerror or exc}）。请为当前用户授予数据目录的写权限，"
            "或用 --data-dir / STUDIO_DATA_DIR 指定其他目录。",
        ) from None
    finally:
        try:
            temp.unlink()
        except OSError:
            pass
    return data


def _keystream(master: bytes, key_id: str, length: int) -> bytes:
    """HKDF-Expand(PRK = HMAC-SHA256(master, key_id), info, length)."""
    prk = hmac.new(master, key_id.encode(), hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + SEAL_INFO + bytes((counter,)), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream))


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_label(name: str | None) -> str:
    if name is None:
        return ""
    if not isinstance(name, str) or len(name.strip()) > MAX_LABEL or any(
            ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        shown = str(name)[:80]
        raise ApiKeyError(
            f"Key label {shown!r} is not allowed: use at most {MAX_LABEL} characters on one line, "
            "for example the machine or the script that uses the key.",
            f"密钥备注 {shown!r} 不可用：最多 {MAX_LABEL} 个字符且不能换行，例如写上使用该密钥的机器或脚本。",
        )
    return name.strip()
