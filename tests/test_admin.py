"""The admin console (issue 24, item 5): the admin role (`users add NAME --admin`, `users set-admin`),
the console's reads from the job store (jobs/console.py) at chosen times, and the role checked in
every console handler, not only in the tab's visibility. The console in Chromium is
tests/e2e/test_admin_ui.py."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from jobs import JobStore, Users
from jobs import console
from jobs.codes import Codes
from jobs.job import FAILED, QUEUED, RUNNING, STANDARD, SUCCEEDED, VIP, Job
from jobs.store import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import run_cogvideo

NOW = 1_800_000_000.0 + 1800  # half past an hour: the current hour has begun
H = 3600


@pytest.fixture
def store(tmp_path):
    opened = JobStore(tmp_path / "data")
    yield opened
    opened.close()


def put(store: JobStore, owner: str, lane: str, status: str, created: float, started: float | None = None,
        finished: float | None = None, model: str = "5b", speed: str = "quality", worker: str | None = None) -> str:
    """A job row at chosen times, as the service would have left it."""
    job_id = uuid.uuid4().hex[:12]
    store.insert(Job(job_id, owner, lane, "t2v", {"prompt": "a cat", "speed": speed}, QUEUED, created))
    info = json.dumps({"model": model, "speed": speed}) if status == SUCCEEDED else None
    store.execute("UPDATE jobs SET status = ?, started_at = ?, finished_at = ?, info = ?, worker = ?, position = ? "
                  "WHERE id = ?", (status, started, finished, info, worker, None, job_id))
    return job_id


# ---------------------------------------------------------------- the role

def test_the_admin_role_from_the_cli_in_both_languages(tmp_path):
    data = str(tmp_path / "data")
    added = run_cogvideo("users", "add", "ops", "--admin", "--password", "s3cret-pw", "--data-dir", data)
    assert added.returncode == 0 and "added ops (standard lane, admin)" in added.stdout
    assert run_cogvideo("users", "add", "bob", "--password", "s3cret-pw", "--data-dir", data).returncode == 0
    listed = run_cogvideo("users", "list", "--data-dir", data).stdout.splitlines()
    assert listed[0].split()[-3:] == ["admin", "lane", "ends"]
    assert listed[1].split()[0] == "bob" and listed[1].split()[-2:] == ["no", "-"]
    assert listed[2].split()[0] == "ops" and listed[2].split()[-2:] == ["yes", "-"]

    made = run_cogvideo("--lang", "zh", "users", "set-admin", "bob", "on", "--data-dir", data)
    assert made.returncode == 0 and "bob 现在是管理员" in made.stdout
    taken = run_cogvideo("users", "set-admin", "ops", "off", "--data-dir", data)
    assert taken.returncode == 0 and "ops is no longer an admin" in taken.stdout
    unknown = run_cogvideo("--lang", "zh", "users", "set-admin", "nobody", "on", "--data-dir", data)
    assert unknown.returncode == 2 and "没有名为 'nobody' 的用户" in unknown.stderr and "Traceback" not in unknown.stderr

    store = JobStore(data)
    try:
        users = Users(store)
        assert users.get("bob").admin and not users.get("ops").admin
        assert users.is_admin("bob") and not users.is_admin("ops") and not users.is_admin("nobody")
        assert not users.is_admin(None) and not users.is_admin("")
    finally:
        store.close()


def test_an_older_database_gains_the_role_with_nobody_admin(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    db = sqlite3.connect(folder / "studio.db")
    db.executescript(";".join(MIGRATIONS[n] for n in range(1, 8)) + "; PRAGMA user_version = 7;")
    db.execute("INSERT INTO users (name, lane, created_at, session_stamp) VALUES ('old', 'vip', 0, 'x')")
    db.commit()
    db.close()
    store = JobStore(folder)
    try:
        assert store.schema_version == SCHEMA_VERSION >= 8
        old = Users(store).get("old")
        assert old.lane == VIP and old.admin is False
    finally:
        store.close()


# ---------------------------------------------------------------- the reads

def test_users_and_codes_rows(store):
    users = Users(store, clock=lambda: NOW)
    users.add("ann", admin=True)
    users.add("bob")
    users.grant("bob", VIP, days=2, now=NOW)
    put(store, "bob", VIP, SUCCEEDED, NOW - 600, NOW - 590, NOW - 500)
    put(store, "bob", VIP, SUCCEEDED, NOW - 3 * 86400, NOW - 3 * 86400 + 5, NOW - 3 * 86400 + 60)
    rows = {row["name"]: row for row in console.users_rows(store, NOW)}
    assert rows["ann"] == {"name": "ann", "lane": STANDARD, "lane_until": None, "admin": True, "today": 0, "total": 0}
    assert rows["bob"]["lane"] == VIP and rows["bob"]["lane_until"] == NOW + 2 * 86400
    assert (rows["bob"]["today"], rows["bob"]["total"]) == (1, 2)

    Codes(store, clock=lambda: NOW).make(VIP, 7, 2)
    codes = console.codes_rows(store, NOW)
    assert len(codes) == 2 and {c["state"] for c in codes} == {"open"} and all(c["days"] == 7 for c in codes)
    assert not any("code" in key for row in codes for key in row)  # never the code itself


def test_the_line_puts_rendering_first_then_the_start_order(store):
    put(store, "bob", STANDARD, SUCCEEDED, NOW - 900, NOW - 800, NOW - 700)
    late = put(store, "bob", STANDARD, QUEUED, NOW - 300)
    early = put(store, "ann", VIP, QUEUED, NOW - 200)
    running = put(store, "cy", STANDARD, RUNNING, NOW - 500, NOW - 400, worker="gpu0")
    store.set_positions({early: 1, late: 2})
    line = console.line_rows(store)
    assert [row["id"] for row in line] == [running, early, late]
    assert line[0]["worker"] == "gpu0" and line[1]["position"] == 1 and line[1]["lane"] == VIP


def test_jobs_per_hour_by_lane_over_the_last_day(store):
    put(store, "a", VIP, SUCCEEDED, NOW - 60, NOW - 50, NOW - 10)
    put(store, "a", VIP, QUEUED, NOW - 30)
    put(store, "b", STANDARD, SUCCEEDED, NOW - 2 * H, NOW - 2 * H + 100, NOW - 2 * H + 200)
    put(store, "b", STANDARD, SUCCEEDED, NOW - 30 * H, NOW - 30 * H + 1, NOW - 30 * H + 2)  # older than a day
    rows = console.jobs_per_hour(store, NOW)
    assert len(rows) == 24 * 2 and rows[-1]["hour"] == NOW - 1800
    by = {(row["hour"], row["lane"]): row["jobs"] for row in rows}
    assert by[(NOW - 1800, VIP)] == 2 and by[(NOW - 1800, STANDARD)] == 0
    assert by[(NOW - 1800 - 2 * H, STANDARD)] == 1
    assert sum(by.values()) == 3


def test_wait_percentiles_by_lane_measure_the_fast_lanes_promise(store):
    for wait in range(1, 11):  # fast lane: waits of 1..10 s
        put(store, "v", VIP, SUCCEEDED, NOW - 5 * H, NOW - 5 * H + wait, NOW - 4 * H)
    for wait in (100, 200, 300, 400):
        put(store, "s", STANDARD, SUCCEEDED, NOW - 3 * H, NOW - 3 * H + wait, NOW - 2 * H)
    put(store, "s", STANDARD, QUEUED, NOW - 1000)  # still waiting: counted with its wait so far
    put(store, "s", STANDARD, SUCCEEDED, NOW - 40 * H, NOW - 39 * H, NOW - 38 * H)  # started before the day
    found = {row["lane"]: row for row in console.waits(store, NOW)}
    assert found[VIP] == {"lane": VIP, "p50": 5, "p95": 10, "jobs": 10}
    assert found[STANDARD]["jobs"] == 5 and found[STANDARD]["p50"] == 300 and found[STANDARD]["p95"] == 1000


def test_render_time_by_model_and_preset_and_failures_per_hour(store):
    for seconds in (60, 80, 100):
        put(store, "a", VIP, SUCCEEDED, NOW - 2 * H, NOW - 2 * H, NOW - 2 * H + seconds, model="5b", speed="quality")
    put(store, "a", VIP, SUCCEEDED, NOW - H, NOW - H, NOW - H + 30, model="5b", speed="fast")
    put(store, "a", VIP, FAILED, NOW - H, NOW - H, NOW - H + 5)
    put(store, "a", VIP, FAILED, NOW - 300, NOW - 290, NOW - 200)
    renders = console.render_times(store, NOW)
    assert renders == [{"model": "5b", "speed": "fast", "median": 30, "max": 30, "jobs": 1},
                       {"model": "5b", "speed": "quality", "median": 80, "max": 100, "jobs": 3}]
    failures = console.failures_per_hour(store, NOW)
    assert len(failures) == 24 and sum(row["failed"] for row in failures) == 2
    assert failures[-1] == {"hour": NOW - 1800, "failed": 1}


def test_an_empty_store_reads_as_empty_plots(store):
    assert console.waits(store, NOW) == [] and console.render_times(store, NOW) == []
    assert console.line_rows(store) == [] and console.users_rows(store, NOW) == []
    assert all(row["jobs"] == 0 for row in console.jobs_per_hour(store, NOW))


# ---------------------------------------------------------------- the console's handlers

def asking(username: str | None, lang: str = "zh-CN"):
    """What the console reads of a Gradio request: the signed-in name and the language."""
    from types import SimpleNamespace

    return SimpleNamespace(username=username, client=SimpleNamespace(host="10.0.0.1"),
                           headers={"accept-language": lang})


@pytest.fixture
def admin_console(studio, tmp_path):
    from agent import PromptAgent
    from jobs import JobService, LocalWorker
    from ui.admin import AdminConsole
    from ui.handlers import Handlers

    service = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)])  # not started: the line stays
    users = Users(service.store)
    users.add("ops", admin=True)
    users.add("bob")
    yield AdminConsole(Handlers(studio, PromptAgent(), service))
    service.store.close()


def test_a_non_admin_gets_a_refusal_from_every_console_event(admin_console):
    import gradio as gr

    waiting = put(admin_console.store, "bob", STANDARD, QUEUED, NOW)
    for who, lang, said in (("bob", "zh-CN", "此页面仅供管理员使用"), (None, "en-US", "for the studio's admins"),
                            ("nobody", "en-US", "for the studio's admins")):
        request = asking(who, lang)
        assert not admin_console.is_admin(request)
        with pytest.raises(gr.Error) as refused:
            admin_console.everything(request)
        assert said in str(refused.value.message)
        with pytest.raises(gr.Error):
            admin_console.cancel(waiting, request)
    assert admin_console.store.get(waiting).status == QUEUED  # nothing was cancelled

    Users(admin_console.store).set_admin("ops", False)  # taken away: refused from the next click on
    with pytest.raises(gr.Error):
        admin_console.everything(asking("ops"))


def test_an_admin_reads_everything_in_the_page_language_and_cancels(admin_console):
    store = admin_console.store
    waiting = put(store, "bob", STANDARD, QUEUED, NOW - 120)
    put(store, "bob", VIP, SUCCEEDED, NOW - 600, NOW - 590, NOW - 500)
    users, codes, line, workers, per_hour, waits, renders, failures = admin_console.everything(asking("ops"))
    assert list(users.columns)[:3] == ["用户", "通道", "通行证到期"] and set(users["用户"]) == {"ops", "bob"}
    assert list(line["任务"]) == [waiting] and list(line["状态"]) == ["排队中"] and list(line["类型"]) == ["文生视频"]
    assert list(workers["状态"]) == ["空闲"]
    assert per_hour.title == "每小时任务数（按通道）" and "VIP 快速通道" in set(per_hour.value["data"][i][1]
                                                                       for i in range(len(per_hour.value["data"])))
    english = admin_console.everything(asking("ops", "en-US"))
    assert list(english[0].columns)[0] == "User" and english[5].title.startswith("Wait before start")

    table, chosen = admin_console.cancel(waiting, asking("ops"))
    assert store.get(waiting).status == "cancelled" and table.empty and chosen == ""
