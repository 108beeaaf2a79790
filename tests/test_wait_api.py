"""The expected wait through every scripted face of `python app.py --model tiny`: REST async-result
(zai-sdk still parses it), the MCP `job_status` tool and the named API's `/job_status`."""

from __future__ import annotations

import time

import httpx
import pytest

from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import InProcessApp
from tests.test_mcp import call

FAST = {"num_inference_steps": 2}
WAIT_FIELDS = ("queue_position", "expected_start_seconds", "expected_finish_seconds")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wait")
    store = JobStore(tmp / "data")
    alice = ApiKeys(store).add("alice")[1]
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data")
    app.keys = {"alice": alice}
    app.base = app.url + "api/paas/v4"
    yield app
    app.close()


def zai(server):
    from zai import ZhipuAiClient

    return ZhipuAiClient(api_key=server.keys["alice"], base_url=server.base, max_retries=0)


def raw(server, task_id) -> dict:
    return httpx.get(f"{server.base}/async-result/{task_id}",
                     headers={"Authorization": f"Bearer {server.keys['alice']}"}, timeout=30).json()


def until(condition, timeout=180.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not met in {timeout} s"
        time.sleep(0.3)


def test_a_waiting_job_says_its_place_and_when_it_starts_on_every_face(server):
    from gradio_client import Client

    client, named = zai(server), Client(server.url, verbose=False)
    # One finished job is the history the estimate learns from.
    done = client.videos.generations(model="cogvideox", prompt="history", duration=1, extra_body=FAST)
    until(lambda: raw(server, done.id)["task_status"] == "SUCCESS", what="the first job")
    # 150 steps of 33 frames (4 s): slow on any machine, so it is still rendering when the test looks
    # at the job behind it and when it cancels it (9 frames finished first on a quiet machine).
    slow = client.videos.generations(model="cogvideox", prompt="slow", duration=4,
                                     extra_body={"num_inference_steps": 150})
    later: list[str] = []
    try:
        running = until(lambda: (r := raw(server, slow.id))["status"] == "running" and r["progress"] > 0 and r,
                        what="the slow job's first step")
        assert running["queue_position"] is None and running["expected_start_seconds"] == 0
        assert running["expected_finish_seconds"] > 0  # counted down from its steps
        waiting = client.videos.generations(model="cogvideox", prompt="waits", duration=1, extra_body=FAST)
        later.append(waiting.id)

        # REST: Zhipu's shape, which the SDK still parses, and ours beside it.
        parsed = client.videos.retrieve_videos_result(id=waiting.id)
        assert parsed.task_status == "PROCESSING" and parsed.video_result == []
        # The history is re-read at most every 2 s: wait for the estimate rather than take the first look.
        body = until(lambda: (b := raw(server, waiting.id))["expected_start_seconds"] is not None and b,
                     timeout=60, what="an estimate for the waiting job")
        assert body["queue_position"] == 1 and body["position"] == 1
        # After the slow job's time left, which counts its decoding and encoding after the last step
        # (a quiet machine ends the steps first: that once read 0, tests/test_estimate_clock.py).
        slow_now = raw(server, slow.id)
        assert slow_now["status"] == "running", slow_now  # still ahead of it
        assert body["expected_start_seconds"] > 0, (body, slow_now)
        assert body["expected_finish_seconds"] > body["expected_start_seconds"]

        # MCP: the same fields from job_status.
        (result,) = call(server, "alice", ("job_status", {"job_id": waiting.id}))
        assert not result.is_error, result
        view = result.structured_content
        assert view["status"] == "queued" and view["queue_position"] == 1
        assert view["expected_start_seconds"] > 0 and view["expected_finish_seconds"] > view["expected_start_seconds"]

        # The named API: a page's job (the local owner) second in line, after alice's.
        named.submit(prompt="second in line", num_inference_steps=2, num_frames=9, translate=False,
                     api_name="/text_to_video")
        mine = until(lambda: [w for w in named.predict(api_name="/my_works") if w["status"] == "queued"],
                     what="the page's job in line")[0]
        later.append(mine["job_id"])
        status = named.predict(job_id=mine["job_id"], api_name="/job_status")
        assert status["queue_position"] == 2
        ahead = raw(server, waiting.id)  # looked at after: its wait can only have shrunk meanwhile
        assert status["expected_start_seconds"] >= ahead["expected_start_seconds"]
        assert status["expected_finish_seconds"] > status["expected_start_seconds"]
    finally:  # leave nothing rendering: the queued ones first, so none starts
        for task_id in later:
            httpx.delete(f"{server.base}/async-result/{task_id}",
                         headers={"Authorization": f"Bearer {server.keys['alice']}"}, timeout=30)
        for job_id in later:
            try:
                named.predict(job_id=job_id, api_name="/cancel_job")
            except Exception:
                pass  # alice's job is not the page's to cancel
        httpx.delete(f"{server.base}/async-result/{slow.id}",
                     headers={"Authorization": f"Bearer {server.keys['alice']}"}, timeout=30)
    cancelled = until(lambda: (r := raw(server, slow.id))["status"] == "cancelled" and r, what="the cancel")
    assert all(cancelled[name] is None for name in WAIT_FIELDS)  # a finished job waits for nothing
