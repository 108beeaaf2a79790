"""Live state without a browser: which jobs a reloaded page finds again, and a page's Generate
that leaves a failure's reason in the tab instead of raising (tests/e2e/test_live.py drives it all
in Chromium)."""

from __future__ import annotations

import asyncio

import gradio as gr
import pytest

from agent import PromptAgent
from jobs import JobService, JobStore
from tests.test_jobs import GatedWorker, request, wait_until
from ui import live
from ui.handlers import Handlers


class PageRequest:
    """What a page's event carries: a session, a language, a signed-in user (or none), an address."""

    def __init__(self, username=None, host="10.0.0.1", language="zh-CN,zh;q=0.9", session_hash="s1"):
        self.username = username
        self.session_hash = session_hash
        self.headers = {"accept-language": language}
        self.client = type("Client", (), {"host": host})()


@pytest.fixture()
def gated(studio, tmp_path):
    worker = GatedWorker(studio)
    service = JobService(JobStore(tmp_path / "data"), [worker], max_queue=8, poll_s=0.1).start()
    yield service, worker
    worker.gate.set()
    service.close()


def test_a_reloaded_page_finds_its_own_waiting_and_rendering_jobs(gated, studio):
    service, worker = gated
    handlers = Handlers(studio, PromptAgent(), service)
    first = service.submit(request("first from A"), owner="local", quota_key="address:10.0.0.1")
    from_b = service.submit(request("from B"), owner="local", quota_key="address:10.0.0.2")
    second = service.submit(request("second from A"), owner="local", quota_key="address:10.0.0.1")
    alices = service.submit(request("alice's"), owner="alice")
    wait_until(lambda: worker.started)  # the first one renders, the others wait

    # A visitor without sign-in gets the jobs sent from their address, newest first; the works
    # refresh watches every job of the shared owner; a signed-in user gets theirs from anywhere.
    visitor = PageRequest(host="10.0.0.1")
    assert [j.id for j in handlers.unfinished_jobs(visitor)] == [second.id, first.id]
    assert [j.id for j in handlers.unfinished_jobs(visitor, mine_only=False)] == [second.id, from_b.id, first.id]
    assert [j.id for j in handlers.unfinished_jobs(PageRequest("alice", host="10.9.9.9"))] == [alices.id]
    assert service.get(first.id).status == "running"

    worker.gate.set()
    for job in (first, from_b, second, alices):
        service.wait(job.id, timeout=600)  # a loaded machine is many times slower
    assert handlers.unfinished_jobs(visitor, mine_only=False) == []


def collect(gen):
    async def all_of():
        return [values async for values in gen]

    return asyncio.run(all_of())


def test_a_failure_on_the_page_becomes_text_in_the_tab_not_a_raise(studio, tmp_path):
    service = JobService(JobStore(tmp_path / "data"), [GatedWorker(studio)], poll_s=0.1).start()
    try:
        handlers = Handlers(studio, PromptAgent(), service)
        page_generate = live.on_page(handlers.text_to_video, handlers, count=2)
        # The API's own event still raises for its callers.
        with pytest.raises(gr.Error):
            asyncio.run(handlers.text_to_video("a cat", num_inference_steps=0, request=PageRequest(), progress=None))
        # Gradio passes every parameter by position, the request among them.
        args = ["a cat", "", -1, 0, 6.0, None, "none", "none", 0.8, False, False, None, "quality", True, None,
                "", 1, PageRequest(), None]
        *_, last = collect(page_generate(*args))
        video, info, outcome, notice = last
        assert video == gr.skip() and info == gr.skip()
        assert outcome.startswith("⚠️ ") and "采样步数 0" in outcome, outcome
        assert notice == "⚠️ 视频生成失败"
    finally:
        service.close()
