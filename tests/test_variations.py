"""Variations: N jobs of one prompt with consecutive seeds, on the real job service (SQLite file on
disk, the tiny model rendering), each counted against the caller's share of the line."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from cogvideo import VideoRequest
from cogvideo.errors import InvalidRequest
from cogvideo.request import MAX_SEED
from jobs import JobService, JobStore, LocalWorker
from jobs.errors import TooManyJobs
from jobs.job import SUCCEEDED
from jobs.variations import MAX_VARIATIONS, allowance, submit_variations
from tests.test_jobs import FAST, GatedWorker, wait_until


def request(prompt="a cat", **values) -> VideoRequest:
    return VideoRequest(prompt=prompt, **{**FAST, **values})


@pytest.fixture()
def store(tmp_path):
    opened = JobStore(tmp_path / "data")
    yield opened
    opened.close()


def started(studio, store, cap: int):
    worker = GatedWorker(studio)
    return JobService(store, [worker], max_queue=8, max_queue_per_user=cap, poll_s=0.1).start(), worker


def test_three_variations_are_three_jobs_with_consecutive_seeds_that_render(studio, store, tmp_path):
    service, worker = started(studio, store, cap=0)
    try:
        assert allowance(service, "alice") == MAX_VARIATIONS  # uncapped: the page's most
        batch = submit_variations(service, request(seed=41), 3, owner="alice")
        assert batch.refused == 0 and len(batch.jobs) == 3
        assert [job.request["seed"] for job in batch.jobs] == [41, 42, 43]
        assert {job.owner for job in batch.jobs} == {"alice"}
        worker.gate.set()
        done = [service.wait(job.id, timeout=300) for job in batch.jobs]
        assert [job.status for job in done] == [SUCCEEDED] * 3
        assert [job.seed for job in done] == [41, 42, 43]  # the seeds the renders used
        assert len({job.video for job in done}) == 3
        # A fresh store on the same file sees the same three: they are ordinary jobs.
        reopened = JobStore(tmp_path / "data")
        try:
            rows = [reopened.get(job.id) for job in batch.jobs]
            assert [row.request["seed"] for row in rows] == [41, 42, 43]
        finally:
            reopened.close()
    finally:
        worker.gate.set()
        service.close()


def test_a_random_seed_starts_the_run_and_seeds_wrap_past_the_largest(studio, store):
    service, worker = started(studio, store, cap=0)
    try:
        batch = submit_variations(service, request(seed=-1), 2, owner="alice")
        first, second = (job.request["seed"] for job in batch.jobs)
        assert 0 <= first <= MAX_SEED and second == (first + 1) % (MAX_SEED + 1)
        wrapped = submit_variations(service, request(seed=MAX_SEED), 2, owner="bob")
        assert [job.request["seed"] for job in wrapped.jobs] == [MAX_SEED, 0]
    finally:
        worker.gate.set()
        service.close()


def test_the_per_user_cap_is_honoured_what_fits_is_submitted_and_the_rest_is_counted(studio, store):
    service, worker = started(studio, store, cap=2)
    try:
        assert allowance(service, "alice") == 2
        batch = submit_variations(service, request(seed=5), 3, owner="alice")
        assert [job.request["seed"] for job in batch.jobs] == [5, 6]
        assert batch.refused == 1 and isinstance(batch.reason, TooManyJobs) and batch.asked == 3
        assert service.active_count("alice") == 2 and allowance(service, "alice") == 0
        with pytest.raises(TooManyJobs):  # nothing fits: the line's own refusal, no empty batch
            submit_variations(service, request(seed=9), 2, owner="alice")
        assert allowance(service, "bob") == 2  # another user's share is untouched
        # Visitors without sign-in share an owner and are counted by their address.
        submit_variations(service, request(), 1, owner="local", quota_key="address:10.0.0.1")
        assert allowance(service, "local", "address:10.0.0.1") == 1
        assert allowance(service, "local", "address:10.0.0.2") == 2
        service.cancel(batch.jobs[1].id, owner="alice")
        wait_until(lambda: allowance(service, "alice") == 1)  # a place of hers came free
    finally:
        worker.gate.set()
        service.close()


@pytest.mark.parametrize("count", [0, 5, 2.5, "3", True, None])
def test_a_count_outside_one_to_four_is_refused_in_both_languages_before_any_job(studio, store, count):
    service, worker = started(studio, store, cap=0)
    try:
        with pytest.raises(InvalidRequest) as err:
            submit_variations(service, request(), count, owner="alice")
        assert "from 1 to 4" in err.value.en and "1 到 4" in err.value.zh
        assert service.works("alice") == []
    finally:
        worker.gate.set()
        service.close()


# ---------------------------------------------------------------- the page's handler (in-process)


class Progress:
    """Records what the page's progress bar would show."""

    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, fraction=None, desc=None, **_):
        self.texts.append(desc or "")


def test_the_text_to_video_endpoint_makes_three_variations_and_lists_them(studio, store):
    from tests.test_prompt_helper import FakeRequest, run
    from agent import PromptAgent
    from ui import variations as many
    from ui.handlers import Handlers

    service = JobService(store, [LocalWorker(studio)], max_queue=8, max_queue_per_user=0, poll_s=0.1).start()
    try:
        handlers = Handlers(studio, PromptAgent(), service)
        progress = Progress()
        video, info = run(handlers.text_to_video, "a red boat", seed=100, num_inference_steps=1, num_frames=9,
                          variations=3, request=FakeRequest(), progress=progress)
        runs = info["variations"]
        assert [r["seed"] for r in runs] == [100, 101, 102] and {r["status"] for r in runs} == {SUCCEEDED}
        assert info["seed"] == 100 and video == service.get(runs[0]["job_id"]).video
        assert any(text.startswith("0/3 完成 · ") for text in progress.texts)  # "k/N done" while following
        gallery = many.shown(handlers, info, FakeRequest())
        assert gallery.visible is True
        assert [item["caption"] for item in gallery.value] == ["种子 100", "种子 101", "种子 102"]
        assert [item["video"]["orig_name"] for item in gallery.value] == [
            Path(service.get(r["job_id"]).video).name for r in runs]
        assert len(service.works("local")) == 3
        # A count beyond four is refused before any job, in the caller's language.
        with pytest.raises(gr.Error, match="生成数量 5 必须是 1 到 4 之间的整数"):
            run(handlers.text_to_video, "a red boat", variations=5, request=FakeRequest(), progress=None)
        assert len(service.works("local")) == 3
    finally:
        service.close()


def test_a_run_larger_than_the_share_left_submits_what_fits_and_says_so(studio, store):
    from tests.test_prompt_helper import FakeRequest, run
    from agent import PromptAgent
    from ui.handlers import Handlers

    service = JobService(store, [LocalWorker(studio)], max_queue=8, max_queue_per_user=2, poll_s=0.1).start()
    try:
        handlers = Handlers(studio, PromptAgent(), service)
        with pytest.warns(UserWarning, match="只够 2 个"):
            _, info = run(handlers.text_to_video, "a red boat", seed=7, num_inference_steps=1, num_frames=9,
                          variations=3, request=FakeRequest(), progress=None)
        assert [r["seed"] for r in info["variations"]] == [7, 8]
    finally:
        service.close()


def test_the_control_says_why_it_offers_fewer_than_four():
    from ui.variations import note

    assert note(0, MAX_VARIATIONS, "zh") == ""  # uncapped: all four, nothing to explain
    assert "只能有 1 个" in note(1, 1, "zh") and "one variation" in note(1, 1, "en")
    assert "最多 2 个" in note(2, 2, "zh")
    assert "你已有 2 个视频" in note(3, 1, "zh") and "up to 1 more" in note(3, 1, "en")
    assert "名额已用完" in note(3, 0, "zh")
