"""Passes (issue 24): a user's fast lane with an end. `users grant NAME --lane vip --days N` (or
`--until DATE`) adds to what is left; at the end the user is back in the standard lane with no one
acting, while a job submitted during the pass keeps its lane. The header says the lane and the end.

A clock the tests hold stands in for time (`Users(store, clock=...)`): nothing here sleeps."""

from __future__ import annotations

import sqlite3
import time

import pytest

from agent import PromptAgent
from cogvideo import VideoRequest
from jobs import JobService, JobStore, LocalWorker, Users
from jobs.errors import UserError
from jobs.job import STANDARD, VIP
from jobs.keys import ApiKeys
from jobs.store import MIGRATIONS, SCHEMA_VERSION
from jobs.users import DAY_S
from tests.conftest import Clock, run_cogvideo
from ui import words
from ui.handlers import Handlers

FAST = dict(num_inference_steps=2, num_frames=9)
# 2026-12-07 14:00 on this machine's clock: a grant of one day ends 12-08 14:00, local time.
NOON_ISH = time.mktime((2026, 12, 7, 14, 0, 0, 0, 0, -1))



@pytest.fixture()
def store(tmp_path):
    opened = JobStore(tmp_path / "data")
    yield opened
    opened.close()


# ---------------------------------------------------------------- Users.grant


def test_a_pass_stacks_onto_what_is_left_and_ends_by_itself(store):
    clock = Clock(NOON_ISH)
    users = Users(store, clock=clock)
    users.add("bob")
    assert users.grant("bob", VIP, days=1).lane_until == NOON_ISH + DAY_S
    clock.now += 6 * 3600  # six hours into the pass, a second day is added to its end, not to now
    stacked = users.grant("bob", VIP, days=1)
    assert stacked.lane == VIP and stacked.lane_until == NOON_ISH + 2 * DAY_S

    clock.now = NOON_ISH + 2 * DAY_S - 1
    assert users.lane_of("bob") == VIP
    clock.now = NOON_ISH + 2 * DAY_S  # the end: standard, with no one having acted
    assert users.lane_of("bob") == STANDARD
    assert users.get("bob").lane_until is None and users.list()[0].lane == STANDARD

    clock.now += 30 * DAY_S  # a pass after one has ended starts from now, not from the old end
    assert users.grant("bob", VIP, days=0.5).lane_until == clock.now + DAY_S / 2


def test_until_sets_the_end_and_set_lane_means_no_end(store):
    clock = Clock(NOON_ISH)
    users = Users(store, clock=clock)
    users.add("bob")
    users.grant("bob", VIP, days=5)
    shorter = users.grant("bob", VIP, until=NOON_ISH + 3600)  # an exact end, even an earlier one
    assert shorter.lane_until == NOON_ISH + 3600
    forever = users.set_lane("bob", VIP)
    assert forever.lane == VIP and forever.lane_until is None
    clock.now += 400 * DAY_S
    assert users.lane_of("bob") == VIP
    assert users.set_lane("bob", STANDARD).lane_until is None


@pytest.mark.parametrize("kwargs, said", [
    (dict(lane=STANDARD, days=1), "A pass is for the fast lane"),
    (dict(lane=VIP), "either --days N or --until DATE"),
    (dict(lane=VIP, days=1, until=NOON_ISH + DAY_S), "either --days N or --until DATE"),
    (dict(lane=VIP, days=0), "--days 0: give a number of days above 0"),
    (dict(lane=VIP, days=-2), "--days -2"),
    (dict(lane=VIP, days=float("inf")), "--days inf"),
    (dict(lane=VIP, until=NOON_ISH), "is not in the future"),
    (dict(lane=VIP, days=5000), "at most 3660 days"),
    (dict(lane="gold", days=1), "Unknown lane"),
])
def test_a_pass_that_means_nothing_is_refused_and_nothing_changes(store, kwargs, said):
    users = Users(store, clock=Clock(NOON_ISH))
    users.add("bob")
    with pytest.raises(UserError) as refused:
        users.grant("bob", **kwargs)
    assert said in refused.value.text.en and refused.value.text.zh
    assert users.get("bob").lane == STANDARD and users.get("bob").lane_until is None


def test_a_pass_for_someone_unknown_or_already_in_the_fast_lane_for_good_is_refused(store):
    users = Users(store, clock=Clock(NOON_ISH))
    with pytest.raises(UserError, match="No user named 'nobody'"):
        users.grant("nobody", VIP, days=1)
    users.add("vera", lane=VIP)
    with pytest.raises(UserError, match="already in the vip lane with no end"):
        users.grant("vera", VIP, days=1)  # a pass would end a lane that has no end
    assert users.get("vera").lane_until is None


def test_an_api_keys_own_lane_is_a_lane_without_end_as_before(store):
    users = Users(store, clock=Clock(NOON_ISH))
    users.add("bob")
    users.grant("bob", VIP, days=1)
    keys = ApiKeys(store)
    keys.add("bob")  # no lane: the pass stays
    assert Users(store).get("bob").lane_until == NOON_ISH + DAY_S
    keys.add("bob", lane=VIP)  # `keys add --lane vip` puts the user in the fast lane, with no end
    assert users.get("bob").lane == VIP and users.get("bob").lane_until is None
    keys.add("newcomer", lane=VIP)
    assert users.get("newcomer").lane == VIP and users.get("newcomer").lane_until is None


def test_a_database_from_before_passes_gains_the_column_and_keeps_every_lane(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    db = sqlite3.connect(old / "studio.db")
    db.executescript(";".join(MIGRATIONS[n] for n in (1, 2, 3)) + "; PRAGMA user_version = 3;")
    db.execute("INSERT INTO users (name, lane, created_at, session_stamp) VALUES ('vera', 'vip', 0, 'x')")
    db.commit()
    db.close()
    store = JobStore(old)
    try:
        assert store.schema_version == SCHEMA_VERSION >= 4
        vera = Users(store).get("vera")
        assert vera.lane == VIP and vera.lane_until is None  # a lane from before has no end
    finally:
        store.close()


# ---------------------------------------------------------------- the jobs


def test_a_job_submitted_during_a_pass_keeps_the_fast_lane_after_it_ends(studio, store):
    """A pass ending while its job waits: the job keeps its lane and its place ahead of the standard
    lane; the user's next job is a standard one. No worker runs, so every job waits."""
    service = JobService(store, [LocalWorker(studio)])
    clock = Clock(time.time())
    service.users.clock = clock
    service.users.add("bob")
    service.users.add("carol")
    service.users.grant("bob", VIP, days=1)

    carols = service.submit(VideoRequest(prompt="carol first", **FAST), owner="carol")
    during = service.submit(VideoRequest(prompt="bob during the pass", **FAST), owner="bob")
    assert during.lane == VIP and store.get(during.id).position == 1 and store.get(carols.id).position == 2

    clock.now += DAY_S  # the pass ends while bob's job waits
    after = service.submit(VideoRequest(prompt="bob after the pass", **FAST), owner="bob")
    assert after.lane == STANDARD
    assert store.get(during.id).lane == VIP and store.get(during.id).position == 1
    assert store.get(carols.id).position == 2 and store.get(after.id).position == 3


# ---------------------------------------------------------------- the operator's command


def test_grant_from_the_command_line_stacks_and_list_shows_the_end(tmp_path):
    data = str(tmp_path / "data")
    assert run_cogvideo("users", "add", "bob", "--no-password", "--data-dir", data).returncode == 0
    first = run_cogvideo("users", "grant", "bob", "--lane", "vip", "--days", "1", "--data-dir", data)
    assert first.returncode == 0, first.stderr
    store = JobStore(data)
    try:
        end = Users(store).get("bob").lane_until
        assert end == pytest.approx(time.time() + DAY_S, abs=60)
        shown = time.strftime("%Y-%m-%d %H:%M", time.localtime(end))
        assert f"bob is in the vip lane until {shown}" in first.stdout

        again = run_cogvideo("--lang", "zh", "users", "grant", "bob", "--days", "0.5", "--data-dir", data)
        assert again.returncode == 0, again.stderr
        stacked = Users(store).get("bob").lane_until
        assert stacked == pytest.approx(end + DAY_S / 2)
        assert f"在 vip 通道直到 {time.strftime('%Y-%m-%d %H:%M', time.localtime(stacked))}" in again.stdout
        assert f"原先到 {shown}" in again.stdout

        year = time.localtime().tm_year + 2  # a date to come, within the longest pass
        exact = run_cogvideo("users", "grant", "bob", "--until", f"{year}-12-31 18:00", "--data-dir", data)
        assert exact.returncode == 0, exact.stderr
        assert Users(store).get("bob").lane_until == time.mktime((year, 12, 31, 18, 0, 0, 0, 0, -1))
        listed = run_cogvideo("users", "list", "--data-dir", data).stdout.splitlines()
        assert listed[0].split()[-2:] == ["lane", "ends"]
        assert listed[1].split()[:2] == ["bob", "vip"] and listed[1].endswith(f"{year}-12-31 18:00")

        run_cogvideo("users", "set-lane", "bob", "standard", "--data-dir", data)
        assert run_cogvideo("users", "list", "--data-dir", data).stdout.splitlines()[1].endswith(" -")
        midnight = run_cogvideo("users", "grant", "bob", "--until", f"{year}-01-02", "--data-dir", data)
        assert midnight.returncode == 0 and f"until {year}-01-02 00:00" in midnight.stdout
    finally:
        store.close()


@pytest.mark.parametrize("words, en, zh", [
    (("--days", "0"), "--days 0: give a number of days above 0", "请给出大于 0 的天数"),
    (("--days", "-1"), "--days -1: give a number", "请给出大于 0 的天数"),
    (("--days", "soon"), "--days 'soon': give a number", "请给出大于 0 的天数"),
    (("--until", "2020-01-01"), "--until 2020-01-01 00:00 is not in the future", "不在将来"),
    (("--until", "next week"), "give a date such as 2026-12-31", "请给出日期"),
    (("--until", "2999-01-01"), "at most 3660 days", "最长 3660 天"),
    (("--days", "1", "--until", "2030-01-01"), "either --days N or --until DATE, not both", "二选一"),
    ((), "either --days N or --until DATE", "二选一"),
    (("--lane", "standard", "--days", "1"), "A pass is for the fast lane", "通行证用于 VIP 快速通道"),
])
def test_every_refusal_of_grant_is_said_in_both_languages(tmp_path, words, en, zh):
    data = str(tmp_path / "data")
    run_cogvideo("users", "add", "bob", "--no-password", "--data-dir", data)
    english = run_cogvideo("users", "grant", "bob", *words, "--data-dir", data)
    assert english.returncode == 2 and en in english.stderr and "Traceback" not in english.stderr
    chinese = run_cogvideo("--lang", "zh", "users", "grant", "bob", *words, "--data-dir", data)
    assert chinese.returncode == 2 and zh in chinese.stderr
    store = JobStore(data)
    try:
        assert Users(store).get("bob").lane_until is None  # nothing was granted
    finally:
        store.close()


def test_grant_refuses_an_unknown_user_and_a_lane_without_end(tmp_path):
    data = str(tmp_path / "data")
    unknown = run_cogvideo("--lang", "zh", "users", "grant", "nobody", "--days", "1", "--data-dir", data)
    assert unknown.returncode == 2 and "没有名为 'nobody' 的用户" in unknown.stderr
    run_cogvideo("users", "add", "vera", "--no-password", "--lane", "vip", "--data-dir", data)
    forever = run_cogvideo("users", "grant", "vera", "--days", "1", "--data-dir", data)
    assert forever.returncode == 2 and "`users set-lane vera standard`" in forever.stderr


# ---------------------------------------------------------------- the header


def test_the_lane_words_say_when_a_pass_ends_in_the_pages_language():
    end = NOON_ISH + DAY_S
    assert words.lane_words(VIP, end, "zh", NOON_ISH) == "VIP 通道 · 至 12-08 14:00"
    assert words.lane_words(VIP, end, "en", NOON_ISH) == "fast lane · until 12-08 14:00"
    next_year = time.mktime((2027, 1, 2, 9, 30, 0, 0, 0, -1))
    assert words.lane_words(VIP, next_year, "en", NOON_ISH) == "fast lane · until 2027-01-02 09:30"
    assert words.lane_words(VIP, None, "zh", NOON_ISH) == "VIP 快速通道"  # no end: as before
    assert words.lane_words(STANDARD, None, "en", NOON_ISH) == "standard lane"


class SignedIn:
    """What the handlers read of a Gradio request: the signed-in user and the page's language."""

    def __init__(self, username: str, language: str):
        self.username = username
        self.session_hash = f"{username}-{language}"
        self.headers = {"accept-language": language}


def test_the_header_shows_a_pass_and_its_end_only_while_it_lasts(studio, store):
    service = JobService(store, [LocalWorker(studio)])
    clock = Clock(NOON_ISH)
    service.users.clock = clock
    service.users.add("bob", password="bob-password")
    service.users.add("carol", password="carol-password")
    service.users.grant("bob", VIP, days=1)
    handlers = Handlers(studio, PromptAgent(), service)
    zh, en = SignedIn("bob", "zh-CN,zh;q=0.9"), SignedIn("bob", "en-US,en;q=0.9")

    first_zh = handlers.status_line(zh).partition("\n")[0]
    assert first_zh.endswith('· <span class="lane">VIP 通道 · 至 12-08 14:00</span>')
    assert handlers.status_line(en).partition("\n")[0].endswith('<span class="lane">fast lane · until 12-08 14:00</span>')
    assert "VIP 通道 · 至 12-08 14:00 · 共 0 个作品" in handlers.works_gallery(zh)[2]
    assert handlers.status_line(SignedIn("carol", "zh-CN")).partition("\n")[0].endswith('"lane">普通通道</span>')

    clock.now = NOON_ISH + DAY_S  # the pass is over: the header says so at its next refresh
    assert handlers.status_line(zh).partition("\n")[0].endswith('"lane">普通通道</span>')
    assert "until" not in handlers.status_line(en).partition("\n")[0]


# ---------------------------------------------------------------- the real app


def test_a_signed_in_user_with_a_pass_renders_in_the_fast_lane(tmp_path):
    """The operator's command on the data folder, then the app: bob's job through the page's named
    API goes in the fast lane while his pass lasts."""
    from gradio_client import Client

    from tests.conftest import InProcessApp

    data = tmp_path / "data"
    run_cogvideo("users", "add", "bob", "--password-stdin", "--data-dir", str(data), stdin="bob-password\n")
    run_cogvideo("users", "add", "carol", "--password-stdin", "--data-dir", str(data), stdin="carol-password\n")
    assert run_cogvideo("users", "grant", "bob", "--days", "1", "--data-dir", str(data)).returncode == 0
    running = InProcessApp(tmp_path, data_dir=data)
    try:
        bob = Client(running.url, auth=("bob", "bob-password"), verbose=False)
        carol = Client(running.url, auth=("carol", "carol-password"), verbose=False)
        _, bobs = bob.predict(prompt="bob's pass", seed=1, api_name="/text_to_video", **FAST)
        _, carols = carol.predict(prompt="carol's", seed=2, api_name="/text_to_video", **FAST)
        assert bobs["lane"] == VIP and carols["lane"] == STANDARD
    finally:
        running.close()
