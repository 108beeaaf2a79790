"""Outputs are private and downloads do not pile up (issue 20, item 8, the outputs part).

1. On the real app in a subprocess with two users signed in over HTTP: bob fetches none of alice's
   files (video, cover, GIF, music swap, her uploaded song) through Gradio's file route, by any
   spelling of their paths, while the URLs alice's page received still serve her the same bytes.
2. GIFs and music swaps made on the page are removed by the real sweep once a day old (their
   times set back), younger ones are kept, and job outputs beside them are never touched.
"""

from __future__ import annotations

import math
import os
import re
import struct
import time
import wave
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from gradio_client import Client, handle_file

from cogvideo.media import downloads
from cogvideo.studio import Studio
from jobs import JobStore, Users
from tests.conftest import ROOT, InProcessApp

FAST = dict(num_inference_steps=2, num_frames=9)
DAY = 24 * 3600


def make_song(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 440 * 2 * math.pi / rate)))
                                 for i in range(int(seconds * rate))))
    return path


@pytest.fixture(scope="module")
def two_users(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("private-outputs")
    store = JobStore(tmp / "data")
    users = Users(store)
    users.add("alice", password="alice-password")
    users.add("bob", password="bob-password")
    store.close()
    running = InProcessApp(tmp, data_dir=tmp / "data")
    running.song = make_song(tmp / "alices-song.wav")
    yield running
    running.close()


def signed_in(app: InProcessApp, user: str, password: str) -> httpx.Client:
    """A browser's session: Gradio's /login form, then its cookie on every request."""
    http = httpx.Client(base_url=app.url, timeout=60)
    assert http.post("login", data={"username": user, "password": password}).status_code == 200
    return http


def spellings(path: Path) -> list[str]:
    """Every way of naming `path` after /gradio_api/file= that bob could learn or guess."""
    relative = os.path.relpath(path, ROOT)  # Gradio resolves a relative path from the app's folder
    return [
        f"file={path}",
        f"file/{path}",  # the route's old spelling
        f"file={quote(str(path))}",
        f"file={path.parent}/./{path.name}",
        f"file={path.parent}/../{path.parent.name}/{path.name}",
        f"file={relative}",
        f"file=http:/../{relative}",  # not a web address to Gradio: a path
        f"file={str(path).replace('outputs', 'OUTPUTS')}" if "outputs" in str(path) else f"file={path}//",
    ]


def test_another_user_reaches_none_of_alices_files_while_her_page_plays_them(two_users):
    app = two_users
    alice = Client(app.url, auth=("alice", "alice-password"), verbose=False, download_files=False)
    video, info = alice.predict(prompt="alice's lighthouse", music_file=handle_file(str(app.song)),
                                api_name="/text_to_video", **FAST)
    gif, _ = alice.predict(video=video, api_name="/export_gif")
    swap = alice.predict(video=video, music="upbeat", api_name="/change_music")

    files = {
        "video": app.output_dir / info["video"],
        "cover": app.output_dir / info["cover"],
        "gif": next(app.output_dir.rglob(gif["orig_name"])),
        "music swap": next(app.output_dir.rglob(swap["orig_name"])),
        "uploaded song": next((app.data_dir / "inputs" / info["job_id"]).iterdir()),
    }
    assert all(path.is_file() for path in files.values()), files

    # What alice's page received: Gradio's copies under a SHA-256-named folder, never our folders.
    alice_http = signed_in(app, "alice", "alice-password")
    for name, received in (("video", video), ("gif", gif), ("music swap", swap)):
        assert re.search(r"/gradio_api/file=.*/[0-9a-f]{64}/[^/]+$", received["url"]), received
        assert str(app.output_dir) not in received["url"]
        served = alice_http.get(received["url"])
        assert served.status_code == 200, (name, served.status_code)
        assert served.content == files[name].read_bytes(), name
    first_kb = alice_http.get(video["url"], headers={"Range": "bytes=0-1023"})
    assert first_kb.status_code == 206 and len(first_kb.content) == 1024  # the player can seek

    bob = signed_in(app, "bob", "bob-password")
    for name, path in files.items():
        for spelling in spellings(path):
            for who in (bob, alice_http):  # nobody browses the folders, not even their owner
                answer = who.get(f"gradio_api/{spelling}")
                assert answer.status_code != 200 and answer.content != path.read_bytes(), (name, spelling)
    refused = bob.get(f"gradio_api/file={files['video']}", headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 404 and "我的作品" in refused.json()["detail"]
    assert str(app.output_dir) not in refused.text

    # Nor can bob hand her file's path to a tool as if it were his upload (the page's own call).
    made = call(bob, "export_gif", [{"path": str(files["video"]), "meta": {"_type": "gradio.FileData"}}, 480, 8])
    assert made.startswith("event: error"), made
    assert len(list(app.output_dir.rglob("*.gif"))) == 1


def call(http: httpx.Client, api_name: str, data: list) -> str:
    """One call of the named API as raw HTTP, with the session's cookie: its last server event."""
    event = http.post(f"gradio_api/call/{api_name}", json={"data": data})
    assert event.status_code == 200, event.text
    stream = http.get(f"gradio_api/call/{api_name}/{event.json()['event_id']}", timeout=120).text
    return stream.strip().split("\n\n")[-1]

def set_age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_gifs_and_music_swaps_a_day_old_are_swept_and_job_outputs_are_not(studio, tmp_path):
    from cogvideo import VideoRequest

    result = studio.generate(VideoRequest(prompt="a harbour", **FAST, music="calm"))
    job_files = [result.path, result.cover, result.path.with_name(result.path.stem + "-480w-8fps.gif")]
    job_files[2].write_bytes(b"GIF89a")  # the REST API's GIF, kept beside its job's video
    old_gif = studio.export_gif(result.path).path
    old_swap = studio.change_music(result.path, "upbeat")
    young_gif = studio.export_gif(result.path).path
    young_swap = studio.change_music(result.path, "none")
    assert old_gif.parent.name == "gifs" and old_swap.parent.name == "music-swaps"
    mine = studio.output_dir / "gifs" / "holiday.gif"  # an operator's own file in a folder of that name
    mine.write_bytes(b"GIF89a")
    for path in (old_gif, old_swap, mine, *job_files):
        set_age(path, DAY + 60)
    set_age(young_gif, DAY - 600)
    set_age(young_swap, DAY - 600)

    Studio(studio.engine, output_dir=studio.output_dir)  # a restart sweeps
    assert not old_gif.exists() and not old_swap.exists()
    assert young_gif.is_file() and young_swap.is_file() and mine.is_file()
    assert all(path.is_file() for path in job_files)

    set_age(young_swap, DAY + 1)  # and so does the next download made, without a restart
    studio.export_gif(result.path)
    assert not young_swap.exists() and young_gif.is_file()
    assert all(path.is_file() for path in job_files)
    set_age(young_gif, 60)
    assert downloads.sweep(studio.output_dir, keep_s=30) >= 1 and not young_gif.exists()
    assert mine.is_file() and all(path.is_file() for path in job_files)
