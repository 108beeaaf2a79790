"""The job service with the tiny model: a real SQLite file, real renders, real files on disk."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cogvideo import VideoRequest
from cogvideo.errors import InvalidRequest
from cogvideo.media import codec
from jobs import (
    DataDirError, DataDirLock, JobNotFound, JobService, JobStore, LocalWorker, QueueFull, Users,
)
from jobs.errors import TooManyJobs
from jobs.job import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from jobs.scheduler import MAX_VIP_STREAK, pick_next, positions, start_order
from jobs.users import hash_password, verify_password
from tests.conftest import make_photo

FAST = dict(num_inference_steps=2, num_frames=9)


def request(prompt="a cat", **values) -> VideoRequest:
    return VideoRequest(prompt=prompt, **{**FAST, **values})


class GatedWorker(LocalWorker):
    """The real studio, but each job waits for `gate` before rendering: the test decides when
    the worker is busy, so the order of the line is observable."""

    def __init__(self, studio):
        super().__init__(studio)
        self.gate = threading.Event()
        self.started: list[str] = []

    def run(self, request, progress, cancel, job_id=None):
        self.started.append(request.prompt)
        while not self.gate.wait(0.02):
            if cancel.is_set():
                break
        return super().run(request, progress, cancel, job_id)


@pytest.fixture()
def store(tmp_path):
    opened = JobStore(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture()
def service(studio, store):
    running = JobService(store, [LocalWorker(studio)], max_queue=8, poll_s=0.1).start()
    yield running
    running.close()


@pytest.fixture()
def gated(studio, store):
    worker = GatedWorker(studio)
    running = JobService(store, [worker], max_queue=8, poll_s=0.1).start()
    yield running, worker
    worker.gate.set()
    running.close()


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


# ---------------------------------------------------------------- the scheduler rule

def queue(*lanes: str) -> list[tuple[str, str, int]]:
    """Jobs named after their lane and submission order: v1, s2, ..."""
    return [(f"{lane[0]}{seq}", lane, seq) for seq, lane in enumerate(lanes, start=1)]


def test_fast_lane_goes_first_and_each_lane_keeps_its_order():
    order = start_order(queue("standard", "standard", "vip", "vip"))
    assert order == ["v3", "v4", "s1", "s2"]


def test_a_standard_job_never_waits_behind_more_than_four_fast_lane_jobs():
    order = start_order(queue("standard", *["vip"] * 10, "standard"))
    assert order[: MAX_VIP_STREAK + 1] == ["v2", "v3", "v4", "v5", "s1"]
    first_standard, second_standard = order.index("s1"), order.index("s12")
    assert second_standard - first_standard - 1 <= MAX_VIP_STREAK


def test_the_streak_only_counts_while_someone_waits():
    # Fast-lane jobs that ran while nobody else waited do not count against a newcomer...
    assert pick_next(queue("vip", "vip"), streak=0).streak == 0
    assert pick_next(queue("vip"), streak=3).streak == 0
    # ...those that jump a waiting standard job do.
    assert pick_next(queue("standard", "vip"), streak=0) == pick_next(queue("standard", "vip"), streak=0)
    assert pick_next(queue("standard", "vip"), streak=2).streak == 3
    assert pick_next(queue("standard", "vip"), streak=MAX_VIP_STREAK).job_id == "s1"
    assert pick_next([], 0) is None


def test_a_submit_writes_only_the_places_in_line_that_moved(studio, store):
    line = JobService(store, [LocalWorker(studio)], max_queue=50)  # not started: every job waits
    standard = [line.submit(request(f"s{i}"), owner=f"user{i}").id for i in range(10)]
    before = store._db.total_changes
    late = line.submit(request("last"), owner="late", lane="standard").id
    # The new row, its place and its use of the day's free videos: the ten ahead did not move.
    assert store._db.total_changes - before <= 3
    assert [line.get(job_id).position for job_id in standard + [late]] == list(range(1, 12))
    fast = line.submit(request("vip"), owner="vip", lane="vip").id  # jumps the line: every place moves
    assert line.get(fast).position == 1
    assert [line.get(job_id).position for job_id in standard + [late]] == list(range(2, 13))


def test_positions_follow_the_start_order():
    assert positions(queue("standard", "vip", "standard")) == {"v2": 1, "s1": 2, "s3": 3}


# ---------------------------------------------------------------- the store

def test_store_is_wal_versioned_and_indexed(store):
    assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version >= 1
    plan = " ".join(r[-1] for r in store.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE owner = ? ORDER BY created_at DESC", ("a",)).fetchall())
    assert "jobs_by_owner" in plan


def test_a_file_that_is_not_sqlite_is_refused_by_name(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "studio.db").write_bytes(b"this is a text file, not a database " * 200)
    with pytest.raises(DataDirError) as err:
        JobStore(folder)
    assert str(folder / "studio.db") in err.value.en and "not a studio database" in err.value.en
    assert "不是本工具的数据库" in err.value.zh


def test_a_data_folder_that_cannot_be_written_is_refused_by_name(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DataDirError) as err:
        JobStore(blocker / "data")
    assert "not writable" in err.value.en and str(blocker / "data") in err.value.en


def test_a_read_only_data_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (root writes through permission bits)")
    try:
        with pytest.raises(DataDirError) as err:
            JobStore(folder)
        assert "not writable" in err.value.en and "Read-only" in err.value.en
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_newer_schema_is_refused(tmp_path):
    folder = tmp_path / "data"
    JobStore(folder).close()
    db = sqlite3.connect(folder / "studio.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(DataDirError) as err:
        JobStore(folder)
    assert "newer release" in err.value.en


def test_an_older_schema_is_migrated_in_place(tmp_path):
    from jobs.store import MIGRATIONS, SCHEMA_VERSION

    folder = tmp_path / "data"
    folder.mkdir()
    db = sqlite3.connect(folder / "studio.db")
    db.executescript(MIGRATIONS[1] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO jobs (id, owner, lane, mode, request, status, created_at) "
               "VALUES ('a' , 'old', 'standard', 't2v', '{\"prompt\": \"kept\"}', 'succeeded', 1)")
    db.commit()
    db.close()
    migrated = JobStore(folder)
    assert migrated.schema_version == SCHEMA_VERSION > 1
    kept = migrated.get("a")
    assert kept.user_prompt == "kept" and kept.request_id is None and kept.file_token is None
    migrated.close()


def test_listing_ten_thousand_jobs_uses_the_index(store):
    rows = [(f"{i:032x}", "busy" if i % 2 else "other", "standard", "t2v", '{"prompt": "x"}', SUCCEEDED, 1e9 + i)
            for i in range(20_000)]
    with store.transaction() as db:
        db.executemany("INSERT INTO jobs (id, owner, lane, mode, request, status, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    jobs = store.list(owner="busy")
    assert len(jobs) == 10_000 and jobs[0].created_at > jobs[-1].created_at


# ---------------------------------------------------------------- one serving process per data folder

def test_a_second_process_on_the_same_data_folder_is_refused_with_the_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, '.'); from jobs import DataDirLock; "
         f"lock = DataDirLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirError) as err:
            DataDirLock(tmp_path).acquire()
        assert f"PID {holder.pid}" in err.value.en and str(tmp_path) in err.value.en
    finally:
        holder.kill()  # SIGKILL: the OS drops the lock with the process
        holder.wait()
    with DataDirLock(tmp_path):
        pass


# ---------------------------------------------------------------- users

def test_passwords_are_kept_as_salted_scrypt_hashes(store):
    users = Users(store)
    users.add("alice", password="correct horse", lane="vip")
    stored = store.execute("SELECT password_hash FROM users WHERE name = 'alice'").fetchone()[0]
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert stored != hash_password("correct horse")  # salted
    assert users.check("alice", "correct horse") and not users.check("alice", "wrong")
    assert not users.check("nobody", "correct horse")
    assert not verify_password("x" * 5000, stored)
    assert users.lane_of("alice") == "vip" and users.lane_of("nobody") == "standard"


def test_user_mistakes_get_clear_messages(store):
    users = Users(store)
    users.add("bob", password=None)
    for call, words in [
        (lambda: users.add("bob", password="secret12"), "already exists"),
        (lambda: users.add("bad name!", password="secret12"), "not allowed"),
        (lambda: users.add("carol", password="123"), "6 to 1024"),
        (lambda: users.set_lane("bob", "gold"), "Unknown lane"),
        (lambda: users.remove("nobody"), "No user named"),
    ]:
        with pytest.raises(Exception) as err:
            call()
        assert words in err.value.en
    assert not users.any_password()


# ---------------------------------------------------------------- the service, end to end

def test_a_job_is_stored_the_moment_it_is_submitted_then_runs(service, store):
    job = service.submit(request(seed=5), owner="alice")
    assert store.get(job.id).status in (QUEUED, RUNNING)  # in the file, not only in memory
    assert len(job.id) == 32
    done = service.wait(job.id, timeout=120)
    assert done.status == SUCCEEDED and done.seed == 5 and done.progress == 1.0
    assert Path(done.video).is_file() and codec.probe(done.video).video_codec == "h264"
    assert Path(done.cover).read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert done.started_at >= done.created_at and done.finished_at >= done.started_at
    assert done.info["seed"] == 5 and done.worker == "local"


def test_bad_requests_are_refused_at_submit_and_nothing_is_stored(service, store):
    with pytest.raises(Exception) as err:
        service.submit(request(prompt=""), owner="alice")
    assert "prompt is empty" in err.value.en
    with pytest.raises(Exception):
        service.submit(request(num_inference_steps=0), owner="alice")
    assert store.list() == []



@pytest.mark.parametrize("field, words", [("prompt", "prompt contains a broken character"),
                                          ("negative_prompt", "negative prompt contains a broken character")])
def test_a_lone_surrogate_in_a_prompt_is_refused_at_submit_not_a_crash_in_sqlite(service, store, field, words):
    # JSON's "\ud800" decodes to a str that UTF-8 (SQLite) refuses: the insert raised UnicodeEncodeError.
    values = {"prompt": "a cat", field: "a cat \ud800 on a roof"}
    with pytest.raises(InvalidRequest) as err:
        service.submit(request(**values), owner="alice")
    assert words in err.value.en and "\\ud800" in err.value.en
    assert "UTF-16" in err.value.zh and err.value.status == 400
    assert store.list() == []
    assert service.submit(request(), owner="alice").status in (QUEUED, RUNNING)  # the service goes on


def test_a_job_id_that_is_not_unicode_is_not_found(service):
    for call in (service.get, service.cancel, service.delete):
        with pytest.raises(JobNotFound):
            call("\ud800", owner="alice")

def test_users_see_only_their_own_jobs(service):
    mine = service.submit(request("mine"), owner="alice")
    theirs = service.submit(request("theirs"), owner="bob")
    service.wait(theirs.id, timeout=120)
    assert [j.id for j in service.works("alice")] == [mine.id]
    with pytest.raises(JobNotFound) as other:
        service.get(theirs.id, owner="alice")
    with pytest.raises(JobNotFound) as missing:
        service.get("0" * 32, owner="alice")
    assert other.value.en.replace(theirs.id, "X") == missing.value.en.replace("0" * 32, "X")
    for call in (service.cancel, service.delete):
        with pytest.raises(JobNotFound):
            call(theirs.id, owner="alice")
    assert service.get(theirs.id, owner="bob").status == SUCCEEDED


def test_lanes_order_and_the_no_starvation_rule(gated):
    service, worker = gated
    blocker = service.submit(request("blocker"), owner="a")
    wait_until(lambda: worker.started == ["blocker"])
    jobs = [service.submit(request("s1"), owner="s", lane="standard")]
    jobs += [service.submit(request(f"v{i}"), owner="v", lane="vip") for i in range(1, 7)]
    assert service.get(jobs[0].id).position == MAX_VIP_STREAK + 1
    assert service.get(jobs[1].id).position == 1
    worker.gate.set()
    for job in [blocker, *jobs]:
        service.wait(job.id, timeout=120)
    assert worker.started == ["blocker", "v1", "v2", "v3", "v4", "s1", "v5", "v6"]


def test_the_queue_is_bounded_with_a_clear_message(gated):
    service, worker = gated
    service.submit(request("running"), owner="a")
    wait_until(lambda: worker.started)
    for i in range(8):
        service.submit(request(f"q{i}"), owner="a")
    with pytest.raises(QueueFull) as err:
        service.submit(request("one too many"), owner="b")
    assert "queue is full" in err.value.en and "排队人数已满" in err.value.zh


def test_two_hundred_submits_at_once_keep_the_bound(gated, store):
    service, worker = gated
    outcomes: list[str] = []

    def submit(i: int) -> None:
        try:
            service.submit(request(f"flood {i}"), owner=f"user{i % 7}")
            outcomes.append("queued")
        except QueueFull:
            outcomes.append("full")

    started = time.monotonic()
    threads = [threading.Thread(target=submit, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 30
    assert outcomes.count("queued") <= 9 and outcomes.count("full") >= 191  # 8 waiting + 1 taken by the worker
    # The worker's one claim may come after the floods (a busy machine): read the line once it has.
    wait_until(lambda: worker.started)
    queued = store.list(status=QUEUED)
    assert len(queued) <= 8
    assert sorted(j.position for j in queued) == list(range(1, len(queued) + 1))


@pytest.fixture()
def capped(studio, store):
    """A gated service where each user may have two jobs waiting or rendering."""
    worker = GatedWorker(studio)
    running = JobService(store, [worker], max_queue=8, max_queue_per_user=2, poll_s=0.1).start()
    yield running, worker
    worker.gate.set()
    running.close()


def test_one_user_cannot_take_every_place_in_line(capped):
    service, worker = capped
    first = service.submit(request("alice 1"), owner="alice")
    wait_until(lambda: worker.started == ["alice 1"])
    service.submit(request("alice 2"), owner="alice")  # one rendering, one waiting: her share
    with pytest.raises(TooManyJobs) as err:
        service.submit(request("alice 3"), owner="alice")
    assert "You already have 2 videos waiting or rendering" in err.value.en and "cancel one" in err.value.en
    assert "你已有 2 个视频在排队或生成中" in err.value.zh
    service.submit(request("bob 1"), owner="bob")  # others still get in line
    service.cancel(first.id, owner="alice")
    wait_until(lambda: service.get(first.id).finished)
    service.submit(request("alice 3"), owner="alice")  # a place of hers came free


def test_anonymous_callers_are_counted_by_their_quota_key_not_their_shared_owner(capped):
    service, _ = capped
    for i in range(2):
        service.submit(request(f"from A {i}"), owner="local", quota_key="address:10.0.0.1")
    with pytest.raises(TooManyJobs):
        service.submit(request("from A again"), owner="local", quota_key="address:10.0.0.1")
    queued = service.submit(request("from B"), owner="local", quota_key="address:10.0.0.2")
    assert queued.owner == "local"  # still the one local user's works
    service.cancel(queued.id)
    service.submit(request("from B again"), owner="local", quota_key="address:10.0.0.2")


def test_parallel_submits_from_one_user_get_exactly_their_share(capped, store):
    service, _ = capped
    outcomes: list[str] = []

    def submit(i: int) -> None:
        try:
            service.submit(request(f"burst {i}"), owner="carol")
            outcomes.append("queued")
        except TooManyJobs:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("queued") == 2 and outcomes.count("refused") == 18
    assert store.count(QUEUED, "carol") + store.count(RUNNING, "carol") == 2


def test_a_job_being_claimed_is_counted_once_in_its_owners_share(studio, store):
    """The share counts waiting and rendering jobs in one read: a job claimed between two reads
    (waiting, then rendering) was counted twice, and a run of variations got one job too few."""
    service = JobService(store, [LocalWorker(studio)], max_queue_per_user=2)  # not started: no worker claims
    job = store.insert(Job(id="j1", owner="dana", lane="standard", mode="t2v", request={}, status=QUEUED,
                           created_at=time.time()))
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            store.claim(job.id, "w")
            store.requeue(job.id, count_attempt=False)

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        seen = {service.active_count("dana") for _ in range(3000)}
    finally:
        stop.set()
        flipper.join()
    assert seen == {1}


def test_cancel_a_queued_job_and_a_running_one(gated, studio):
    service, worker = gated
    running = service.submit(request("running", num_inference_steps=150), owner="a")
    queued = service.submit(request("queued"), owner="a")
    wait_until(lambda: worker.started == ["running"])
    assert service.cancel(queued.id, owner="a").status == CANCELLED

    pipe = studio.engine.load("t2v")
    steps = []
    original = pipe.transformer.forward

    def counting_forward(*args, **kwargs):
        steps.append(1)
        return original(*args, **kwargs)

    pipe.transformer.forward = counting_forward
    try:
        worker.gate.set()
        wait_until(lambda: len(steps) >= 3)
        service.cancel(running.id, owner="a")
        done = service.wait(running.id, timeout=60)
    finally:
        pipe.transformer.forward = original
    assert done.status == CANCELLED and done.video is None
    assert len(steps) < 150  # stopped at a step, long before the end
    assert worker.started == ["running"]  # the cancelled queued job never reached the worker
    assert not list(studio.output_dir.glob("*.mp4"))


def test_a_job_whose_picture_vanished_fails_and_the_line_goes_on(gated, tmp_path):
    service, worker = gated
    picture = tmp_path / "first.png"
    make_photo(160, 96).save(picture)
    service.submit(request("keeps the worker busy"), owner="a")
    wait_until(lambda: worker.started)
    doomed = service.submit(request("moves", mode="i2v", image=str(picture)), owner="a")
    after = service.submit(request("next"), owner="a")
    stored_copy = service.data_dir / doomed.request["image"]
    assert stored_copy.is_file() and stored_copy != picture  # copied at submit
    stored_copy.unlink()
    worker.gate.set()
    failed = service.wait(doomed.id, timeout=120)
    assert failed.status == FAILED and "input picture of this job is gone" in failed.error.en
    assert "输入图片已不存在" in failed.error.zh
    assert service.wait(after.id, timeout=120).status == SUCCEEDED


def test_delete_removes_the_row_and_every_file(service, tmp_path):
    picture = tmp_path / "first.png"
    make_photo(160, 96).save(picture)
    job = service.wait(service.submit(request("x", mode="i2v", image=str(picture)), owner="a").id, timeout=120)
    inputs = service.data_dir / "inputs" / job.id
    assert inputs.is_dir() and Path(job.video).is_file()
    service.delete(job.id, owner="a")
    assert not Path(job.video).exists() and not Path(job.cover).exists() and not inputs.exists()
    with pytest.raises(JobNotFound):
        service.get(job.id)


def test_deleting_a_running_job_stops_it_then_removes_it(gated):
    service, worker = gated
    job = service.submit(request("long", num_inference_steps=150), owner="a")
    wait_until(lambda: worker.started)
    worker.gate.set()
    wait_until(lambda: service.get(job.id).progress > 0)
    service.delete(job.id, owner="a")
    with pytest.raises(JobNotFound):
        service.get(job.id)
    wait_until(lambda: service.store.get(job.id) is None)
    assert service.counts() == {QUEUED: 0, RUNNING: 0}


def test_pruning_keeps_the_newest_per_user_and_drops_the_old(studio, store):
    service = JobService(store, [LocalWorker(studio)], keep_per_user=2, max_age_days=1, poll_s=0.1).start()
    try:
        jobs = [service.wait(service.submit(request(f"n{i}"), owner="a").id, timeout=120) for i in range(3)]
        other = service.wait(service.submit(request("b's"), owner="b").id, timeout=120)
    finally:
        service.close()
    kept = [j.id for j in service.works("a")]
    assert kept == [jobs[2].id, jobs[1].id] and not Path(jobs[0].video).exists()
    store.execute("UPDATE jobs SET created_at = created_at - 3 * 86400 WHERE id = ?", (other.id,))
    assert service.prune() == 1 and not Path(other.video).exists() and service.works("b") == []


# ---------------------------------------------------------------- restarts

def insert_running(store: JobStore, prompt: str, attempts: int) -> str:
    job_id = os.urandom(16).hex()
    store.insert(Job(id=job_id, owner="a", lane="standard", mode="t2v", request={"prompt": prompt, **FAST},
                     status=QUEUED, created_at=time.time()))
    store.execute("UPDATE jobs SET status = 'running', attempts = ? WHERE id = ?", (attempts, job_id))
    return job_id


def test_after_a_restart_the_interrupted_job_runs_once_more_then_fails(studio, store):
    once = insert_running(store, "interrupted once", attempts=1)
    twice = insert_running(store, "interrupted twice", attempts=2)
    service = JobService(store, [LocalWorker(studio)], poll_s=0.1).start()
    try:
        assert service.wait(once, timeout=120).status == SUCCEEDED
        failed = service.get(twice)
        assert failed.status == FAILED and "restarted twice" in failed.error.en and "重启了两次" in failed.error.zh
    finally:
        service.close()


# ---------------------------------------------------------------- a full disk

@pytest.fixture()
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs: the output folder really runs out of space."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_fails_the_job_removes_the_partial_file_and_the_service_goes_on(tiny_engine, store, tiny_disk):
    from cogvideo.studio import Studio

    (tiny_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 48 * 1024))  # leave ~48 KiB
    full = Studio(tiny_engine, tiny_disk / "outputs")
    service = JobService(store, [LocalWorker(full)], poll_s=0.1).start()
    try:
        # Nine frames of 256×256 random-weight noise encode to far more than 48 KiB.
        job = service.wait(service.submit(request("noise", height=256, width=256), owner="a").id, timeout=180)
        assert job.status == FAILED and "disk is full" in job.error.en and "磁盘已满" in job.error.zh
        assert not [p for p in (tiny_disk / "outputs").iterdir()]  # no partial file left
        (tiny_disk / "filler").unlink()  # space freed: the same service renders the next job
        assert service.wait(service.submit(request("after"), owner="a").id, timeout=120).status == SUCCEEDED
    finally:
        service.close()


def test_a_job_for_a_model_no_worker_holds_waits_and_says_for_which(studio, store):
    """A tiny-wan job left queued by a server that ran Wan, then a restart with `--model tiny`: the
    CogVideoX worker never takes it, the jobs behind it run, and it says what it waits for."""
    from bilingual import pick
    from jobs.estimate import wait_text

    wan = Job(id="w" * 32, owner="local", lane="standard", mode="t2v", status=QUEUED, created_at=time.time(),
              request={"prompt": "一只猫", "model": "tiny-wan", **FAST})
    store.insert(wan)
    worker = GatedWorker(studio)
    service = JobService(store, [worker], max_queue=8, poll_s=0.1).start()
    try:
        first = service.submit(request("a cat"))
        wait_until(lambda: worker.started == ["a cat"])  # rendering, held at the gate
        mine = service.submit(request("a boat"))
        # Next in the line it can be in: the Wan job before it in time is in no line here.
        assert mine.request["model"] == "tiny" and mine.position == 1
        worker.gate.set()
        assert service.wait(mine.id, timeout=120).status == SUCCEEDED
        assert service.get(first.id).status == SUCCEEDED and worker.started == ["a cat", "a boat"]
        waiting = service.get(wan.id)
        assert waiting.status == QUEUED and waiting.position is None and waiting.model == "tiny-wan"
        assert "model tiny-wan" in waiting.message.en and "模型 tiny-wan" in waiting.message.zh
        expected = service.expected(waiting)
        assert expected.waits_for == "tiny-wan" and expected.start_s is None
        assert expected.fields()["waits_for_model"] == "tiny-wan"
        assert pick(wait_text(waiting, expected), "zh").startswith("等待装有模型 tiny-wan 的工作进程")
        assert waiting.summary()["model"] == "tiny-wan" and service.get(mine.id).summary()["model"] == "tiny"
    finally:
        service.close()
