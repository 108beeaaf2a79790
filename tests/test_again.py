"""再来一次 below the UI (jobs/again.py): a stored job submitted again with a new seed, its input
copies reused, in the caller's lane now, under the per-user cap. Real SQLite, the tiny studio."""

from __future__ import annotations

import pytest

from cogvideo import VideoRequest
from jobs import JobNotFound, JobService, JobStore, LocalWorker
from jobs.again import new_seed, submit_again
from jobs.errors import TooManyJobs
from jobs.job import SUCCEEDED, VIP
from tests.conftest import make_photo
from tests.test_jobs import GatedWorker

FAST = dict(num_inference_steps=2, num_frames=9)


@pytest.fixture()
def service(studio, tmp_path):
    store = JobStore(tmp_path / "data")
    running = JobService(store, [LocalWorker(studio)], max_queue=8, max_queue_per_user=2, poll_s=0.1).start()
    yield running
    running.close()
    store.close()


def test_a_new_seed_differs_from_the_old_one():
    assert all(new_seed(7) != 7 for _ in range(200))
    assert all(0 <= new_seed(-1) < 2**32 for _ in range(200))


def test_again_keeps_the_settings_and_the_picture_with_a_new_seed(service, tmp_path):
    picture = tmp_path / "upload.png"
    make_photo(160, 96).save(picture)
    first = service.submit(VideoRequest(mode="i2v", prompt="a kite rises", image=picture, seed=4242, style="anime",
                                         guidance_scale=5.0, **FAST), "ann")
    first = service.wait(first.id, timeout=300)
    assert first.status == SUCCEEDED and first.seed == 4242
    picture.unlink()  # the upload is gone; the studio's own copy is what "again" starts from
    service.users.add("ann", lane=VIP)  # the lane is the user's now, not the old job's

    second = service.wait(submit_again(service, first.id, "ann").id, timeout=300)

    assert second.id != first.id and second.status == SUCCEEDED, second.error
    assert second.seed not in (None, 4242) and second.request["seed"] == second.seed
    assert second.lane == VIP and first.lane != VIP
    for name in ("mode", "prompt", "style", "guidance_scale", "num_inference_steps", "num_frames"):
        assert second.request[name] == first.request[name], name
    # Its own copy of the picture (deleting the first work leaves the second whole).
    assert second.request["image"] != first.request["image"]
    assert (service.data_dir / second.request["image"]).read_bytes() == \
        (service.data_dir / first.request["image"]).read_bytes()
    service.delete(first.id, "ann")
    assert (service.data_dir / second.request["image"]).is_file()


def test_again_respects_the_owner_and_the_cap(studio, tmp_path):
    store = JobStore(tmp_path / "gated")
    worker = GatedWorker(studio)  # renders only when the test opens the gate: jobs stay in line
    service = JobService(store, [worker], max_queue=8, max_queue_per_user=2, poll_s=0.1).start()
    try:
        worker.gate.set()
        first = service.wait(service.submit(VideoRequest(prompt="a lantern", **FAST), "bob").id, timeout=300)
        worker.gate.clear()
        with pytest.raises(JobNotFound):
            submit_again(service, first.id, "eve")  # another user's job is not found
        made = [submit_again(service, first.id, "bob") for _ in range(2)]
        with pytest.raises(TooManyJobs) as refused:
            submit_again(service, first.id, "bob")  # the cap counts waiting and rendering jobs
        assert "你已有 2 个视频" in refused.value.zh
        for job in made:
            service.cancel(job.id, "bob")
    finally:
        worker.gate.set()
        service.close()
        store.close()


def test_the_page_says_a_refusal_in_its_language_and_make_one_like_this_clears_the_seed(studio, tmp_path):
    import gradio as gr

    from agent import PromptAgent
    from tests.test_handlers import FakeRequest
    from ui.handlers import Handlers

    store = JobStore(tmp_path / "data")
    worker = GatedWorker(studio)
    service = JobService(store, [worker], max_queue=8, max_queue_per_user=1, poll_s=0.1).start()
    handlers = Handlers(studio, PromptAgent(), service)
    try:
        worker.gate.set()
        first = service.wait(service.submit(VideoRequest(prompt="a lantern", seed=31, **FAST)).id, timeout=300)
        worker.gate.clear()
        values = handlers.like_values(first.id, FakeRequest(language="zh-CN"))
        assert values["prompt"] == "a lantern" and values["seed"] == -1 and values["mode"] == "t2v"
        made = handlers.again(first.id, FakeRequest(language="zh-CN"))
        assert made.request["prompt"] == "a lantern" and made.request["seed"] not in (-1, 31)
        with pytest.raises(gr.Error) as zh:
            handlers.again(first.id, FakeRequest(language="zh-CN"))
        assert "你已有 1 个视频" in zh.value.message and zh.value.title == "出错了"
        with pytest.raises(gr.Error) as en:
            handlers.again(first.id, FakeRequest(language="en-US"))
        assert "You already have 1 video" in en.value.message
        with pytest.raises(gr.Error) as gone:
            handlers.again("no-such-job", FakeRequest(language="zh-CN"))
        assert "找不到任务" in gone.value.message
        service.cancel(made.id)
    finally:
        worker.gate.set()
        service.close()
        store.close()
