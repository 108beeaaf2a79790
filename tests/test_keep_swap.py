"""换配乐 kept (issue 21, item 12): a music swap of a finished work becomes a new work or replaces the
original, in a real SQLite store with real MP4s from the tiny model, probed by ffmpeg.

The swap's file leaves `music-swaps/` (the day-old sweep never reaches a kept work), lies beside
the job outputs with private permissions, and only the owner's own work can be swapped. A full disk
while keeping (a real tmpfs filled to its last page) gives the app's one "disk full" message and
leaves the original as it was.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import struct
import subprocess
import time
import wave
from pathlib import Path

import pytest

from cogvideo import VideoRequest
from cogvideo.errors import DiskFull
from cogvideo.media import codec, downloads
from jobs import JobNotFound, JobService, JobStore, LocalWorker
from jobs.job import CANCELLED, SUCCEEDED
from jobs.music_swaps import NEW_WORK, REPLACE, NotSwappable, keep_swap, swap_music
from tests.test_disk_and_lock import fill

FAST = dict(num_inference_steps=2, num_frames=9)
DAY = 24 * 3600


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_song(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 440 * 2 * math.pi / rate)))
                                 for i in range(int(seconds * rate))))
    return path


def set_age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def finished(service: JobService, owner: str = "alice", **values):
    job = service.submit(VideoRequest(prompt="a lighthouse at dusk", **{**FAST, **values}), owner=owner)
    job = service.wait(job.id, timeout=300)
    assert job.status == SUCCEEDED, job.error
    return job


@pytest.fixture()
def service(studio, tmp_path):
    store = JobStore(tmp_path / "data")
    running = JobService(store, [LocalWorker(studio)], max_queue=8, poll_s=0.1).start()
    yield running
    running.close()
    store.close()


def test_a_swap_saved_as_a_new_work_is_its_own_finished_job_and_the_original_is_untouched(service, studio):
    original = finished(service, music="none")
    before = digest(original.video)
    assert codec.probe(original.video).audio_streams == 0

    kept = swap_music(service, studio, original.id, "alice", "upbeat", 0.5, NEW_WORK)

    # A new finished job of the same owner: the original's settings, the new music, a link back.
    assert kept.id != original.id and kept.owner == "alice" and kept.status == SUCCEEDED
    assert kept.mode == original.mode and kept.seed == original.seed and kept.prompt == original.prompt
    assert kept.request["prompt"] == original.request["prompt"]
    assert kept.request["num_inference_steps"] == original.request["num_inference_steps"]
    assert (kept.request["music"], kept.request["music_volume"]) == ("upbeat", 0.5)
    assert kept.info["swapped_from"] == original.id and kept.info["music"] == "upbeat"
    assert kept.file_token and kept.file_token != original.file_token
    # Its video has the new sound over the same pictures, beside the job outputs, private.
    video = Path(kept.video)
    info = codec.probe(video)
    assert (info.video_codec, info.audio_codec, info.audio_streams) == ("h264", "aac", 1)
    assert video.parent == Path(original.video).parent and video.parent.name != downloads.SWAP_FOLDER
    assert stat.S_IMODE(video.stat().st_mode) == 0o600
    assert not list((studio.output_dir / downloads.SWAP_FOLDER).glob("*.mp4"))  # moved out, not copied
    # Its own cover: deleting one work never takes the other's picture.
    assert kept.cover and Path(kept.cover).is_file() and kept.cover != original.cover
    # The original is as it was, and My works lists both.
    assert digest(original.video) == before and service.get(original.id, "alice").video == original.video
    assert [job.id for job in service.works("alice")] == [kept.id, original.id]

    # The day-old sweep of music-swaps/ removes a swap nobody kept, never the kept work.
    loose = studio.change_music(original.video, "calm")
    for path in (video, loose):
        set_age(path, DAY + 60)
    downloads.sweep(studio.output_dir)
    assert not loose.exists() and video.is_file()

    # Deleting the original leaves the new work whole.
    service.delete(original.id, "alice")
    assert video.is_file() and Path(kept.cover).is_file()
    assert [job.id for job in service.works("alice")] == [kept.id]


def test_replacing_the_original_swaps_its_file_and_music_in_place(service, studio, tmp_path):
    original = finished(service, music="calm")
    old_video = Path(original.video)
    song = make_song(tmp_path / "song.wav")

    kept = swap_music(service, studio, original.id, "alice", song, 0.8, REPLACE)

    assert kept.id == original.id and [job.id for job in service.works("alice")] == [original.id]
    assert not old_video.exists()  # replaced: the old file is gone once the row names the new one
    video = Path(service.get(original.id, "alice").video)
    assert video == Path(kept.video) and video.is_file() and video.parent == old_video.parent
    assert stat.S_IMODE(video.stat().st_mode) == 0o600
    assert codec.probe(video).audio_codec == "aac"
    # The row records the upload, kept in the job's own inputs (not the caller's file).
    assert kept.request["music"] is None and kept.request["music_upload"].startswith(f"inputs/{original.id}/")
    assert (service.data_dir / kept.request["music_upload"]).read_bytes() == song.read_bytes()
    assert kept.info["video"] == str(video) and kept.info["music_changed"] and "swapped_from" not in kept.info
    # The new sound is the song's, not the old track's: a swap of the original with the song again
    # (same clip, same volume) makes the same audio.
    again = studio.change_music(video, song, 0.8)
    assert pcm(again) == pcm(video)
    set_age(video, DAY + 60)
    downloads.sweep(studio.output_dir)
    assert video.is_file()


def pcm(path: Path) -> bytes:
    out = subprocess.run([codec.ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "s16le", "-"],
                         capture_output=True, check=True)
    return out.stdout


def test_only_the_owner_can_swap_and_only_a_finished_work(service, studio):
    original = finished(service)
    with pytest.raises(JobNotFound):
        swap_music(service, studio, original.id, "bob", "upbeat", 0.8)
    with pytest.raises(JobNotFound):
        swap_music(service, studio, "../../etc/passwd", "alice", "upbeat", 0.8)
    # A job queued behind a render is cancelled at once: it never gets a video.
    ahead = service.submit(VideoRequest(prompt="ahead", **FAST), owner="alice")
    cancelled = service.submit(VideoRequest(prompt="x", **FAST), owner="alice")
    service.cancel(cancelled.id, "alice")
    assert service.wait(cancelled.id, timeout=300).status == CANCELLED
    with pytest.raises(NotSwappable) as caught:
        swap_music(service, studio, cancelled.id, "alice", "upbeat", 0.8)
    assert "无法更换配乐" in caught.value.zh
    service.wait(ahead.id, timeout=300)
    assert [job.owner for job in service.works("alice")] and not service.works("bob")
    assert not list((studio.output_dir / downloads.SWAP_FOLDER).glob("*.mp4"))


@pytest.fixture()
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_while_keeping_says_so_and_keeps_the_original(tiny_engine, small_disk):
    from cogvideo.studio import Studio

    studio = Studio(tiny_engine, small_disk / "outputs")
    store = JobStore(small_disk / "data")
    service = JobService(store, [LocalWorker(studio)], poll_s=0.1, min_free_bytes=0).start()
    filler = None
    try:
        original = finished(service)
        before = digest(original.video)
        swapped = studio.change_music(original.video, "upbeat")
        filler = fill(small_disk)
        for how in (NEW_WORK, REPLACE):
            with pytest.raises(DiskFull) as caught:
                keep_swap(store, original, swapped, "upbeat", 0.8, how)
            assert caught.value.zh == DiskFull().zh and "磁盘已满" in caught.value.zh
            assert swapped.is_file()  # back in music-swaps/, where the sweep clears it
        assert [job.id for job in service.works("alice")] == [original.id]
        assert digest(original.video) == before and service.get(original.id).video == original.video
        assert sorted(p.name for p in Path(original.video).parent.glob("*.mp4")) == [Path(original.video).name]
        # Through the whole swap the full disk is said before any work is done.
        service.min_free_bytes = 1 << 20
        with pytest.raises(DiskFull):
            swap_music(service, studio, original.id, "alice", "calm", 0.8)
        filler.unlink()
        filler = None
        kept = swap_music(service, studio, original.id, "alice", "calm", 0.8)  # space back: it works
        assert codec.probe(kept.video).audio_streams == 1
    finally:
        if filler is not None:
            filler.unlink()
        service.close()
        store.close()
