"""The REST API as a developer uses it: Zhipu's own SDK (`zai-sdk`), curl and raw HTTP against
`python app.py --model tiny`, with keys made by the operator's CLI."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from cogvideo.media import codec
from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import ROOT, InProcessApp, RunningApp, make_photo

FAST = {"num_inference_steps": 2}  # with duration=1 (9 frames at 8 fps): a tiny job takes about a second


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    store = JobStore(tmp / "data")
    keys = ApiKeys(store)
    alice = keys.add("alice")[1]
    bob = keys.add("bob", lane="vip")[1]
    burst = keys.add("burst")[1]
    revoked_record, revoked = keys.add("carol")
    keys.revoke(revoked_record.id)
    store.close()
    # --max-queue-per-user 4: the fast-lane test keeps four of alice's jobs in line at once.
    app = RunningApp(tmp, data_dir=tmp / "data",
                     extra_args=("--api-rate-limit", "40", "--allow-url-fetch", "--max-queue-per-user", "4"))
    app.keys = {"alice": alice, "bob": bob, "revoked": revoked, "burst": burst}
    app.base = app.url + "api/paas/v4"
    yield app
    app.close()


def zai(server, who="alice"):
    from zai import ZhipuAiClient

    return ZhipuAiClient(api_key=server.keys[who], base_url=server.base, max_retries=0)


def wait_done(client, task_id, timeout=120):
    deadline = time.monotonic() + timeout
    result = client.videos.retrieve_videos_result(id=task_id)
    while result.task_status == "PROCESSING":
        assert time.monotonic() < deadline, "the task did not finish"
        time.sleep(0.3)
        result = client.videos.retrieve_videos_result(id=task_id)
    return result


def post(server, body, who="alice", **headers) -> httpx.Response:
    key = server.keys.get(who, who)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers}
    return httpx.post(server.base + "/videos/generations", headers=headers,
                      content=body if isinstance(body, (str, bytes)) else json.dumps(body), timeout=60)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def png_data_url(width=160, height=96) -> str:
    buffer = io.BytesIO()
    make_photo(width, height).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# ---------------------------------------------------------------- the SDK, end to end

def test_text_to_video_with_zhipus_sdk_then_download(server):
    client = zai(server)
    task = client.videos.generations(model="cogvideox", prompt="a lighthouse at dawn", duration=1, with_audio=True,
                                     extra_body={"seed": 7, **FAST})
    assert task.task_status == "PROCESSING" and len(task.id) == 32
    result = wait_done(client, task.id)
    assert result.task_status == "SUCCESS" and result.model == "tiny"
    video = httpx.get(result.video_result[0].url, timeout=30)  # no key needed for the file
    cover = httpx.get(result.video_result[0].cover_image_url, timeout=30)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = server.output_dir / "downloaded.mp4"
    path.write_bytes(video.content)
    info = codec.probe(path)
    assert info.video_codec == "h264" and info.audio_codec == "aac"  # with_audio: the suggested track
    assert Image.open(io.BytesIO(cover.content)).format == "JPEG"
    raw = httpx.get(f"{server.base}/async-result/{task.id}", headers={"Authorization": f"Bearer {server.keys['alice']}"}).json()
    assert raw["seed"] == 7 and raw["status"] == "succeeded" and raw["progress"] == 1


def test_image_to_video_from_a_data_url_and_plain_base64(server):
    client = zai(server)
    for image in (png_data_url(), png_data_url().split(",", 1)[1]):
        task = client.videos.generations(model="cogvideox", prompt="the sun moves", image_url=image, duration=1,
                                         extra_body=FAST)
        result = wait_done(client, task.id)
        assert result.task_status == "SUCCESS" and result.model == "tiny-i2v"


def test_api_jobs_are_the_users_works_in_the_users_lane(server):
    from gradio_client import Client  # the same jobs through the named API, seen as the operator
    client = zai(server, "bob")
    task = client.videos.generations(model="tiny", prompt="bob's kite", duration=1, extra_body=FAST)
    wait_done(client, task.id)
    store = JobStore(server.data_dir)
    job = store.get(task.id)
    store.close()
    assert job.owner == "bob" and job.lane == "vip"
    listed = httpx.get(server.base + "/videos", headers={"Authorization": f"Bearer {server.keys['bob']}"}).json()
    assert [t["id"] for t in listed["data"]][0] == task.id
    assert all(t["id"] != task.id for t in httpx.get(
        server.base + "/videos", headers={"Authorization": f"Bearer {server.keys['alice']}"}).json()["data"])
    del Client


def test_the_sdks_errors(server):
    from zai.core import APIAuthenticationError, APIRequestFailedError

    with pytest.raises(APIAuthenticationError):
        zai(server, "revoked").videos.generations(model="cogvideox", prompt="x")
    from zai import ZhipuAiClient

    with pytest.raises(APIAuthenticationError):
        ZhipuAiClient(api_key="0123456789abcdef.wrong", base_url=server.base, max_retries=0).videos.generations(
            model="cogvideox", prompt="x")
    with pytest.raises(APIRequestFailedError) as err:
        zai(server).videos.generations(model="cogvideox", prompt="x", style="vaporwave")
    assert "vaporwave" in str(err.value)


# ---------------------------------------------------------------- bad input: clear errors, nothing half-made

def jobs_count(server) -> int:
    store = JobStore(server.data_dir)
    count = len(store.list())
    store.close()
    return count


@pytest.mark.parametrize("body, status, code, words", [
    ("{not json", 400, "1214", "not valid JSON"),
    ({"model": "cogvideox", "prompt": "x", "fps": "fast"}, 400, "1214", "fps"),
    ({"model": "cogvideox", "prompt": "x", "fps": 24}, 400, "1214", "8"),
    ({"model": "cogvideox", "prompt": "x", "duration": 10}, 400, "1214", "duration"),
    ({"model": "cogvideox", "prompt": "x", "size": "huge"}, 400, "1214", "WIDTHxHEIGHT"),
    ({"model": "cogvideox", "prompt": "x", "size": "00x00"}, 400, "1214", "side of 0 pixels"),
    ({"model": "cogvideox", "prompt": "x", "size": "144x00"}, 400, "1214", "side of 0 pixels"),
    ({"model": "gpt-video", "prompt": "x"}, 400, "1211", "cogvideox"),
    ({"model": "cogvideox", "prompt": ""}, 400, "1214", "prompt is empty"),
    ({"model": "cogvideox", "prompt": "x" * 20_001}, 400, "1214", "20000"),
    ({"model": "cogvideox", "prompt": "x", "image_url": "bm90IGFuIGltYWdl"}, 400, "1214", "image"),
    ({"model": "cogvideox", "prompt": "x", "image_url": "@@@ not base64 @@@"}, 400, "1214", "image_url"),
    ({"model": "cogvideox", "prompt": "x", "guidance_scale": "NaN"}, 400, "1214", "guidance_scale"),
    ({"model": "cogvideox", "prompt": "x", "mode": "old_photo"}, 400, "1214", "image_url"),
])
def test_bad_requests(server, body, status, code, words):
    before = jobs_count(server)
    response = post(server, body, **{"Accept-Language": "en"})
    assert error_of(response)[:2] == (status, code) and words in error_of(response)[2]
    assert "Traceback" not in response.text and jobs_count(server) == before


def test_messages_follow_the_callers_language(server):
    body = {"model": "cogvideox", "prompt": ""}
    assert "提示词为空" in error_of(post(server, body, **{"Accept-Language": "zh-CN"}))[2]
    both = error_of(post(server, body))[2]
    assert "提示词为空" in both and "prompt is empty" in both


def test_keys_missing_malformed_and_unknown(server):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer " + "x" * 5000}, {"Authorization": "Bearer a.b.c"}):
        response = httpx.post(server.base + "/videos/generations", headers=headers, json={"prompt": "x"})
        assert error_of(response)[:2] == (401, "1000")


def test_no_keys_at_all_refuses_every_call_and_says_how_to_add_one(app):
    response = httpx.post(app.url + "api/paas/v4/videos/generations", json={"prompt": "x"},
                          headers={"Authorization": "Bearer whatever"})
    status, code, text = error_of(response)
    assert (status, code) == (401, "1000") and "python -m cogvideo keys add" in text


def test_a_30_mb_image_is_refused_fast(server):
    started = time.monotonic()
    response = post(server, {"model": "cogvideox", "prompt": "x", "image_url": "A" * (30 * 1024 * 1024)})
    assert error_of(response)[:2] == (400, "1214") and time.monotonic() - started < 10


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x.png", "http://169.254.169.254/latest/meta-data",
                                 "http://localhost/a.png", "file:///etc/passwd"])
def test_image_urls_to_private_addresses_are_refused(server, url):
    assert error_of(post(server, {"model": "cogvideox", "prompt": "x", "image_url": url}))[:2] == (400, "1214")


def test_request_id_is_idempotent_per_key(server):
    body = {"model": "cogvideox", "prompt": "same request", "duration": 1, "request_id": "order-1", **FAST}
    first, again = post(server, body).json(), post(server, body).json()
    assert first["id"] == again["id"] and first["request_id"] == "order-1"
    other_key = post(server, body, who="bob").json()  # ids are per key
    assert other_key["id"] != first["id"]
    conflict = post(server, {**body, "prompt": "a different request"})
    assert error_of(conflict)[:2] == (409, "1409")


def test_another_users_task_is_not_found(server):
    task = post(server, {"model": "cogvideox", "prompt": "alice's", "duration": 1, **FAST}).json()
    response = httpx.get(f"{server.base}/async-result/{task['id']}",
                         headers={"Authorization": f"Bearer {server.keys['bob']}"})
    assert error_of(response)[:2] == (404, "1404")
    response = httpx.delete(f"{server.base}/async-result/{task['id']}",
                            headers={"Authorization": f"Bearer {server.keys['bob']}"})
    assert error_of(response)[:2] == (404, "1404")


def test_files_stop_working_when_the_job_is_deleted(server):
    client = zai(server)
    result = wait_done(client, client.videos.generations(model="cogvideox", prompt="short-lived", duration=1,
                                                         extra_body=FAST).id)
    url = result.video_result[0].url
    assert httpx.get(url).status_code == 200
    assert httpx.get(url.replace("/files/", "/files/x")).status_code == 404
    store = JobStore(server.data_dir)
    from jobs.service import remove_job

    remove_job(store, store.get(result.id))
    store.close()
    assert httpx.get(url).status_code == 404


def test_a_burst_from_one_key_gets_429_and_others_are_still_served(server):
    codes: list[str] = []

    def submit(i: int) -> None:
        response = post(server, {"model": "cogvideox", "prompt": f"burst {i}", "duration": 1, **FAST}, who="burst")
        codes.append("ok" if response.status_code == 200 else error_of(response)[1])

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(100)]
    for thread in threads:
        thread.start()
    during = httpx.get(server.base + "/videos", headers={"Authorization": f"Bearer {server.keys['bob']}"})
    for thread in threads:
        thread.join()
    assert during.status_code == 200  # another key is served meanwhile
    assert codes.count("1302") == 100 - 40  # --api-rate-limit 40: the rest are rate-limited...
    # ...or meet the user's share of the line (4 waiting or rendering), or the line's bound.
    assert codes.count("ok") >= 1 and codes.count("ok") + codes.count("1306") + codes.count("1305") == 40
    assert codes.count("1306") >= 1
    limited = post(server, {"model": "cogvideox", "prompt": "one more"}, who="burst")
    assert error_of(limited)[:2] == (429, "1302") and int(limited.headers["retry-after"]) >= 1
    store = JobStore(server.data_dir)  # let the accepted ones drain before the next test
    deadline = time.monotonic() + 120
    while store.count("queued") or store.count("running"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    store.close()


def test_openapi_lists_the_routes_with_examples(server):
    spec = httpx.get(server.url + "api/openapi.json").json()
    assert "/paas/v4/videos/generations" in spec["paths"] and "/paas/v4/async-result/{task_id}" in spec["paths"]
    assert "examples" in json.dumps(spec["components"]["schemas"]["VideoGenerationBody"])
    assert httpx.get(server.url + "api/docs").status_code == 200


# ---------------------------------------------------------------- the README's examples, as written

def readme_block(language: str, after: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(after):]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_the_readmes_python_and_curl_examples_run(tmp_path):
    # A fresh key for this test: the module's keys may have spent their rate limit.
    tmp = tmp_path / "readme"
    store = JobStore(tmp / "data")
    key = ApiKeys(store).add("readme")[1]
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data")  # the example and curl are the processes here
    try:
        env = {**os.environ, "STUDIO_URL": app.url.rstrip("/"), "STUDIO_API_KEY": key}
        code = readme_block("python", "## Use it from code").replace(
            'extra_body={"seed": 42, "style": "cinematic"}',
            'duration=1, extra_body={"seed": 42, "style": "cinematic", "num_inference_steps": 2}')
        script = tmp_path / "example.py"
        script.write_text(code)
        # The interpreter running the tests (zai-sdk is installed there), not whichever `python`
        # comes first on PATH.
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("SUCCESS http") and "/api/files/" in done.stdout
        curl = readme_block("bash", "```python\nimport os").splitlines()
        submit = "\n".join(line for line in curl[:2])
        created = subprocess.run(["bash", "-c", submit], env=env, capture_output=True, text=True, timeout=60)
        task = json.loads(created.stdout)
        assert task["task_status"] == "PROCESSING"
        poll = curl[3].replace("<id>", task["id"])
        polled = subprocess.run(["bash", "-c", poll], env=env, capture_output=True, text=True, timeout=60)
        assert json.loads(polled.stdout)["id"] == task["id"]
    finally:
        app.close()


# ---------------------------------------------------------------- the fast lane

def test_a_vip_job_overtakes_queued_standard_jobs(server):
    long_one = post(server, {"model": "cogvideox", "prompt": "long", "duration": 1, "num_inference_steps": 100}).json()
    standard = [post(server, {"model": "cogvideox", "prompt": f"standard {i}", "duration": 1, **FAST}).json()
                for i in range(3)]
    vip = post(server, {"model": "cogvideox", "prompt": "vip", "duration": 1, **FAST}, who="bob").json()
    store = JobStore(server.data_dir)
    deadline = time.monotonic() + 180
    while not all(store.get(t["id"]).finished for t in [long_one, *standard, vip]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    finished = {t["id"]: store.get(t["id"]).finished_at for t in [*standard, vip]}
    store.close()
    assert finished[vip["id"]] < finished[standard[2]["id"]]
    assert finished[vip["id"]] < finished[standard[0]["id"]]  # the fast lane goes first


def test_zhipus_jwt_form_and_forwarded_urls(server):
    from zai import ZhipuAiClient

    client = ZhipuAiClient(api_key=server.keys["alice"], base_url=server.base, max_retries=0,
                           disable_token_cache=False)  # the SDK signs a JWT with the key's secret
    task = client.videos.generations(model="cogvideox", prompt="signed", duration=1, extra_body=FAST)
    assert wait_done(client, task.id).task_status == "SUCCESS"
    behind_proxy = httpx.get(f"{server.base}/async-result/{task.id}", headers={
        "Authorization": f"Bearer {server.keys['alice']}", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "studio.example.test"}).json()
    assert behind_proxy["video_result"][0]["url"].startswith("https://studio.example.test/api/files/")
