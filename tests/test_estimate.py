"""The expected wait (jobs/estimate.py) on a real SQLite store: finished jobs' durations in, seconds
to start and to finish out, in the order the scheduler will really start the queued jobs."""

from __future__ import annotations

import itertools
import uuid

import pytest

from bilingual import Text, pick
from jobs import JobStore
from jobs.estimate import Durations, Expected, duration_text, estimate, history, line, time_left, wait_text
from jobs.job import QUEUED, RUNNING, STANDARD, SUCCEEDED, VIP, Job
from jobs.scheduler import positions

NOW = 1_800_000_000.0  # the rows' clock: every time here is relative to it
_ORDER = itertools.count()  # jobs finish in the order they are added


@pytest.fixture()
def store(tmp_path):
    opened = JobStore(tmp_path / "data")
    yield opened
    opened.close()


def add(store: JobStore, status=QUEUED, lane=STANDARD, mode="t2v", steps=50, frames=49, speed=None,
        seconds=None, model="5b", started_ago=None, progress=0.0, **request) -> Job:
    """A job row: finished ones took `seconds`, running ones started `started_ago` seconds before NOW."""
    job_id = uuid.uuid4().hex
    record = {"prompt": "p", "num_inference_steps": steps, "num_frames": frames, "speed": speed, **request}
    store.insert(Job(id=job_id, owner="a", lane=lane, mode=mode, request=record, status=QUEUED,
                     created_at=NOW - 1000))
    if status == SUCCEEDED:
        store.finish(job_id, SUCCEEDED, info={"model": model})
        finished = NOW - 500 + next(_ORDER) % 100
        store.execute("UPDATE jobs SET started_at = ?, finished_at = ? WHERE id = ?",
                      (finished - seconds, finished, job_id))
    elif status == RUNNING:
        store.claim(job_id, "w")
        store.execute("UPDATE jobs SET started_at = ?, progress = ? WHERE id = ?",
                      (NOW - started_ago, progress, job_id))
    store.set_positions(positions(store.queued()))
    return store.get(job_id)


def fresh(store, job):
    return store.get(job.id)


def test_no_history_says_so_plainly(store):
    busy = add(store, RUNNING, started_ago=5)
    waiting = add(store)
    expected = estimate(store, fresh(store, waiting), [fresh(store, busy)], NOW)
    assert expected == Expected(1, None, None)
    assert expected.fields() == {"queue_position": 1, "expected_start_seconds": None,
                                 "expected_finish_seconds": None, "waits_for_model": None}
    assert pick(wait_text(fresh(store, waiting), expected), "zh") == "下一个就轮到你 · 正在估算等待时间…"


def test_a_job_behind_a_running_one_starts_when_that_one_ends(store):
    for seconds in (100, 110, 90):  # median 100 s for 50 steps x 49 frames
        add(store, SUCCEEDED, seconds=seconds)
    busy = add(store, RUNNING, started_ago=40, progress=0.0)  # still loading: the history says 60 s left
    first, second = add(store), add(store)
    workers = [fresh(store, busy)]
    one = estimate(store, fresh(store, first), workers, NOW)
    two = estimate(store, fresh(store, second), workers, NOW)
    assert one == Expected(1, pytest.approx(60), pytest.approx(160))
    assert two == Expected(2, pytest.approx(160), pytest.approx(260))
    assert pick(wait_text(fresh(store, second), two), "zh") == "排队中：你是第 2 位 · 预计 3 分钟后开始"
    assert pick(wait_text(fresh(store, second), two), "en") == "2nd in line · starts in about 3 min"


def test_steps_and_frames_scale_the_time(store):
    # 2 s to load, 0.01 s per step-frame: the line through them carries over to 30 steps x 25 frames.
    for steps, frames in ((10, 49), (50, 49), (20, 25), (50, 25), (30, 49)):
        add(store, SUCCEEDED, steps=steps, frames=frames, seconds=2 + 0.01 * steps * frames)
    predicted = history(store).predict({"num_inference_steps": 30, "num_frames": 25}, "t2v")
    assert predicted == pytest.approx(2 + 0.01 * 30 * 25, rel=0.01)


def test_the_fast_lane_starts_first_and_says_so(store):
    for _ in range(3):
        add(store, SUCCEEDED, seconds=100)
    busy = add(store, RUNNING, started_ago=50, progress=0.5)  # half the steps in 50 s: 50 s left
    standard = [add(store) for _ in range(2)]
    vip = add(store, lane=VIP)  # came last, starts first (the scheduler's rule)
    workers = [fresh(store, busy)]
    assert estimate(store, fresh(store, vip), workers, NOW) == Expected(1, pytest.approx(50), pytest.approx(150))
    assert estimate(store, fresh(store, standard[0]), workers, NOW).start_s == pytest.approx(150)
    assert estimate(store, fresh(store, standard[1]), workers, NOW).position == 3


def test_two_workers_take_two_jobs_at_once(store):
    add(store, SUCCEEDED, seconds=100)
    jobs = [add(store) for _ in range(3)]
    workers = [None, None]  # both idle
    starts = [estimate(store, fresh(store, j), workers, NOW).start_s for j in jobs]
    assert starts == [0, 0, pytest.approx(100)]


def test_a_rendering_job_counts_down_from_its_steps(store):
    running = add(store, RUNNING, started_ago=30, progress=0.25)
    store.set_progress(running.id, 0.25, Text("Denoising step 12/50", "去噪第 12/50 步"))
    expected = estimate(store, fresh(store, running), [fresh(store, running)], NOW)
    assert expected == Expected(None, 0.0, pytest.approx(90))  # a quarter in 30 s: 90 s to go
    assert pick(wait_text(fresh(store, running), expected), "zh") == "去噪第 12/50 步 · 还剩约 2 分钟"
    assert time_left(None, 30, 0.0) is None


def test_groups_by_speed_and_forgets_another_models_times(store):
    add(store, SUCCEEDED, seconds=1000, model="2b")  # an older run of the server with another model
    for _ in range(2):
        add(store, SUCCEEDED, seconds=100, speed="quality")
        add(store, SUCCEEDED, seconds=60, speed="fast")
    durations = history(store)
    assert durations.predict({"num_inference_steps": 50, "num_frames": 49, "speed": "fast"}, "t2v") == pytest.approx(60)
    assert durations.predict({"num_inference_steps": 50, "num_frames": 49, "speed": "quality"}, "t2v") == pytest.approx(100)
    # A mode with no history of its own borrows the server's times rather than saying nothing.
    assert durations.predict({"num_inference_steps": 50, "num_frames": 49}, "i2v") == pytest.approx(80)
    assert not Durations([])


def test_the_line_and_the_words():
    assert line([30.0], 0, [10.0, 20.0, None]) == [(30.0, 40.0), (40.0, 60.0), None]
    assert line([None], 1, [10.0]) == [None]
    assert line([], 0, [10.0]) == [None]
    assert [pick(duration_text(s), "zh") for s in (3, 44, 90, 5000)] == ["几秒", "约 40 秒", "约 2 分钟",
                                                                         "约 1 小时 23 分钟"]
    assert [pick(duration_text(s), "en") for s in (3, 44, 90, 5000)] == ["a few seconds", "about 40 s",
                                                                         "about 2 min", "about 1 h 23 min"]


def test_a_job_that_takes_any_time_is_never_shown_ending_when_it_starts():
    """Both ends are rounded to whole seconds: a short job starting in 1.6 s and ending at 2.2 s
    once read start 2, finish 2 (tests/test_wait_api.py saw it on a loaded machine)."""
    assert Expected(1, 1.6, 2.2).fields() == {"queue_position": 1, "expected_start_seconds": 2,
                                              "expected_finish_seconds": 3, "waits_for_model": None}
    assert Expected(1, 10.0, 70.4).fields()["expected_finish_seconds"] == 70
    assert Expected(None, 0.0, 0.0).fields()["expected_finish_seconds"] == 0
