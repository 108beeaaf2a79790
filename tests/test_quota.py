"""Free videos a day in the standard lane (`--free-videos-per-day`): counted from the real SQLite
file with an injected clock (midnight crossed without waiting for it), across a restart, per user
and per visitor's address, the fast lane unlimited; then the same refusal through every face of a
real app (gradio_client, zai-sdk, the mcp client) and the line above Generate."""

from __future__ import annotations

import datetime
import math
import sqlite3
import time
from types import SimpleNamespace

import anyio
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from agent import PromptAgent
from bilingual import Text
from cogvideo import VideoRequest
from jobs import JobService, JobStore, LocalWorker, Users
from jobs.errors import DailyQuotaSpent
from jobs.job import CANCELLED, FAILED, SUCCEEDED
from jobs.quota import day_bounds
from jobs.store import MIGRATIONS, SCHEMA_VERSION
from jobs.variations import allowance, submit_variations
from tests.conftest import Clock, InProcessApp
from ui import words
from ui.handlers import Handlers

FAST = dict(num_inference_steps=2, num_frames=9)


def request(prompt="a cat", **values) -> VideoRequest:
    return VideoRequest(prompt=prompt, **{**FAST, **values})


def midnight_today() -> float:
    return datetime.datetime.combine(datetime.date.today(), datetime.time()).timestamp()



@pytest.fixture()
def data(tmp_path):
    return tmp_path / "data"


def service_on(studio, data, clock: Clock, per_day: int = 2, cap: int = 0) -> JobService:
    """A service that is not started: its jobs stay queued, so only the counting is under test."""
    return JobService(JobStore(data), [LocalWorker(studio)], max_queue=50, max_queue_per_user=cap,
                      free_videos_per_day=per_day, clock=clock)


def close(service: JobService) -> None:
    service.close(timeout=1)
    service.store.close()


# ---------------------------------------------------------------- counting, midnight, restart

def test_a_job_at_2359_yesterday_does_not_count_today_and_the_refusal_names_the_reset(studio, data):
    midnight = midnight_today()
    clock = Clock(midnight - 60)  # 23:59 yesterday
    service = service_on(studio, data, clock)
    try:
        service.submit(request("last night"), owner="alice")
        service.submit(request("last night again"), owner="alice")
        with pytest.raises(DailyQuotaSpent):  # yesterday's two were yesterday's quota
            service.submit(request("one more last night"), owner="alice")
        clock.now = midnight + 9 * 3600  # 09:00 today: a new day
        assert service.free_videos_left("alice") == 2
        service.submit(request("morning"), owner="alice")
        assert service.free_videos_left("alice") == 1
        service.submit(request("noon"), owner="alice")
        with pytest.raises(DailyQuotaSpent) as refused:
            service.submit(request("one too many"), owner="alice")
        exc = refused.value
        assert exc.status == 429
        assert exc.retry_after == math.ceil(day_bounds(clock.now)[1] - clock.now) == 15 * 3600
        assert exc.text == Text("Today's free videos are used up (2 a day). They come back at 00:00.",
                                "今天的免费额度已用完（每天 2 个）。将在 00:00 重置。")
        assert len(service.store.list(owner="alice")) == 4  # the refused one was never stored
    finally:
        close(service)


def test_the_count_survives_a_restart(studio, data):
    clock = Clock(midnight_today() + 10 * 3600)
    first = service_on(studio, data, clock)
    try:
        first.submit(request(), owner="alice")
        first.submit(request(), owner="alice")
    finally:
        close(first)
    again = service_on(studio, data, clock)  # a new service on the same file, as after a restart
    try:
        assert again.free_videos_left("alice") == 0
        with pytest.raises(DailyQuotaSpent):
            again.submit(request(), owner="alice")
        clock.now += 14 * 3600  # past midnight
        assert again.free_videos_left("alice") == 2
        again.submit(request(), owner="alice")
    finally:
        close(again)


def test_the_fast_lane_is_unlimited(studio, data):
    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=1)
    try:
        Users(service.store).add("vera", lane="vip")
        for _ in range(3):
            service.submit(request(), owner="vera")
        assert service.free_videos_left("vera") is None  # no daily limit to show
        # A job sent to the fast lane by the caller counts for nobody either.
        service.submit(request(), owner="alice", lane="vip")
        assert service.free_videos_left("alice") == 1
    finally:
        close(service)


def test_visitors_are_counted_per_address(studio, data):
    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=1)
    try:
        service.submit(request(), owner="local", quota_key="address:10.0.0.1")
        with pytest.raises(DailyQuotaSpent):
            service.submit(request(), owner="local", quota_key="address:10.0.0.1")
        assert service.free_videos_left("local", "address:10.0.0.2") == 1
        service.submit(request(), owner="local", quota_key="address:10.0.0.2")  # the same owner, another address
    finally:
        close(service)


def test_what_the_user_did_not_get_is_given_back_and_a_deleted_work_is_not(studio, data):
    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=4)
    store = service.store
    try:
        waiting, failing, rendered, stopped = (service.submit(request(), owner="alice") for _ in range(4))
        assert service.free_videos_left("alice") == 0
        service.cancel(waiting.id, owner="alice")  # cancelled before it began: given back
        assert service.free_videos_left("alice") == 1
        store.claim(failing.id, "local")
        store.finish(failing.id, FAILED, error=Text("broken", "坏了"))  # failed: given back
        assert service.free_videos_left("alice") == 2
        store.claim(stopped.id, "local")
        store.finish(stopped.id, CANCELLED)  # cancelled mid-render: the GPU did the work
        store.claim(rendered.id, "local")
        store.finish(rendered.id, SUCCEEDED)
        service.delete(rendered.id, owner="alice")  # deleting a work does not give its video back
        service.delete(failing.id, owner="alice")  # nor takes back what was given back
        assert service.free_videos_left("alice") == 2
        service.prune()  # today's uses stay
        assert service.free_videos_left("alice") == 2
    finally:
        close(service)


def test_variations_count_each_video_and_stop_at_the_quota(studio, data):
    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=3)
    try:
        service.submit(request(), owner="alice")
        assert allowance(service, "alice") == 2
        batch = submit_variations(service, request(seed=5), 3, owner="alice")
        assert len(batch.jobs) == 2 and batch.refused == 1 and isinstance(batch.reason, DailyQuotaSpent)
        assert allowance(service, "alice") == 0
        with pytest.raises(DailyQuotaSpent):
            submit_variations(service, request(), 2, owner="alice")
    finally:
        close(service)


def test_a_burst_of_parallel_submits_gets_exactly_the_days_videos(studio, data):
    import concurrent.futures

    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=3)
    try:
        def one(i: int) -> str:
            try:
                service.submit(request(f"burst {i}"), owner="alice")
                return "ok"
            except DailyQuotaSpent:
                return "refused"

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(one, range(8)))
        assert outcomes.count("ok") == 3 and outcomes.count("refused") == 5
        assert service.free_videos_left("alice") == 0
    finally:
        close(service)


def test_quota_off_counts_nothing(studio, data):
    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=0)
    try:
        for _ in range(3):
            service.submit(request(), owner="alice")
        assert service.free_videos_left("alice") is None
    finally:
        close(service)


def test_an_older_database_is_migrated_in_place(data):
    data.mkdir(parents=True)
    db = sqlite3.connect(data / "studio.db")
    db.executescript(";".join(MIGRATIONS[step] for step in (1, 2, 3)) + "; PRAGMA user_version = 3;")
    db.execute("INSERT INTO jobs (id, owner, lane, mode, request, status, created_at) "
               "VALUES ('old', 'alice', 'standard', 't2v', '{}', 'succeeded', ?)", (time.time(),))
    db.commit()
    db.close()
    store = JobStore(data)
    try:
        assert store.schema_version == SCHEMA_VERSION >= 4
        since, until = day_bounds(time.time())
        assert store.quota_used("alice", since, until) == 0  # jobs from before the quota count for nobody
    finally:
        store.close()


# ---------------------------------------------------------------- the line above Generate

def test_the_line_above_generate_in_both_languages():
    assert words.free_videos_left(3, "zh") == "今天还可以生成 3 个视频"
    assert words.free_videos_left(3, "en") == "3 free videos left today"
    assert words.free_videos_left(1, "en") == "1 free video left today"
    assert "已用完" in words.free_videos_left(0, "zh")
    assert words.free_videos_left(None, "zh") == ""  # no limit for this user: nothing is shown


def visitor(address: str, lang: str, username: str | None = None) -> SimpleNamespace:
    """What the handlers read of a Gradio request: the signed-in name, the peer, the language."""
    return SimpleNamespace(username=username, client=SimpleNamespace(host=address),
                           headers={"accept-language": lang})


def test_the_page_says_what_is_left_for_this_visitor_in_the_page_language(studio, data):
    clock = Clock(midnight_today() + 3600)
    service = service_on(studio, data, clock, per_day=3)
    try:
        Users(service.store).add("vera", lane="vip")
        handlers = Handlers(studio, PromptAgent(), service)
        service.submit(request(), owner="local", quota_key="address:10.1.0.1")
        assert handlers.free_videos_note(visitor("10.1.0.1", "zh-CN")) == "今天还可以生成 2 个视频"
        assert handlers.free_videos_note(visitor("10.1.0.2", "en-US")) == "3 free videos left today"
        assert handlers.free_videos_note(visitor("10.1.0.3", "zh-CN", username="vera")) == ""
    finally:
        close(service)


# ---------------------------------------------------------------- every face of a real app

def seconds_to_midnight() -> float:
    now = time.time()
    return day_bounds(now)[1] - now


def test_every_face_refuses_the_same_way_once_the_day_is_used(tmp_path):
    from jobs.keys import ApiKeys

    store = JobStore(tmp_path / "data")
    keys = ApiKeys(store)
    alice = keys.add("alice")[1]
    bob = keys.add("bob", lane="vip")[1]
    store.close()
    app = InProcessApp(tmp_path, data_dir=tmp_path / "data", extra_args=("--free-videos-per-day", "1"))
    try:
        # The page (named API), a visitor: one video, then the refusal in the caller's language.
        page = Client(app.url, headers={"X-Forwarded-For": "10.7.0.1", "Accept-Language": "zh-CN"}, verbose=False)
        page.predict(prompt="a kite", api_name="/text_to_video", **FAST)
        with pytest.raises(AppError) as refused:
            page.predict(prompt="another kite", api_name="/text_to_video", **FAST)
        assert "今天的免费额度已用完（每天 1 个）。将在 00:00 重置。" in str(refused.value)
        assert "Traceback" not in str(refused.value)
        # A script that sent no language reads both; the same address, so the same count.
        script = Client(app.url, headers={"X-Forwarded-For": "10.7.0.1"}, verbose=False)
        with pytest.raises(AppError) as both:
            script.predict(prompt="a third kite", api_name="/text_to_video", **FAST)
        assert "今天的免费额度已用完" in str(both.value) and "Today's free videos are used up" in str(both.value)

        # REST with Zhipu's own SDK: 429, our code, Retry-After to midnight.
        from zai import ZhipuAiClient
        from zai.core import APIReachLimitError

        base = app.url + "api/paas/v4"
        rest = ZhipuAiClient(api_key=alice, base_url=base, max_retries=0)
        rest.videos.generations(model="cogvideox", prompt="a boat", duration=1, extra_body={"num_inference_steps": 2})
        with pytest.raises(APIReachLimitError) as limited:
            rest.videos.generations(model="cogvideox", prompt="a second boat", duration=1)
        response = limited.value.response
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "1304"
        assert abs(int(response.headers["retry-after"]) - seconds_to_midnight()) < 120
        vip = ZhipuAiClient(api_key=bob, base_url=base, max_retries=0)
        for _ in range(2):  # the fast lane is unlimited
            vip.videos.generations(model="cogvideox", prompt="a vip boat", duration=1,
                                   extra_body={"num_inference_steps": 2})

        # MCP: the tool's error, in the caller's language, no stack trace.
        async def generate() -> tuple[bool, str]:
            import httpx2
            from mcp.client.session import ClientSession
            from mcp.client.streamable_http import streamable_http_client

            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice}", "Accept-Language": "en"},
                                      timeout=60)
            async with http, streamable_http_client(app.url + "mcp", http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    result = await session.call_tool("generate_video", {"prompt": "a kite", "wait": False})
                    return result.is_error, "".join(getattr(part, "text", "") for part in result.content)

        is_error, text = anyio.run(generate)
        assert is_error and "Today's free videos are used up (1 a day). They come back at 00:00." in text
        assert "今天" not in text and "Traceback" not in text
    finally:
        app.close()
