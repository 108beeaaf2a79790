"""The wait estimates learn render time only (jobs/estimate.py `RenderClock`): the model's loading
on a fresh server's first job is not taught to the jobs after it, and a job behind one that has
done its steps but still decodes and encodes waits for that too (it never reads "starts now")."""

from __future__ import annotations

import time
import uuid

import pytest

from bilingual import Text
from jobs import JobService, JobStore, LocalWorker
from jobs.estimate import CLOCK, Expected, RenderClock, estimate, history
from jobs.job import QUEUED, RUNNING, STANDARD, SUCCEEDED, Job
from jobs.scheduler import positions
from tests.test_jobs import request, wait_until

LOAD_S = 4.0  # the first job's model loading, before its first step (minutes on a real server)
NOW = 1_800_000_000.0


class LoadingWorker(LocalWorker):
    """The real studio with the tiny model, whose first job first spends `LOAD_S` loading the model
    (as a fresh server's does, reporting it as the engine does), then renders."""

    def __init__(self, studio):
        super().__init__(studio)
        self.loaded = False

    def run(self, request, progress, cancel, job_id=None):
        if not self.loaded:
            from cogvideo.studio import ProgressEvent

            progress(ProgressEvent("load", None, Text("Loading the model…", "正在加载模型…")))
            time.sleep(LOAD_S)
            self.loaded = True
        return super().run(request, progress, cancel, job_id)


@pytest.fixture()
def store(tmp_path):
    opened = JobStore(tmp_path / "data")
    yield opened
    opened.close()


def test_the_first_jobs_loading_is_not_taught_to_the_next(studio, store):
    service = JobService(store, [LoadingWorker(studio)], max_queue=8, poll_s=0.1).start()
    try:
        first = service.submit(request("first", num_inference_steps=4), owner="a")
        done = service.wait(first.id, timeout=120)
        assert done.status == SUCCEEDED, done.error
        took = done.finished_at - done.started_at
        assert took >= LOAD_S  # the row's own times hold the loading
        render_s = done.info[CLOCK]["render_s"]
        assert 0 < render_s < took - LOAD_S + 0.5, done.info[CLOCK]
        # The next job of the same kind is expected to take the render's time, not the load's.
        predicted = history(store).predict({"num_inference_steps": 4, "num_frames": 9}, "t2v")
        assert predicted == pytest.approx(render_s, rel=0.01)
        assert predicted <= took - LOAD_S, (done.info[CLOCK], done.info["timings"], took)
    finally:
        service.close()


def add(store: JobStore, status=QUEUED, frames=9, seconds=None, clock=None, started_ago=None,
        progress=0.0) -> Job:
    job_id = uuid.uuid4().hex
    record = {"prompt": "p", "num_inference_steps": 50, "num_frames": frames}
    store.insert(Job(id=job_id, owner="a", lane=STANDARD, mode="t2v", request=record, status=QUEUED,
                     created_at=NOW - 1000))
    if status == SUCCEEDED:
        store.finish(job_id, SUCCEEDED, info={"model": "5b", **({CLOCK: clock} if clock else {})})
        store.execute("UPDATE jobs SET started_at = ?, finished_at = ? WHERE id = ?",
                      (NOW - 500 - seconds, NOW - 500, job_id))
    elif status == RUNNING:
        store.claim(job_id, "w")
        store.execute("UPDATE jobs SET started_at = ?, progress = ? WHERE id = ?",
                      (NOW - started_ago, progress, job_id))
    store.set_positions(positions(store.queued()))
    return store.get(job_id)


def test_a_recorded_first_job_with_a_long_load_does_not_inflate_the_wait(store):
    # A fresh server's first job: 300 s loading, then 30 s rendering (25 s of steps, 5 s after them).
    add(store, SUCCEEDED, seconds=330, clock={"render_s": 30.0, "tail_s": 5.0})
    busy = add(store, RUNNING, started_ago=15, progress=0.5)  # half its steps done
    waiting = add(store)
    expected = estimate(store, store.get(waiting.id), [store.get(busy.id)], NOW)
    # Today's code said 300+ s (the first job's whole time); the render's own time says about 15.
    assert expected.start_s < 40 and expected.finish_s < 80, expected


def test_a_job_behind_one_that_finished_its_steps_still_waits(store):
    # History: 9 frames took 2 s after the last step (decode, encode). The running job (33 frames)
    # has done every step and is decoding: it still has about 33 / 9 x 2 s ahead of it.
    add(store, SUCCEEDED, seconds=20, clock={"render_s": 20.0, "tail_s": 2.0})
    busy = add(store, RUNNING, frames=33, started_ago=30, progress=1.0)
    waiting = add(store)
    workers = [store.get(busy.id)]
    expected = estimate(store, store.get(waiting.id), workers, NOW)
    assert expected.start_s == pytest.approx(33 / 9 * 2.0)
    assert expected.fields()["expected_start_seconds"] > 0
    # Measured pace near the end of the steps (the estimator's `rates`): the steps left take 0.1 s,
    # the decoding after them still counts.
    near = add(store, RUNNING, frames=33, started_ago=30, progress=0.99)
    expected = estimate(store, store.get(waiting.id), [store.get(near.id)], NOW, rates={near.id: 10.0})
    assert expected.start_s == pytest.approx(0.1 + 33 / 9 * 2.0)


def test_a_wait_under_half_a_second_is_not_shown_as_zero():
    assert Expected(1, 0.3, 5.0).fields()["expected_start_seconds"] == 1
    assert Expected(None, 0.0, 0.2).fields() == {"queue_position": None, "expected_start_seconds": 0,
                                                  "expected_finish_seconds": 1, "waits_for_model": None}


def test_the_clock_adds_back_the_first_step_and_keeps_the_time_after_the_last():
    clock = RenderClock()
    assert clock.info(0.0, 10.0) == {}  # no steps: nothing learned (the row's own times are used)
    clock.step(100.0, 0.02)  # step 1 of 50 reported after 99 s of loading
    assert clock.info(0.0, 105.0) == {}  # one step says no pace
    clock.step(149.0, 1.0)  # 49 steps in 49 s: 50 s per whole denoising
    assert clock.info(0.0, 155.0) == {CLOCK: {"render_s": 56.0, "tail_s": 6.0, "before_s": 99.0}}
