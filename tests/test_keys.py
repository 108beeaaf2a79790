"""API keys: Zhipu-style `id.secret` keys, bearer and JWT checks, sealing, revocation, the `keys` CLI.

Real SQLite files in tmp_path, no mocks; a second JobStore on the same folder stands for another
process (the operator's CLI beside the running app).
"""

from __future__ import annotations

import json
import os
import random
import re
import stat
import sys
import time

import pytest

from cli.main import main
from jobs import ApiKey, ApiKeyError, ApiKeys, JobStore, Principal, UserError, Users

jwt = pytest.importorskip("jwt")

KEY = re.compile(r"^([0-9a-f]{16})\.([A-Za-z0-9_-]{32})$")


@pytest.fixture()
def store(tmp_path):
    store = JobStore(tmp_path / "data")
    yield store
    store.close()


def zai_jwt(key: str, exp_ms: int | None = None, secret: str | None = None, **headers) -> str:
    """A token made the way zai-sdk 0.2.3 makes it (zai/core/_jwt_token.py), with knobs for tests."""
    key_id, real_secret = key.split(".")
    now_ms = int(round(time.time() * 1000))
    payload = {"api_key": key_id, "exp": now_ms + 210_000 if exp_ms is None else exp_ms, "timestamp": now_ms}
    return jwt.encode(payload, secret or real_secret, algorithm="HS256",
                      headers={"alg": "HS256", "sign_type": "SIGN", **headers})


def cli(capsys, *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- the library


def test_add_gives_a_zhipu_style_key_that_authenticates(store):
    keys = ApiKeys(store)
    record, key = keys.add("alice", name="laptop")
    match = KEY.match(key)
    assert match and match.group(1) == record.id
    assert isinstance(record, ApiKey) and record.owner == "alice" and record.name == "laptop"
    assert record.last_used_at is None and record.revoked_at is None and record.active
    assert keys.authenticate(key) == Principal(owner="alice", key_id=record.id)
    assert keys.authenticate(f"Bearer {key}") == Principal("alice", record.id)  # a whole header value
    # a fresh instance (another request handler, a restarted app) reads it from the database
    assert ApiKeys(store).authenticate(key) == Principal("alice", record.id)
    assert [k.id for k in keys.list()] == [record.id] and keys.list("bob") == []


def test_wrong_unknown_and_garbage_tokens_are_none_and_never_raise(store):
    keys = ApiKeys(store)
    record, key = keys.add("alice")
    key_id, secret = key.split(".")
    other_secret = ApiKeys(store).add("alice")[1].split(".")[1]
    rejected = [
        f"{key_id}.{other_secret}",                  # another key's secret
        f"{key_id}.{secret[:-1]}",                   # one character short
        f"{key_id}.{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}",
        f"{'0' * 16}.{secret}",                      # unknown id
        f"{key_id.upper()}.{secret}",                # ids are lowercase
        f"{key_id}.{secret}.",                       # three parts but no JWT
        f"{key_id}..{secret}", f".{key_id}.{secret}",
        "", " ", ".", "..", "...", "Bearer ", "Bearer", key_id, secret, "a.b", "a.b.c", "e30.e30.", "e30.e30.e30",
        "\x00" * 64, "é.ü", f"{key_id}.{secret}\x00", "\ud800.\udfff",
        "x" * 10_000_000, f"{key_id}.{'a' * 5000}", ("a" * 2000 + ".") * 3,
        b"\xff\xfe\x00", bytearray(b"..."), None, 17, 1.5, [key], {"key": key}, object(),
    ]
    for token in rejected:
        assert keys.authenticate(token) is None, repr(token)[:80]
    assert keys.authenticate(key.encode()) == Principal("alice", record.id)  # bytes of a good key are fine

    rng = random.Random(7)
    alphabet = "abcdef0123456789._-=+/ {}\"\\:\x00\u00e9\u4e2dAZaz"
    for _ in range(3000):  # fuzz: random lengths, random characters, plenty of dots
        token = "".join(rng.choice(alphabet) for _ in range(rng.choice((0, 1, 3, 16, 17, 49, 60, 200, 900))))
        assert keys.authenticate(token) is None
    for _ in range(300):  # random bytes
        assert keys.authenticate(bytes(rng.randrange(256) for _ in range(rng.randrange(120)))) is None
    assert keys.authenticate(key) == Principal("alice", record.id)


def test_jwt_as_the_zhipu_sdk_makes_it(store):
    keys = ApiKeys(store)
    record, key = keys.add("alice", lane="vip")
    token = zai_jwt(key)
    assert jwt.get_unverified_header(token)["sign_type"] == "SIGN"
    assert keys.authenticate(token) == Principal("alice", record.id)
    assert keys.authenticate(f"Bearer {token}") == Principal("alice", record.id)
    # exp in seconds (RFC 7519 clients) is accepted too
    key_id, secret = key.split(".")
    seconds = jwt.encode({"api_key": key_id, "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    assert keys.authenticate(seconds) == Principal("alice", record.id)
    # another process (the app) with its own store verifies it: it unseals the secret from the master file
    other = JobStore(store.data_dir)
    try:
        assert ApiKeys(other).authenticate(token) == Principal("alice", record.id)
    finally:
        other.close()


def test_jwt_from_the_installed_zai_sdk(store):
    generate = pytest.importorskip("zai.core._jwt_token").generate_token
    keys = ApiKeys(store)
    record, key = keys.add("alice")
    assert keys.authenticate(generate(key)) == Principal("alice", record.id)


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # pyjwt on the HS512 token signed with a 32-byte secret
def test_bad_jwts_are_none(store):
    keys = ApiKeys(store)
    record, key = keys.add("alice")
    key_id, secret = key.split(".")
    now_ms = int(time.time() * 1000)
    other_key = keys.add("bob")[1]
    bad = [
        zai_jwt(key, exp_ms=now_ms - 120_000),                     # expired two minutes ago
        zai_jwt(key, exp_ms=now_ms - 3_600_000),
        zai_jwt(key, secret=other_key.split(".")[1]),              # signed with a wrong secret
        zai_jwt(key, secret=secret + "x"),
        jwt.encode({"api_key": key_id, "exp": now_ms + 60_000}, secret, algorithm="HS512"),  # not HS256
        jwt.encode({"api_key": key_id, "exp": now_ms + 60_000}, None, algorithm="none"),    # unsigned
        jwt.encode({"api_key": key_id, "timestamp": now_ms}, secret, algorithm="HS256"),     # no exp
        jwt.encode({"api_key": key_id, "exp": "tomorrow"}, secret, algorithm="HS256"),
        jwt.encode({"api_key": key_id, "exp": True}, secret, algorithm="HS256"),
        jwt.encode({"api_key": "0" * 16, "exp": now_ms + 60_000}, secret, algorithm="HS256"),  # unknown id
        jwt.encode({"api_key": [key_id], "exp": now_ms + 60_000}, secret, algorithm="HS256"),
        jwt.encode({"exp": now_ms + 60_000}, secret, algorithm="HS256"),
    ]
    good = zai_jwt(key)
    head, body, sig = good.split(".")
    b64 = lambda raw: jwt.utils.base64url_encode(raw).decode()  # noqa: E731
    infinite = b64(('{"api_key": "%s", "exp": Infinity}' % key_id).encode())
    huge = b64(('{"api_key": "%s", "exp": 1%s}' % (key_id, "0" * 400)).encode())
    minus_huge = b64(('{"api_key": "%s", "exp": -1%s}' % (key_id, "0" * 400)).encode())
    bad += [
        f"{head}.{body}.", f"{head}.{body}", f"{head}.{body}.{sig[:-2]}", f"{head}.{body}.{sig}x",
        f"{head}.{body}.{sig}.{sig}", f"{head}..{sig}", f".{body}.{sig}", f"{head}.{body}.{sig}=",
        f"{head}.{other_key.split('.')[0]}.{sig}", f"{head}.{body}.{'A' * len(sig)}",
        good.replace(".", "!"), good[:-9] + ("A" if good[-9] != "A" else "B") + good[-8:],
        # JSON that is not an object, absurd nesting, infinities
        f"{b64(b'[1]')}.{body}.{sig}",
        f"{head}.{b64(b'[' * 3000)}.{sig}",
        f"{head}.{infinite}.{sig}", f"{head}.{huge}.{sig}", f"{head}.{minus_huge}.{sig}",
    ]
    for token in bad:
        assert keys.authenticate(token) is None, token[:100]
    assert keys.authenticate(good) == Principal("alice", record.id)


def test_revoke_stops_a_key_at_once_also_from_another_process(store):
    keys = ApiKeys(store)
    first, first_key = keys.add("alice")
    second, second_key = keys.add("alice", name="ci")
    token = zai_jwt(second_key)
    assert keys.authenticate(first_key) and keys.authenticate(second_key) and keys.authenticate(token)
    assert keys.any_active()

    revoked = keys.revoke(first.id)
    assert revoked.id == first.id and revoked.revoked_at is not None and not revoked.active
    assert keys.authenticate(first_key) is None and keys.authenticate(zai_jwt(first_key)) is None
    assert keys.authenticate(second_key) is not None

    # the operator's CLI in another process: its own connection to the same folder, revoking by full key
    other = JobStore(store.data_dir)
    try:
        assert ApiKeys(other).revoke(second_key).id == second.id
    finally:
        other.close()
    assert keys.authenticate(second_key) is None and keys.authenticate(token) is None  # cached, yet refused
    assert not keys.any_active()
    assert keys.revoke(first.id).revoked_at == revoked.revoked_at  # twice: nothing changes

    with pytest.raises(ApiKeyError) as error:
        keys.revoke("0123456789abcdef")
    assert "'0123456789abcdef'" in error.value.en and "keys list" in error.value.en
    assert "'0123456789abcdef'" in error.value.zh and "keys list" in error.value.zh
    with pytest.raises(ApiKeyError) as error:  # an unknown full key: the secret is never echoed
        keys.revoke("0123456789abcdef.SECRET-PART-never-shown-anywhere")
    assert "SECRET" not in error.value.en and "SECRET" not in error.value.zh
    for junk in ("", "nope", "x" * 10_000):
        with pytest.raises(ApiKeyError):
            keys.revoke(junk)


def test_database_never_holds_a_secret_and_the_master_file_is_private(tmp_path):
    data = tmp_path / "data"
    store = JobStore(data)
    keys = ApiKeys(store)
    made = [keys.add(user, name=f"label {n}")[1] for n, user in enumerate(("alice", "bob", "alice"))]
    for key in made:
        assert keys.authenticate(key) and keys.authenticate(zai_jwt(key))
    keys.revoke(made[0])
    store.close()

    master = data / "api-keys.secret"
    assert master.stat().st_size == 32
    if os.name == "posix":
        assert stat.S_IMODE(master.stat().st_mode) == 0o600
    dumped = b"".join(p.read_bytes() for p in data.iterdir() if p.is_file() and p != master)
    assert b"label 1" in dumped  # the files read do hold the keys' rows
    for key in made:
        key_id, secret = key.split(".")
        assert key_id.encode() in dumped
        assert secret.encode() not in dumped and secret[:12].encode() not in dumped
    assert not [p for p in data.iterdir() if p.name.startswith(".api-keys")]  # no temporary file left behind

    # a second run reuses the master file: keys made before still verify as JWTs
    store = JobStore(data)
    try:
        assert ApiKeys(store).authenticate(zai_jwt(made[1])) is not None
        assert master.read_bytes() == master.read_bytes() and master.stat().st_size == 32
    finally:
        store.close()


def test_a_replaced_master_file_breaks_only_jwts(tmp_path):
    data = tmp_path / "data"
    store = JobStore(data)
    _, key = ApiKeys(store).add("alice")
    (data / "api-keys.secret").write_bytes(os.urandom(32))
    keys = ApiKeys(store)
    assert keys.authenticate(key) is not None           # the bearer check needs only the hash
    assert keys.authenticate(zai_jwt(key)) is None      # the sealed secret no longer opens
    (data / "api-keys.secret").write_bytes(b"short")
    with pytest.raises(ApiKeyError) as error:
        ApiKeys(store).add("bob")
    assert "api-keys.secret" in error.value.en and "api-keys.secret" in error.value.zh and "5 bytes" in error.value.en
    store.close()


def test_add_makes_a_password_less_user_and_sets_lanes(store):
    keys, users = ApiKeys(store), Users(store)
    keys.add("robot", lane="vip")
    robot = users.get("robot")
    assert robot.lane == "vip" and not robot.has_password
    keys.add("robot")                                    # no lane: the user keeps theirs
    assert users.lane_of("robot") == "vip"
    keys.add("robot", lane="standard")
    assert users.lane_of("robot") == "standard"
    users.add("carol", password="carol-pw", lane="standard")
    keys.add("carol", lane="vip")
    assert users.lane_of("carol") == "vip" and users.check("carol", "carol-pw")  # password kept
    keys.add("dave")
    assert users.get("dave").lane == "standard"

    count = len(keys.list())
    with pytest.raises(UserError):
        keys.add("no spaces allowed")
    with pytest.raises(UserError):
        keys.add("erin", lane="turbo")
    with pytest.raises(UserError):
        keys.add("robot", lane="turbo")
    with pytest.raises(ApiKeyError) as error:
        keys.add("robot", name="two\nlines")
    assert "'two\\nlines'" in error.value.en and "'two\\nlines'" in error.value.zh
    with pytest.raises(ApiKeyError):
        keys.add("robot", name="x" * 65)
    assert len(keys.list()) == count and users.get("erin") is None


def test_last_used_is_written_at_most_once_a_minute(store):
    keys = ApiKeys(store)
    record, key = keys.add("alice")
    assert keys.get(record.id).last_used_at is None
    before = time.time()
    assert keys.authenticate(key)
    # Written by a background thread (never on the event loop), soon after.
    first = wait_until(lambda: keys.get(record.id).last_used_at, 30)
    assert first >= before - 1
    for _ in range(5):
        assert keys.authenticate(key) and keys.authenticate(zai_jwt(key))
    assert keys.flush() and keys.get(record.id).last_used_at == first
    store.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (first - 120, record.id))  # two minutes ago
    other = ApiKeys(store)
    assert other.authenticate(key)
    assert wait_until(lambda: keys.get(record.id).last_used_at > first - 120, 30)


def wait_until(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("the condition never held")


def test_authenticate_is_fast(store):
    keys = ApiKeys(store)
    _, key = keys.add("alice")
    token = zai_jwt(key)
    assert keys.authenticate(key) and keys.authenticate(token)
    start = time.perf_counter()
    for _ in range(2000):
        keys.authenticate(key)
        keys.authenticate(token)
    assert (time.perf_counter() - start) / 4000 < 0.001  # well under a millisecond a call


# ---------------------------------------------------------------- the CLI


def test_keys_commands(tmp_path, capsys):
    data = str(tmp_path / "data")
    code, out, _ = cli(capsys, "keys", "list", "--data-dir", data)
    assert code == 0 and out.startswith("no API keys")

    code, out, _ = cli(capsys, "keys", "add", "robot", "--lane", "vip", "--label", "nightly build", "--data-dir", data)
    assert code == 0
    key = out.split()[-1]
    assert KEY.match(key) and "only" in out and "once" in out
    assert "Authorization: Bearer" in out and "/api/paas/v4" in out and "created user robot" in out
    code, out, _ = cli(capsys, "--lang", "zh", "keys", "add", "robot", "--data-dir", data)
    assert code == 0 and "只显示这一次" in out
    second = out.split()[-1]
    assert KEY.match(second) and second != key

    store = JobStore(data)
    try:
        robot = Users(store).get("robot")
        assert robot.lane == "vip" and not robot.has_password
        assert ApiKeys(store).authenticate(key) == Principal("robot", key.split(".")[0])
        assert ApiKeys(store).authenticate(second) is not None
    finally:
        store.close()

    cli(capsys, "keys", "add", "alice", "--data-dir", data)
    code, out, _ = cli(capsys, "keys", "list", "--data-dir", data)
    assert code == 0 and out.splitlines()[0].split()[:3] == ["id", "user", "label"]
    assert len(out.splitlines()) == 4 and "nightly build" in out and "never" in out
    for secret in (key, second):
        assert secret.split(".")[0] in out and secret.split(".")[1] not in out
    code, out, _ = cli(capsys, "keys", "list", "--user", "robot", "--json", "--data-dir", data)
    listed = json.loads(out)
    assert code == 0 and {k["id"] for k in listed} == {key.split(".")[0], second.split(".")[0]}
    assert {k["user"] for k in listed} == {"robot"} and all(k["active"] for k in listed)
    assert key.split(".")[1] not in out and second.split(".")[1] not in out

    code, out, _ = cli(capsys, "keys", "revoke", key.split(".")[0], "--data-dir", data)
    assert code == 0 and "revoked" in out and key.split(".")[0] in out
    code, out, _ = cli(capsys, "--lang", "zh", "keys", "revoke", second, "--data-dir", data)  # the whole key
    assert code == 0 and "已吊销" in out and second.split(".")[1] not in out
    code, out, _ = cli(capsys, "keys", "revoke", second, "--data-dir", data)
    assert code == 0 and "already revoked" in out
    code, _, err = cli(capsys, "keys", "revoke", "feedfacefeedface", "--data-dir", data)
    assert code == 2 and "No API key 'feedfacefeedface'" in err
    code, _, err = cli(capsys, "--lang", "zh", "keys", "revoke", "feedfacefeedface", "--data-dir", data)
    assert code == 2 and "没有 API 密钥 'feedfacefeedface'" in err
    code, out, _ = cli(capsys, "keys", "list", "--user", "robot", "--json", "--data-dir", data)
    assert not any(k["active"] for k in json.loads(out)) and all(k["revoked_at"] for k in json.loads(out))

    store = JobStore(data)
    try:
        assert ApiKeys(store).authenticate(key) is None and ApiKeys(store).authenticate(second) is None
    finally:
        store.close()


def test_keys_add_errors_are_bilingual(tmp_path, capsys):
    data = str(tmp_path / "data")
    code, _, err = cli(capsys, "keys", "add", "bad name", "--data-dir", data)
    assert code == 2 and "'bad name'" in err
    code, _, err = cli(capsys, "--lang", "zh", "keys", "add", "robot", "--label", "x" * 80, "--data-dir", data)
    assert code == 2 and "密钥备注" in err
    with pytest.raises(SystemExit):  # argparse refuses an unknown lane
        main(["keys", "add", "robot", "--lane", "turbo", "--data-dir", data])
    capsys.readouterr()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_keys_add_via_cli_makes_a_private_master_file(tmp_path, capsys):
    data = tmp_path / "data"
    old = os.umask(0)  # even a permissive umask gives 0600
    try:
        assert cli(capsys, "keys", "add", "robot", "--data-dir", str(data))[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((data / "api-keys.secret").stat().st_mode) == 0o600
