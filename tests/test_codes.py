"""Redeem codes (兑换码, issue 24 item 2): made by the operator, stored hashed, good once, case- and
dash-insensitive, rate-limited per user and per address, and one answer for every bad code.

Real SQLite files; the clock is held by the test (no sleeps); the CLI runs through its own main()."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from jobs import JobStore, Users
from jobs.codes import (
    ALPHABET, CODE_CHARS, FAILURE_WINDOW_S, MAX_FAILURES, REFUSED, CodeRefused, Codes, TooManyCodeTries, code_hash,
    normalize,
)
from jobs.errors import UserError
from jobs.job import STANDARD, VIP
from tests.conftest import Clock, run_cogvideo

DAY = 86400.0
T0 = 1_800_000_000.0



@pytest.fixture
def store(tmp_path):
    store = JobStore(tmp_path / "data")
    for name in ("alice", "bob"):
        Users(store).add(name, password=f"{name}-password")
    yield store
    store.close()


def test_a_code_grants_its_pass_once_and_passes_stack(store):
    clock = Clock(T0)
    codes = Codes(store, clock=clock)
    (first_id, first), (_, second) = codes.make(VIP, 1, 2)
    user = codes.redeem("alice", first, address="203.0.113.5")
    assert (user.lane, user.lane_until) == (VIP, T0 + DAY)
    clock.now += 3600
    user = codes.redeem("alice", second.lower().replace("-", " "))  # as people retype it
    assert user.lane_until == T0 + 2 * DAY  # stacked onto what was left
    assert codes.get(first_id).used_by == "alice" and codes.get(first_id).state(clock.now) == "used"
    with pytest.raises(CodeRefused):
        codes.redeem("bob", first)  # used
    clock.now = T0 + 2 * DAY
    assert Users(store, clock=clock).lane_of("alice") == STANDARD  # the pass ended by itself


def test_only_hashes_are_stored_and_codes_are_long_and_readable(store):
    made = Codes(store).make(VIP, 0.5, 20)
    texts = {code for _, code in made}
    assert len(texts) == 20
    for code in texts:
        assert len(normalize(code)) == CODE_CHARS and set(normalize(code)) <= set(ALPHABET)
        assert code.count("-") == CODE_CHARS // 4 - 1
    dump = "\n".join(sqlite3.connect(store.path).iterdump())
    assert not any(normalize(code) in dump or code in dump for code in texts)
    assert all(code_hash(code) in dump for code in texts)
    # Crockford's reading: O is 0 and I, L are 1, so a code read aloud or retyped still works.
    assert normalize("abio-lLo0") == "AB10110" + "0"


def test_wrong_used_expired_and_revoked_codes_get_one_answer(store):
    clock = Clock(T0)
    codes = Codes(store, clock=clock)
    (_, used), (revoked_id, revoked), (_, expiring) = (codes.make(VIP, 1, 1)[0], codes.make(VIP, 1, 1)[0],
                                                        codes.make(VIP, 1, 1, expires_at=T0 + 60)[0])
    codes.redeem("bob", used)
    assert codes.revoke(revoked_id).state(clock.now) == "revoked"
    clock.now += 120
    answers = []
    for user, code in (("alice", "AAAA-BBBB-CCCC-DDDD"), ("alice", used), ("alice", revoked), ("alice", expiring),
                       ("alice", ""), ("alice", "x" * 5000)):
        with pytest.raises(CodeRefused) as err:
            codes.redeem(user, code)
        answers.append((err.value.en, err.value.zh, err.value.status))
        codes._failures.clear()  # this test is about the answers, the next one about the limit
    assert set(answers) == {(REFUSED.en, REFUSED.zh, 400)}
    assert Users(store).lane_of("alice") == STANDARD


def test_ten_thousand_guesses_are_stopped_and_reveal_nothing(store):
    clock = Clock(T0)
    codes = Codes(store, clock=clock)
    (_, good), = codes.make(VIP, 1, 1)
    refused = blocked = 0
    for guess in range(10_000):
        try:
            codes.redeem("alice", f"{guess:016d}", address="198.51.100.7")
        except CodeRefused:
            refused += 1
        except TooManyCodeTries as exc:
            blocked += 1
            assert exc.status == 429 and exc.retry_after > 0 and "分钟后再试" in exc.zh
    assert refused == MAX_FAILURES and blocked == 10_000 - MAX_FAILURES
    # Blocked, even the real code says nothing: it is not looked at.
    with pytest.raises(TooManyCodeTries):
        codes.redeem("alice", good, address="198.51.100.7")
    # Another account from the same address is blocked too; the same account from another address as well.
    with pytest.raises(TooManyCodeTries):
        codes.redeem("bob", good, address="198.51.100.7")
    with pytest.raises(TooManyCodeTries):
        codes.redeem("alice", good, address="192.0.2.1")
    clock.now += FAILURE_WINDOW_S + 1  # the tries age out
    assert codes.redeem("alice", good, address="198.51.100.7").lane == VIP


def test_two_users_redeeming_one_code_at_once_exactly_one_wins(store, tmp_path):
    (_, code), = Codes(store).make(VIP, 1, 1)
    results: dict[str, object] = {}
    start = threading.Barrier(8)

    def redeem(name: str) -> None:
        own = JobStore(tmp_path / "data")  # each its own connection, as two app processes would have
        start.wait()
        try:
            results[name] = Codes(own).redeem(name, code).lane
        except CodeRefused as exc:
            results[name] = exc
        finally:
            own.close()

    names = [f"user{i}" for i in range(8)]
    for name in names:
        Users(store).add(name, password=f"{name}-password")
    threads = [threading.Thread(target=redeem, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, result in results.items() if result == VIP]
    assert len(winners) == 1, results
    assert [Users(store).lane_of(name) for name in names].count(VIP) == 1


def test_a_user_whose_fast_lane_has_no_end_keeps_the_code(store):
    Users(store).set_lane("bob", VIP)
    codes = Codes(store)
    (code_id, code), = codes.make(VIP, 1, 1)
    with pytest.raises(UserError):
        codes.redeem("bob", code)
    assert codes.get(code_id).state(T0) == "open"  # not spent on a pass that was not granted
    assert codes.redeem("alice", code).lane == VIP


@pytest.mark.parametrize("words, fragment", [
    (("--days", "0"), "--days 0 must be more than 0"),
    (("--days", "1", "--count", "0"), "--count 0 must be from 1"),
    (("--days", "1", "--lane", "standard"), "use --lane vip"),
    (("--days", "1", "--expires", "2001-01-01"), "--expires is in the past"),
    (("--days", "1", "--expires", "soon"), "--expires 'soon': give a date"),
    (("--days", "many"), "--days 'many'"),
])
def test_the_cli_refuses_bad_batches_in_both_languages(tmp_path, words, fragment):
    data = str(tmp_path / "data")
    ran = run_cogvideo("--lang", "en", "codes", "make", "--data-dir", data, *words)
    assert ran.returncode == 2 and fragment in ran.stderr and "Traceback" not in ran.stderr, ran
    ran = run_cogvideo("--lang", "zh", "codes", "make", "--data-dir", data, *words)
    assert ran.returncode == 2 and "Traceback" not in ran.stderr and any("\u4e00" <= c <= "\u9fff" for c in ran.stderr), ran


def test_the_cli_makes_lists_and_revokes(tmp_path):
    data = str(tmp_path / "data")
    ran = run_cogvideo("codes", "make", "--data-dir", data, "--days", "1", "--count", "3", "--expires", "2099-01-31")
    assert ran.returncode == 0 and "shown only now" in ran.stderr, ran
    lines = ran.stdout.split("\n")
    made = [line.split() for line in lines if line.strip()]
    assert len(made) == 3 and all(len(normalize(code)) == CODE_CHARS for code, _ in made)
    listing = run_cogvideo("codes", "list", "--data-dir", data)
    assert listing.returncode == 0 and listing.stdout.count("open") == 3 and "2099-01-31 00:00" in listing.stdout
    assert not any(code in listing.stdout for code, _ in made)  # ids only, never the codes
    revoked = run_cogvideo("codes", "revoke", "--data-dir", data, made[0][1])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    listing = run_cogvideo("codes", "list", "--data-dir", data)
    assert listing.stdout.count("open") == 2 and listing.stdout.count("revoked") == 1
    unknown = run_cogvideo("codes", "revoke", "--data-dir", data, "feedbeef")
    assert unknown.returncode == 2 and "No code with id 'feedbeef'" in unknown.stderr
