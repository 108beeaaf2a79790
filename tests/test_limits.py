"""Limits a newcomer or an attacker meets, on a running app without sign-in (`python app.py --model
tiny` with small limits): uploads per request, per address and on disk; jobs per visitor (by
address), per API user (REST and MCP alike); Gradio's own messages in ours.

Client addresses: uvicorn takes X-Forwarded-For from 127.0.0.1 (a trusted proxy by default, which is
also how Gradio's share tunnel connects), so each test speaks from addresses of its own."""

from __future__ import annotations

import concurrent.futures
import json
import time

import anyio
import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from jobs import JobStore
from jobs.keys import ApiKeys
from tests.chat_server import Reply
from tests.conftest import RunningApp, make_photo

FAST = dict(num_inference_steps=2, num_frames=9)
SLOW = dict(num_inference_steps=150, num_frames=33)  # seconds of work: the job stays in line meanwhile
MB = 2**20


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    store = JobStore(tmp / "data")
    app_key = ApiKeys(store).add("alice")[1]
    store.close()
    app = RunningApp(
        tmp, data_dir=tmp / "data",
        extra_args=("--max-queue-per-user", "2", "--max-upload-request", "3mb", "--max-upload-per-hour", "5mb",
                    "--max-upload-files", "3", "--upload-cache-max", "12mb", "--upload-cache-age", "6s"),
        env={"GRADIO_TEMP_DIR": str(tmp / "gradio")},  # this app's own upload cache, measured by the tests
    )
    app.key, app.cache = app_key, tmp / "gradio"
    yield app
    app.close()


def upload(app, files: dict[str, bytes], address: str, **headers) -> httpx.Response:
    return httpx.post(app.url + "gradio_api/upload", files=[("files", (name, data)) for name, data in files.items()],
                      headers={"X-Forwarded-For": address, **headers}, timeout=60)


def in_cache(app, name: str) -> list:
    return list(app.cache.rglob(name))


def wait_until(condition, timeout=60.0, every=0.1):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


# ---------------------------------------------------------------- uploads

def test_one_upload_is_bounded_in_bytes_before_anything_is_stored(limited):
    refused = upload(limited, {"big-a.bin": b"a" * 2 * MB, "big-b.bin": b"b" * 2 * MB}, "10.1.0.1")
    assert refused.status_code == 413
    assert "over the limit of 3 MB for one upload" in refused.text and "超过单次上传 3 MB 的上限" in refused.text
    assert not in_cache(limited, "big-a.bin") and not in_cache(limited, "big-b.bin")
    assert upload(limited, {"fits.bin": b"c" * 2 * MB}, "10.1.0.1").status_code == 200


def test_one_upload_is_bounded_in_files(limited):
    four = {f"small-{i}.txt": f"note {i}".encode() for i in range(4)}
    refused = upload(limited, four, "10.1.0.2", **{"Accept-Language": "en"})
    assert refused.status_code == 413
    assert refused.text == "One upload may carry at most 3 files; this one had 4. Send them in smaller groups."
    assert not any(in_cache(limited, name) for name in four)  # stored by Gradio, then removed again
    three = upload(limited, dict(list(four.items())[:3]), "10.1.0.2")
    assert three.status_code == 200 and len(three.json()) == 3


def test_each_address_has_an_hourly_upload_budget(limited):
    for i in range(2):
        assert upload(limited, {f"hour-{i}.bin": bytes([i]) * 2 * MB}, "10.1.0.3").status_code == 200
    refused = upload(limited, {"hour-2.bin": b"x" * 2 * MB}, "10.1.0.3", **{"Accept-Language": "zh-CN"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 3000  # the first bytes leave in an hour
    assert "每小时上限为 5 MB" in refused.text and "hour" not in refused.text
    assert not in_cache(limited, "hour-2.bin")
    assert upload(limited, {"elsewhere.bin": b"y" * 2 * MB}, "10.1.0.4").status_code == 200  # another address


def test_an_upload_of_unknown_size_is_refused(limited):
    def chunks():
        yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"s.bin\"\r\n\r\n"
        yield b"z" * 1000 + b"\r\n--x--\r\n"

    refused = httpx.post(limited.url + "gradio_api/upload", content=chunks(),
                         headers={"Content-Type": "multipart/form-data; boundary=x", "X-Forwarded-For": "10.1.0.5"})
    assert refused.status_code == 411 and "Content-Length" in refused.text


def test_gradios_own_file_size_refusal_gets_our_words(tmp_path):
    """One file over Gradio's per-file cap (200 MB, under the 250 MB request cap) is refused by
    Gradio itself, in English; the guard answers in ours. Gradio is played here by an ASGI app
    that answers exactly as its upload route does, so no 200 MB file has to be sent."""
    from starlette.responses import PlainTextResponse

    from api.uploads import UploadGuard

    async def gradio(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        await PlainTextResponse("File size exceeded maximum allowed size of 209715200 bytes.", 413)(scope, receive, send)

    guard = UploadGuard(gradio, cache_dir=tmp_path, max_per_hour=5 * MB, max_cache=0)
    transport = httpx.ASGITransport(app=guard, client=("10.9.9.9", 1234))

    async def send_one() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://studio") as http:
            return await http.post("/gradio_api/upload", files=[("files", ("a.bin", b"a" * 1000))],
                                   headers={"Accept-Language": "zh-CN"})

    refused = anyio.run(send_one)
    assert refused.status_code == 413 and refused.text == "有文件超过单个文件 200 MB 的上限。请换一个更小的文件。"
    assert guard.budget.used("10.9.9.9") == 0  # nothing was kept, so nothing counts against the hour


# ---------------------------------------------------------------- jobs and the upload cache

def test_jobs_keep_their_picture_after_the_upload_cache_is_cleaned(limited, tmp_path):
    photo = tmp_path / "keep-me.png"
    make_photo(320, 200).save(photo)
    client = Client(limited.url, headers={"X-Forwarded-For": "10.2.0.1"}, verbose=False)
    video, info = client.predict(image=handle_file(str(photo)), prompt="the sun sets", api_name="/image_to_video",
                                 **FAST)
    assert info["video"].endswith(".mp4") and "/" not in info["video"]
    kept = limited.data_dir / "inputs" / info["job_id"] / "image.png"
    assert kept.is_file()
    wait_until(lambda: not in_cache(limited, "keep-me.png"), timeout=30)  # --upload-cache-age 6s, cleaned every 1 s
    assert kept.is_file()
    again = client.predict(job_id=info["job_id"], api_name="/job_status")
    assert again["status"] == "succeeded"


def test_the_upload_cache_is_bounded_on_disk(limited):
    refused = None
    for i in range(8):  # 2.5 MB each from fresh addresses (their hourly budgets are not the limit here)
        response = upload(limited, {f"fill-{i}.bin": bytes([i]) * (5 * MB // 2)}, f"10.3.0.{i + 1}")
        if response.status_code != 200:
            refused = response
            break
    assert refused is not None and refused.status_code == 507, refused and refused.text
    assert "space for uploads is full" in refused.text and "上传空间暂时已满" in refused.text
    # The cache is cleaned of uploads older than 6 s: room comes back without a restart.
    wait_until(lambda: not in_cache(limited, "fill-0.bin"), timeout=30)
    wait_until(lambda: upload(limited, {"later.bin": b"l" * MB}, "10.3.1.1").status_code == 200, timeout=30, every=1)


# ---------------------------------------------------------------- jobs per visitor, per user

def active(store: JobStore, owner: str) -> int:
    return store.count("queued", owner) + store.count("running", owner)


def cancel_all(store: JobStore) -> None:
    """The operator CLI's way: queued jobs end at once, running ones at their next step."""
    for job in store.list(status=("queued", "running")):
        store.request_cancel(job.id)
    wait_until(lambda: not store.count("queued") and not store.count("running"), timeout=60)


def test_visitors_without_sign_in_are_counted_per_address(limited):
    store = JobStore(limited.data_dir)
    try:
        first = Client(limited.url, headers={"X-Forwarded-For": "10.4.0.1", "Accept-Language": "en"}, verbose=False)
        second = Client(limited.url, headers={"X-Forwarded-For": "10.4.0.2", "Accept-Language": "zh-CN"},
                        verbose=False)
        for i in range(2):
            first.submit(prompt=f"slow {i}", seed=i, api_name="/text_to_video", **SLOW)
        wait_until(lambda: active(store, "local") == 2)
        with pytest.raises(AppError) as refused:
            first.predict(prompt="a third one", api_name="/text_to_video", **FAST)
        assert "You already have 2 videos waiting or rendering" in str(refused.value)
        assert "你已有" not in str(refused.value)  # the caller's language only
        second.submit(prompt="from another address", api_name="/text_to_video", **FAST)
        wait_until(lambda: active(store, "local") == 3)  # the same owner `local`, another address: let in
    finally:
        cancel_all(store)
        store.close()


def test_rest_and_mcp_callers_share_their_users_cap(limited):
    base = limited.url + "api/paas/v4"
    auth = {"Authorization": f"Bearer {limited.key}"}
    body = {"model": "cogvideox", "prompt": "a slow one", "duration": 4, "num_inference_steps": 150}
    store = JobStore(limited.data_dir)
    try:
        for _ in range(2):
            assert httpx.post(base + "/videos/generations", json=body, headers=auth, timeout=60).status_code == 200
        refused = httpx.post(base + "/videos/generations", json=body, headers={**auth, "Accept-Language": "en"},
                             timeout=60)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
        error = refused.json()["error"]
        assert error["code"] == "1306" and error["message"].startswith("You already have 2 videos")

        async def generate() -> tuple[bool, str]:
            from mcp.client.session import ClientSession
            from mcp.client.streamable_http import streamable_http_client
            import httpx2

            http = httpx2.AsyncClient(headers={**auth, "Accept-Language": "zh-CN"}, timeout=60)
            async with http, streamable_http_client(limited.url + "mcp", http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    result = await session.call_tool("generate_video", {"prompt": "a kite", "wait": False})
                    return result.is_error, "".join(getattr(part, "text", "") for part in result.content)

        is_error, text = anyio.run(generate)
        assert is_error and "你已有 2 个视频在排队或生成中" in text and "You already" not in text
        assert active(store, "alice") == 2
    finally:
        cancel_all(store)
        store.close()


# ---------------------------------------------------------------- Gradio's own messages, in ours

def test_malformed_calls_get_our_message_without_gradios_internals(limited):
    join = httpx.post(limited.url + "gradio_api/call/text_to_video", json={"data": [{"x": 1}]}, timeout=30)
    events = httpx.get(f"{limited.url}gradio_api/call/text_to_video/{join.json()['event_id']}", timeout=60).text
    assert "event: error" in events
    assert "0x" not in events and "object at" not in events and "gradio.components" not in events
    message = json.loads(events.split("event: error\ndata: ", 1)[1].split("\n", 1)[0])["error"]
    assert "wrong type" in message and "类型不对" in message  # no Accept-Language: both languages

    client = Client(limited.url, headers={"Accept-Language": "en"}, verbose=False)
    with pytest.raises(AppError) as err:
        client.predict(prompt="x", seed={"not": "a number"}, api_name="/text_to_video", **FAST)
    assert "a value is missing or has the wrong type" in str(err.value) and "类型" not in str(err.value)
    assert "verbose error reporting" not in str(err.value)


def test_a_full_gradio_queue_answers_in_our_words(limited):
    """Four slow prompt-agent calls hold the agent's four places; the next 64 wait in Gradio's queue
    (its bound: max(64, 4 × --max-queue)); the rest are refused, in our words."""
    client = Client(limited.url, verbose=False)
    limited.chat.queue(*[Reply(text="A slow answer.", delay=4) for _ in range(4)])

    def join(i: int) -> httpx.Response:
        return httpx.post(limited.url + "gradio_api/call/suggest_prompt",
                          json={"data": [f"idea {i}", None, "t2v", "none", ""]}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(join, range(80)))
    statuses = [a.status_code for a in answers]
    assert 503 not in statuses and statuses.count(429) >= 1 and statuses.count(200) >= 64, statuses
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["retry-after"] == "10"
    detail = refused.json()["detail"]
    assert "too many requests are waiting" in detail and "等待处理的请求太多" in detail
    with pytest.raises(httpx.HTTPStatusError) as err:  # gradio_client: our words ride on the response
        client.predict(prompt="one more idea", api_name="/suggest_prompt")
    assert err.value.response.status_code == 429 and "工作室正忙" in err.value.response.json()["detail"]
