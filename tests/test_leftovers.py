"""A crash mid-job leaves no file under a finished name, and what it leaves is swept at start
(issue 11, item 6).

The crashes are real: a Python process writing a video (and its ffmpeg) is killed with SIGKILL
mid-write, and another is killed inside the music step; then a Studio starts on the folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cogvideo.media import codec
from tests.conftest import ROOT

GRACE = codec.LEFTOVER_GRACE_S


def age(path: Path, seconds: float) -> None:
    """Make `path` (and a folder's files) look last written `seconds` ago."""
    stamp = time.time() - seconds
    for inner in [path, *(path.iterdir() if path.is_dir() else ())]:
        os.utime(inner, (stamp, stamp))


def start(script: str, *args: str) -> subprocess.Popen:
    # A session of its own, so the kill takes its ffmpeg too (as a crash of the machine would).
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def wait_for(condition, timeout: float = 120.0, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the writer ended early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError("timed out")


ENCODE = """
import sys
import numpy as np
from cogvideo.media import codec
# Noise is slow to encode and large: ffmpeg writes for seconds, the file growing as it goes.
frames = np.random.default_rng(0).integers(0, 255, (240, 288, 384, 3), dtype=np.uint8)
codec.encode_mp4(frames, 8, sys.argv[1])
print("finished", flush=True)
"""

MUSIC = """
import sys
from pathlib import Path
from cogvideo.media import music
real = music._encode_aac
def encode_then_hang(*args):
    real(*args)  # the AAC is written inside the work folder; the mux is next
    print("ready", flush=True)
    import time
    time.sleep(600)
music._encode_aac = encode_then_hang
music.add_music(sys.argv[1], Path(sys.argv[2]), sys.argv[3])  # a file is a Path; text is a track id
"""


def make_clip(path: Path) -> Path:
    y, x = np.mgrid[0:48, 0:64]
    frames = np.stack([np.stack([(x * 4 + 9 * t) % 256, (y * 5) % 256, np.full_like(x, 40)], -1)
                       for t in range(9)]).astype(np.uint8)
    return codec.encode_mp4(frames, 8, path)


def write_tone(path: Path, seconds: float = 2.0) -> Path:
    import wave

    samples = (0.3 * 32767 * np.sin(2 * np.pi * 330 * np.arange(int(48_000 * seconds)) / 48_000)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(48_000)
        wav.writeframes(samples.tobytes())
    return path


def test_crashes_leave_only_temporary_names_and_a_starting_studio_sweeps_them(tiny_engine, tmp_path):
    from cogvideo.studio import Studio

    out = tmp_path / "outputs"
    out.mkdir()

    # 1. A finished video (and its cover) from an earlier job: never touched, however old.
    finished = make_clip(codec.unique_video_path(out))
    cover = codec.save_cover(np.zeros((48, 64, 3), np.uint8), finished.with_suffix(".jpg"))
    kept = {path: path.read_bytes() for path in (finished, cover)}

    # 2. Killed while encoding: ffmpeg was writing, and nothing may carry the final name.
    target = codec.unique_video_path(out)
    writer = start(ENCODE, str(target))
    wait_for(lambda: [p for p in out.iterdir() if p.name.startswith(target.stem) and p.stat().st_size > 0],
             proc=writer)
    kill(writer)
    assert not target.exists(), "a half-written video sits under its final name"
    assert [p for p in out.iterdir() if p.name.startswith(target.stem) and ".part." in p.name]

    # 3. Killed inside the music step: its work folder stays behind.
    clip = make_clip(tmp_path / "clip.mp4")
    mixer = start(MUSIC, str(clip), str(write_tone(tmp_path / "tone.wav")), str(codec.unique_video_path(out)))
    assert wait_for(lambda: mixer.stdout.readline().strip() == "ready", proc=mixer)
    kill(mixer)
    work = [p for p in out.iterdir() if p.name.startswith(codec.MUSIC_WORK_PREFIX)]
    assert len(work) == 1 and any(work[0].iterdir())

    # 4. The crash was a while ago; meanwhile another process is writing into the same folder now.
    leftovers = [p for p in out.iterdir() if ".part." in p.name] + work
    for path in [*leftovers, finished, cover]:
        age(path, 2 * GRACE)
    busy = codec.unique_video_path(out).with_suffix(".1a2b3c4d.part.mp4")
    busy.write_bytes(b"\0" * 1000)

    Studio(tiny_engine, out)

    assert not any(path.exists() for path in leftovers)
    assert busy.exists(), "a file another process is writing right now was removed"
    assert {path: path.read_bytes() for path in (finished, cover)} == kept
    assert codec.probe(finished).video_codec == "h264"


def test_sweep_spares_recent_files_and_names_that_are_not_ours(tmp_path):
    stem = codec.unique_video_path(tmp_path).stem
    old_part = tmp_path / f"{stem}.part.mp4"
    old_cover_part = tmp_path / f"{stem}.5e6f7a8b.part.jpg"
    old_work = tmp_path / ".music-ab12cd_9"
    old_work.mkdir()
    (old_work / "music.m4a").write_bytes(b"aac")
    recent_part = tmp_path / f"{stem}.music.part.mp4"
    # Somebody else's files in a shared output folder, however old and however named.
    foreign = [tmp_path / "holiday.part.2.mkv", tmp_path / "download.part", tmp_path / ".music-library"]
    for path in (old_part, old_cover_part, recent_part, *foreign):
        path.write_bytes(b"x")
    for path in (old_part, old_cover_part, old_work, *foreign):
        age(path, 2 * GRACE)
    # A work folder created long ago whose file is being written now is in use.
    busy_work = tmp_path / ".music-zz99yy88"
    busy_work.mkdir()
    (busy_work / "out.mp4").write_bytes(b"mp4")
    os.utime(busy_work, (time.time() - 2 * GRACE,) * 2)

    assert codec.sweep_leftovers(tmp_path) == 3
    assert not old_part.exists() and not old_cover_part.exists() and not old_work.exists()
    assert recent_part.exists() and busy_work.exists() and all(path.exists() for path in foreign)
    assert codec.sweep_leftovers(tmp_path / "missing") == 0


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    """A cover that fails half-way (disk full) leaves neither a truncated JPEG nor a temporary."""
    def save_half_then_fail(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\xff\xd8\xff\xe0 half a JPEG")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    cover = codec.unique_video_path(tmp_path).with_suffix(".jpg")
    with pytest.raises(OSError):
        codec.save_cover(np.zeros((48, 64, 3), np.uint8), cover)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_encode_leaves_nothing(tmp_path):
    target = codec.unique_video_path(tmp_path)
    with pytest.raises(RuntimeError):
        # An unknown filter makes ffmpeg fail after opening its output.
        codec.encode_mp4(np.zeros((3, 48, 64, 3), np.uint8), 8, target, filters=["nosuchfilter"])
    assert list(tmp_path.iterdir()) == []
