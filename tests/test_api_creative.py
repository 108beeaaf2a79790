"""Restyle (mode v2v) and extend through the developer API: Zhipu's own SDK (`zai-sdk`) with our
extra fields, the GIF route, and the MCP tools, against `python app.py --model tiny`; and the
`video_url` intake (data URLs, base64, URLs, caps) on its own.

The tiny model makes 144×96 at 8 fps, 9 frames a clip (frame_step 8: 8N+1 frames).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import numpy as np
import pytest
from PIL import Image

from api import inputs
from api.inputs import (
    MAX_VIDEO_BYTES,
    video_from_url,
    video_suffix,
)
from cogvideo.errors import InvalidRequest, VideoError
from cogvideo.media import codec
from jobs import JobStore
from jobs.keys import ApiKeys
from tests.conftest import RunningApp, make_photo

WIDTH, HEIGHT, FPS, PART = 144, 96, 8, 9
FAST = {"num_inference_steps": 2, "seed": 5}  # restyle: strength 0.5 × 2 steps = 1 step run


def make_clip(path: Path, frames: int = 17) -> Path:
    """A 17-frame clip (2.1 s at 8 fps): a bright bar moving right over a gradient."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    base = np.stack([x * 255 // (WIDTH - 1), y * 255 // (HEIGHT - 1), np.full_like(x, 90)], -1).astype(np.uint8)
    out = []
    for index in range(frames):
        frame = base.copy()
        left = index * WIDTH // frames
        frame[:, left:left + 14] = 250
        out.append(frame)
    return codec.encode_mp4(np.stack(out), FPS, path)


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4").read_bytes()


def data_url(data: bytes, kind: str = "video/mp4") -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    make_photo(160, 96).save(buffer, "PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- the app, shared by the module

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("creative")
    store = JobStore(tmp / "data")
    keys = ApiKeys(store)
    alice, bob = keys.add("alice")[1], keys.add("bob")[1]
    store.close()
    scratch = tmp / "tmp"  # the app's temporary folder: the clips' temporary files must leave it
    scratch.mkdir()
    app = RunningApp(tmp, data_dir=tmp / "data", env={"TMPDIR": str(scratch)},
                     extra_args=("--max-queue-per-user", "6"))
    app.keys = {"alice": alice, "bob": bob}
    app.base = app.url + "api/paas/v4"
    app.scratch = scratch
    yield app
    app.close()


def zai(server, who="alice"):
    from zai import ZhipuAiClient

    return ZhipuAiClient(api_key=server.keys[who], base_url=server.base, max_retries=0)


def wait_done(client, task_id, timeout=180):
    deadline = time.monotonic() + timeout
    result = client.videos.retrieve_videos_result(id=task_id)
    while result.task_status == "PROCESSING":
        assert time.monotonic() < deadline, "the task did not finish"
        time.sleep(0.3)
        result = client.videos.retrieve_videos_result(id=task_id)
    return result


def get(server, path, who="alice", **params) -> httpx.Response:
    return httpx.get(server.base + path, params=params, timeout=60,
                     headers={"Authorization": f"Bearer {server.keys[who]}", "Accept-Language": "en"})


def frames_of(server, url: str, name: str) -> np.ndarray:
    response = httpx.get(url, timeout=30)  # no key needed for the files
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    path = server.output_dir / name
    path.write_bytes(response.content)
    return codec.read_frames(path)


def clip_leftovers(server) -> list[str]:
    return [p.name for p in server.scratch.glob("cogvideo-video-url-*")]


def jobs_count(server) -> int:
    store = JobStore(server.data_dir)
    try:
        return len(store.list())
    finally:
        store.close()


@pytest.fixture(scope="module")
def restyled(server, clip_bytes):
    """A clip restyled through the SDK (our fields in `extra_body`), followed to the end."""
    client = zai(server)
    task = client.videos.generations(
        model="cogvideox", prompt="the same street as a watercolor painting",
        extra_body={"mode": "v2v", "video_url": data_url(clip_bytes), "strength": 0.5, **FAST})
    assert task.task_status == "PROCESSING"
    leftovers = clip_leftovers(server)  # right after the submit returned
    return task, wait_done(client, task.id), leftovers


# ---------------------------------------------------------------- restyle and extend with the SDK

def test_restyle_a_clip_sent_as_a_data_url(server, restyled, clip_bytes):
    task, result, leftovers = restyled
    assert result.task_status == "SUCCESS" and result.model == "tiny"
    # The 17-frame clip: its first 9 frames (the tiny model's length) restyled.
    assert frames_of(server, result.video_result[0].url, "restyled.mp4").shape == (PART, HEIGHT, WIDTH, 3)
    raw = get(server, f"/async-result/{task.id}").json()
    assert raw["mode"] == "v2v" and raw["status"] == "succeeded"
    assert any("Restyled the first 1.1 s of the 2.1 s clip" in notice for notice in raw["notices"])
    store = JobStore(server.data_dir)
    try:
        job = store.get(task.id)
    finally:
        store.close()
    assert job.request["strength"] == 0.5 and job.request["num_inference_steps"] == 2
    # The clip was copied into the job's inputs, named by its sniffed type; the temporary file is gone.
    kept = server.data_dir / job.request["video"]
    assert kept.name == "video.mp4" and kept.read_bytes() == clip_bytes
    assert leftovers == [] and clip_leftovers(server) == []


def test_extend_a_clip_sent_as_plain_base64(server, clip_bytes):
    client = zai(server)
    task = client.videos.generations(
        model="cogvideox", prompt="the bar keeps sliding to the right",
        extra_body={"mode": "extend", "video_url": base64.b64encode(clip_bytes).decode(), "extensions": 2,
                    "crossfade": True, **FAST})
    result = wait_done(client, task.id)
    assert result.task_status == "SUCCESS" and result.model == "tiny-i2v"
    # The whole clip, then two parts from the last frame, each repeating the frame it starts from:
    # 17 + 9 + 9 - 2 = 33 frames.
    assert frames_of(server, result.video_result[0].url, "extended.mp4").shape == (33, HEIGHT, WIDTH, 3)
    store = JobStore(server.data_dir)
    try:
        request = store.get(task.id).request
    finally:
        store.close()
    assert request["extensions"] == 2 and request["crossfade"] is True and request["mode"] == "extend"


# ---------------------------------------------------------------- bad requests: the SDK raises with our message

TEXT = b"Hello, this is a text file and not a video at all.\n" * 4


@pytest.mark.parametrize("fields, words", [
    ({"mode": "v2v", "video_url": data_url(TEXT)}, ["video_url", "not a video we can read"]),
    ({"mode": "v2v", "video_url": base64.b64encode(TEXT).decode()}, ["video_url", "not a video we can read"]),
    ({"mode": "v2v", "video_url": "@@@ not base64 @@@"}, ["video_url is not valid base64 video data"]),
    ({"mode": "v2v", "video_url": data_url(png_bytes(), "image/png")}, ["video_url", "type image/png, not a video"]),
    ({"mode": "v2v", "video_url": base64.b64encode(png_bytes()).decode()}, ["video_url", "is a picture, not a video"]),
    ({"mode": "extend", "video_url": "https://example.com/clip.mp4"}, ["video_url", "--allow-url-fetch"]),
    ({"mode": "v2v", "video_url": "CLIP", "strength": 0}, ["strength=0.0 must be between 0.1 and 1.0"]),
    ({"mode": "v2v", "video_url": "CLIP", "strength": 5}, ["strength=5.0 must be between 0.1 and 1.0"]),
    ({"mode": "extend", "video_url": "CLIP", "extensions": 0}, ["extensions=0 must be a whole number from 1 to 4"]),
    ({"mode": "extend", "video_url": "CLIP", "extensions": 50}, ["extensions=50 must be a whole number from 1 to 4"]),
    ({"mode": "v2v"}, ["mode 'v2v' restyles a clip: send video_url"]),
    ({"mode": "extend"}, ["mode 'extend' continues a clip: send video_url"]),
    ({"video_url": "CLIP"}, ["video_url needs a mode", "'v2v'", "'extend'"]),
    ({"mode": "i2v", "video_url": "CLIP"}, ["mode 'i2v' takes no video_url"]),
    ({"mode": "extend", "video_url": "CLIP", "duration": 1}, ["duration does not apply", "extensions sets the length"]),
    ({"mode": "v2v", "video_url": "CLIP", "extensions": 2}, ["extensions applies to mode 'extend' only"]),
    ({"strength": 0.5}, ["strength applies to mode 'v2v' only"]),
    ({"mode": "v2v", "video_url": "CLIP", "image_url": "PNG"}, ["leave image_url out"]),
    ({"mode": "v2v", "video_url": "CLIP", "strength": 0.4}, ["strength=0.4 with 2 steps runs no denoising step"]),
])
def test_bad_requests_are_refused_with_the_reason(server, clip_bytes, fields, words):
    from zai.core import APIRequestFailedError

    replace = {"CLIP": data_url(clip_bytes), "PNG": data_url(png_bytes(), "image/png")}
    fields = {k: replace.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    before = jobs_count(server)
    with pytest.raises(APIRequestFailedError) as err:
        zai(server).videos.generations(model="cogvideox", prompt="a watercolor street", extra_body={**FAST, **fields},
                                       extra_headers={"Accept-Language": "en"})
    message = json.loads(err.value.response.text)["error"]
    assert message["code"] == "1214" and all(w in message["message"] for w in words), message
    assert "Traceback" not in message["message"] and jobs_count(server) == before
    assert clip_leftovers(server) == []


def test_the_clips_errors_in_chinese(server):
    response = httpx.post(server.base + "/videos/generations", timeout=60, json={
        "model": "cogvideox", "prompt": "x", "mode": "v2v", "video_url": data_url(TEXT)},
        headers={"Authorization": f"Bearer {server.keys['alice']}", "Accept-Language": "zh-CN"})
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and message.startswith("video_url：") and "不是可识别的视频" in message


# ---------------------------------------------------------------- GIFs of finished tasks

def test_gif_of_a_finished_task_is_made_once_and_served(server, restyled):
    task = restyled[0]
    first = get(server, f"/async-result/{task.id}/gif", width=128, fps=4)
    assert first.status_code == 200, first.text
    made = first.json()
    # 9 frames at 8 fps (1.1 s) at 4 fps: 5 frames (ffmpeg's fps filter rounds the last one up).
    assert made["id"] == task.id and (made["width"], made["height"], made["fps"], made["frames"]) == (128, 86, 4, 5)
    assert made["gif_url"].startswith(server.url + "api/files/") and made["gif_url"].endswith("/video-128w-4fps.gif")
    response = httpx.get(made["gif_url"], timeout=30)  # no key, like the video
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert len(response.content) == made["size_bytes"]
    with Image.open(io.BytesIO(response.content)) as gif:
        assert gif.format == "GIF" and gif.is_animated and gif.n_frames == made["frames"] > 1
        assert gif.size == (made["width"], made["height"])
    gifs = {p.name: p.stat().st_mtime_ns for p in server.output_dir.glob("*.gif")}
    again = get(server, f"/async-result/{task.id}/gif", width=128, fps=4).json()
    assert again == made  # the same file, not a new one
    assert {p.name: p.stat().st_mtime_ns for p in server.output_dir.glob("*.gif")} == gifs
    # The defaults (480 wide, 8 fps): never wider or faster than the 144×96, 8 fps video.
    default = get(server, f"/async-result/{task.id}/gif").json()
    assert (default["width"], default["fps"], default["frames"]) == (WIDTH, FPS, PART)
    assert default["gif_url"].endswith("/video-480w-8fps.gif")


def test_gif_refusals(server, restyled):
    task = restyled[0]
    narrow = get(server, f"/async-result/{task.id}/gif", width=10)
    assert narrow.status_code == 400 and "width" in narrow.json()["error"]["message"]
    assert "10" in narrow.json()["error"]["message"]
    not_a_number = get(server, f"/async-result/{task.id}/gif", fps="fast")
    assert not_a_number.status_code == 400 and "fps" in not_a_number.json()["error"]["message"]
    theirs = get(server, f"/async-result/{task.id}/gif", who="bob")
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "1404"
    files = restyled[1].video_result[0].url.rsplit("/", 1)[0]
    for name in ("video-999w-8fps.gif", "video-128w-4fps.gif.bak", "../video.mp4"):
        assert httpx.get(f"{files}/{name}", timeout=30).status_code == 404


def test_gif_of_an_unfinished_task_is_refused(server):
    body = {"model": "cogvideox", "prompt": "a long one", "duration": 1, "num_inference_steps": 60}
    task = httpx.post(server.base + "/videos/generations", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {server.keys['bob']}"}).json()
    try:
        response = get(server, f"/async-result/{task['id']}/gif", who="bob")
        assert response.status_code == 400 and "no video" in response.json()["error"]["message"]
    finally:
        httpx.delete(f"{server.base}/async-result/{task['id']}", timeout=30,
                     headers={"Authorization": f"Bearer {server.keys['bob']}"})


# ---------------------------------------------------------------- MCP

def mcp_call(server, *calls, **headers) -> list:
    from tests.test_mcp import mcp_session

    async def main():
        async with mcp_session(server.url + "mcp", server.keys["alice"], **headers) as session:
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(main)


def test_mcp_restyle_then_gif(server, clip_bytes):
    from tests.test_mcp import text_of

    [restyled] = mcp_call(server, ("restyle_video", {"video": data_url(clip_bytes), "prompt": "an anime street",
                                                     "strength": 0.5}))
    assert not restyled.is_error, text_of(restyled)
    job = restyled.structured_content
    assert job["status"] == "succeeded" and job["mode"] == "v2v" and job["strength"] == 0.5
    assert frames_of(server, job["video_url"], "mcp-restyled.mp4").shape == (PART, HEIGHT, WIDTH, 3)
    [gif, narrow, no_clip] = mcp_call(
        server, ("export_gif", {"job_id": job["job_id"], "width": 200}),  # clamped to the video's 144
        ("export_gif", {"job_id": job["job_id"], "width": 10}),
        ("extend_video", {"video": "", "prompt": "on and on"}), **{"Accept-Language": "en"})
    assert not gif.is_error, text_of(gif)
    assert gif.structured_content["gif_url"].startswith(server.url + "api/files/")
    with Image.open(io.BytesIO(httpx.get(gif.structured_content["gif_url"], timeout=30).content)) as image:
        assert image.is_animated and image.width == gif.structured_content["width"] == WIDTH
    assert narrow.is_error and "width" in text_of(narrow)
    assert no_clip.is_error and "send video_url" in text_of(no_clip)
    assert clip_leftovers(server) == []


# ---------------------------------------------------------------- the video_url intake on its own

# What a refusal says, in its English: one error class (VideoError, a 400) for every kind.
TOO_LARGE = "is too large"
FETCH_OFF = "fetching URLs is turned off"
NOT_ALLOWED = "points to an address that is not allowed"
ANY = ""


def refused(says, func, *args, **kwargs):
    """Call, expect a `VideoError` that `says` so, and check it is bilingual and names the field."""
    with pytest.raises(VideoError) as info:
        func(*args, **kwargs)
    exc = info.value
    assert isinstance(exc, InvalidRequest) and exc.status == 400
    assert says in exc.en, exc.en
    assert exc.en.strip() and exc.zh.strip() and exc.en != exc.zh
    assert "video_url" in exc.en and "video_url" in exc.zh
    return exc


def test_a_data_url_and_plain_base64_become_a_checked_file(clip_bytes, tmp_path):
    path = video_from_url(data_url(clip_bytes), tmp_path)
    assert path == tmp_path / "clip.mp4" and path.read_bytes() == clip_bytes
    wrapped = base64.encodebytes(clip_bytes).decode()  # line-wrapped, like `base64` prints it
    (tmp_path / "wrapped").mkdir()
    assert video_from_url(wrapped, tmp_path / "wrapped").read_bytes() == clip_bytes


@pytest.mark.parametrize("head, media_type, suffix", [
    (b"\0\0\0\x20ftypisom\0\0\x02\0", None, ".mp4"),
    (b"\0\0\0\x14ftypqt  \0\0\0\0", "video/mp4", ".mov"),  # the bytes win over the data URL's type
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm", None, ".webm"),
    (b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroska", None, ".mkv"),
    (b"RIFF\x10\0\0\0AVI LIST", None, ".avi"),
    (b"not a container", "video/quicktime", ".mov"),
    (b"not a container", None, ".bin"),
])
def test_the_file_is_named_by_what_it_is(head, media_type, suffix):
    assert video_suffix(head, media_type) == suffix


def test_the_cap_is_on_decoded_bytes(clip_bytes, tmp_path):
    exc = refused(TOO_LARGE, video_from_url, data_url(clip_bytes), tmp_path, max_bytes=len(clip_bytes) - 1)
    assert "MB" in exc.en and not list(tmp_path.iterdir())  # nothing written
    assert video_from_url(data_url(clip_bytes), tmp_path, max_bytes=len(clip_bytes)).is_file()


def test_over_the_default_cap_is_refused_without_decoding(monkeypatch, tmp_path):
    def no_decode(*args, **kwargs):
        raise AssertionError("decoded a value that is over the cap by its length")

    monkeypatch.setattr(inputs.base64, "b64decode", no_decode)
    start = time.perf_counter()
    exc = refused(TOO_LARGE, video_from_url, "A" * (MAX_VIDEO_BYTES * 3 // 2), tmp_path)  # 112.5 MB decoded
    assert time.perf_counter() - start < 1.0
    assert "100 MB" in exc.en and "100 MB" in exc.zh


def test_garbage_is_not_a_video(tmp_path):
    exc = refused(ANY, video_from_url, base64.b64encode(TEXT).decode(), tmp_path)
    assert exc.en.startswith("video_url: clip.bin is not a video") and "不是可识别的视频" in exc.zh
    refused(ANY, video_from_url, "data:video/mp4,notbase64", tmp_path)
    refused(ANY, video_from_url, "  ", tmp_path)
    exc = refused(ANY, video_from_url, "data:text/plain;base64,aGVsbG8=", tmp_path)
    assert "data:video/mp4" in exc.en


def test_urls_need_allow_url_fetch_and_a_public_address(tmp_path):
    exc = refused(FETCH_OFF, video_from_url, "https://example.com/clip.mp4", tmp_path)
    assert "--allow-url-fetch" in exc.en and "--allow-url-fetch" in exc.zh
    for url in ("http://127.0.0.1:1/clip.mp4", "http://169.254.169.254/latest", "http://[::1]/clip.mp4"):
        exc = refused(NOT_ALLOWED, video_from_url, url, tmp_path, allow_fetch=True)
        assert "not allowed" in exc.en


@pytest.fixture()
def clip_server(clip_bytes):
    """A local HTTP server with the clip at /clip.mp4 (reached through the loopback test hook)."""
    accepts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            accepts.append(self.headers.get("Accept", ""))
            body = clip_bytes if self.path == "/clip.mp4" else TEXT
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", accepts
    httpd.shutdown()
    httpd.server_close()


def test_a_fetched_clip(clip_server, clip_bytes, tmp_path):
    base, accepts = clip_server
    path = video_from_url(f"{base}/clip.mp4", tmp_path, allow_fetch=True, _allow_loopback_for_tests=True)
    assert path.read_bytes() == clip_bytes and path.suffix == ".mp4" and accepts == ["video/*"]
    (tmp_path / "again").mkdir()
    refused(TOO_LARGE, video_from_url, f"{base}/clip.mp4", tmp_path / "again", allow_fetch=True,
            max_bytes=100, _allow_loopback_for_tests=True)
    exc = refused(ANY, video_from_url, f"{base}/text", tmp_path / "again", allow_fetch=True,
                  _allow_loopback_for_tests=True)
    assert "not a video we can read" in exc.en
