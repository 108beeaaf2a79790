"""Uploads that are playlists: ffmpeg reads an `.m3u8` as HLS and an `ffconcat` list under any name,
and both open other files named inside them. A local MP4 that nobody uploaded (`secret.mp4`, with
sound) must never reach a job: every ffmpeg that reads a user's file runs with `-protocol_whitelist
file` and `-format_whitelist` (cogvideo/media/demux.py), and a job's copy is named by its bytes.

Real files and the real ffmpeg throughout; the faces through `gradio_client` and raw HTTP against
`python app.py --model tiny`.
"""

from __future__ import annotations

import base64
import json
import subprocess

import httpx
import numpy as np
import pytest

from cogvideo import VideoRequest
from cogvideo.errors import AudioError, VideoError
from cogvideo.media import clips, codec, gif, music
from jobs import JobStore
from jobs.keys import ApiKeys
from jobs.records import to_record
from tests.conftest import InProcessApp

FAST = dict(num_inference_steps=2, num_frames=9)


def ffmpeg(*args: str) -> None:
    subprocess.run([codec.ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def secret(tmp_path_factory):
    """A local MP4 (picture and sound) that no caller ever uploaded."""
    path = tmp_path_factory.mktemp("private") / "secret.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=144x96:rate=8", "-f", "lavfi", "-i", "sine=frequency=330",
           "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path))
    return path


def hls(path, target) -> str:
    """An HLS playlist whose one segment is `target`, written to `path`."""
    path.write_text(f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n"
                    f"#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n")
    return path


def ffconcat(path, target) -> str:
    """A concat list naming `target` (beside it: the concat demuxer's "safe" paths are relative)."""
    path.write_text(f"ffconcat version 1.0\nfile {target.name}\n")
    return path


def test_ffmpeg_itself_would_read_the_secret_through_both(secret, tmp_path):
    """The premise, so the tests below refuse something real: without the whitelists, ffmpeg opens
    both lists and finds the secret's streams."""
    playlist = hls(tmp_path / "clip.m3u8", secret)
    listing = ffconcat(secret.parent / "clip.mp4", secret)
    for path, demuxer in ((playlist, "hls"), (listing, "concat")):
        banner = subprocess.run([codec.ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                                text=True).stderr
        assert f"Input #0, {demuxer}" in banner and "Video: h264" in banner


def test_a_playlist_upload_is_refused_by_the_clip_intake(secret, tmp_path):
    playlist = hls(tmp_path / "holiday.m3u8", secret)
    for read in (clips.probe_clip, lambda p: clips.read_clip(p, 8, size=(144, 96), max_frames=9, last=True)):
        with pytest.raises(VideoError) as info:
            read(playlist)
        assert "holiday.m3u8 is not a video we can read" in info.value.en and "无法读取" in info.value.zh


@pytest.mark.parametrize("reader", ["probe_clip", "read_clip", "media.probe", "media.read_frames",
                                    "check_audio", "export_gif"])
def test_every_reader_refuses_a_concat_list(secret, reader, tmp_path):
    """The whitelist is really on each ffmpeg command: the same list, named like what each reader
    expects, is refused by the real ffmpeg instead of giving the secret's picture or sound."""
    name = "song.wav" if reader == "check_audio" else "clip.mp4"
    listing = ffconcat(secret.parent / f"{reader}-{name}", secret)
    calls = {
        "probe_clip": lambda: clips.probe_clip(listing),
        "read_clip": lambda: clips.read_clip(listing, 8),
        "media.probe": lambda: codec.probe(listing),
        "media.read_frames": lambda: codec.read_frames(listing),
        "check_audio": lambda: music.check_audio(listing),
        "export_gif": lambda: gif.export_gif(listing, tmp_path / "out.gif"),
    }
    with pytest.raises((VideoError, AudioError, OSError, RuntimeError)):
        calls[reader]()
    assert not (tmp_path / "out.gif").exists()


def test_a_real_clip_and_song_still_read_with_the_whitelists(secret, tmp_path):
    assert clips.probe_clip(secret).has_audio
    assert clips.read_clip(secret, 8).frames.shape == (16, 96, 144, 3)
    assert codec.probe(secret).audio_codec == "aac"
    for suffix in (".wav", ".mp3", ".m4a", ".ogg", ".flac", ".webm"):
        song = tmp_path / f"song{suffix}"
        ffmpeg("-f", "lavfi", "-i", "sine=duration=1", *(["-c:a", "libopus"] if suffix == ".webm" else []), str(song))
        music.check_audio(song)


def test_a_jobs_copies_are_named_by_their_bytes(secret, tmp_path):
    """Whatever the upload was called: video.mp4 for MP4 bytes, music.wav for WAV bytes, and
    .bin (which ffmpeg never takes for a playlist) for bytes we do not know."""
    data = tmp_path / "data"
    disguised = tmp_path / "clip.m3u8"
    disguised.write_bytes(secret.read_bytes())
    song = tmp_path / "song.m3u8"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-f", "wav", str(song))
    record = to_record(VideoRequest(prompt="x", mode="extend", video=disguised, music=song), data, "job1")
    assert record["video"] == "inputs/job1/video.mp4" and record["music_upload"] == "inputs/job1/music.wav"
    webm = tmp_path / "clip.mp4"
    ffmpeg("-i", str(secret), "-t", "1", "-c:v", "libvpx-vp9", "-an", "-f", "webm", str(webm))
    playlist = hls(tmp_path / "other.mp4", secret)
    assert to_record(VideoRequest(prompt="x", mode="v2v", video=webm), data, "job2")["video"] == "inputs/job2/video.webm"
    assert to_record(VideoRequest(prompt="x", mode="v2v", video=playlist), data, "job3")["video"] == "inputs/job3/video.bin"


# ---------------------------------------------------------------- the faces

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("playlists")
    store = JobStore(tmp / "data")
    key = ApiKeys(store).add("alice")[1]
    store.close()
    app = InProcessApp(tmp, data_dir=tmp / "data")
    app.key = key
    yield app
    app.close()


def jobs_in_store(server) -> int:
    store = JobStore(server.data_dir)
    try:
        return len(store.list())
    finally:
        store.close()


def test_the_named_api_refuses_a_playlist_upload(server, secret, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    playlist = hls(tmp_path / "holiday.m3u8", secret)
    before = jobs_in_store(server)
    with pytest.raises(AppError) as info:
        Client(server.url, verbose=False).predict(video=handle_file(str(playlist)), prompt="the camera moves on",
                                                  extensions=1, api_name="/extend_video", **FAST)
    assert "not a video we can read" in str(info.value) or "无法读取" in str(info.value)
    assert jobs_in_store(server) == before


def test_rest_refuses_a_playlist_as_video_url(server, secret):
    before = jobs_in_store(server)
    for media_type in ("application/vnd.apple.mpegurl", "video/mp4"):
        text = f"#EXTM3U\n#EXT-X-TARGETDURATION:3\n#EXTINF:2.0,\n{secret}\n#EXT-X-ENDLIST\n"
        body = {"model": "tiny", "mode": "extend", "prompt": "on and on", "num_inference_steps": 2,
                "video_url": f"data:{media_type};base64," + base64.b64encode(text.encode()).decode()}
        response = httpx.post(server.url + "api/paas/v4/videos/generations", content=json.dumps(body), timeout=60,
                              headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/json",
                                       "Accept-Language": "en"})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "1214"
        assert "not a video" in response.json()["error"]["message"]
    assert jobs_in_store(server) == before
