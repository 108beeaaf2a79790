"""GIF export on real files: a small MP4 from `encode_mp4`, the real ffmpeg, GIFs read back with Pillow.

The clip: 17 frames of 320×192 at 8 fps (2.125 s), coloured blocks moving 16 px a frame over a
gradient. Disk full is the one case played by a fake ffmpeg (a script that writes a little and
fails as ffmpeg does); everything else runs the real one.
"""

from __future__ import annotations

import math
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from bilingual import Text
from cogvideo.errors import DiskFull, InvalidRequest, VideoError
from cogvideo.media import codec, gif
from cogvideo.media.gif import DEFAULT_GIF_FPS, GifResult, check_gif_options, export_gif

FRAMES, HEIGHT, WIDTH, FPS = 17, 192, 320, 8


def make_frames() -> np.ndarray:
    """uint8 T×H×W×3: a red and a blue block sliding in opposite directions over a gradient."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = np.empty((FRAMES, HEIGHT, WIDTH, 3), np.uint8)
    for t in range(FRAMES):
        frame = np.stack([x * 255 // WIDTH, y * 255 // HEIGHT, np.full_like(x, 90)], axis=-1)
        frame[20:80, 16 * t:16 * t + 48] = (230, 40, 40)
        frame[110:170, WIDTH - 48 - 16 * t:WIDTH - 16 * t] = (40, 60, 220)
        frames[t] = frame
    return frames


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return codec.encode_mp4(make_frames(), FPS, tmp_path_factory.mktemp("clip") / "clip.mp4")


def read_gif(path: Path) -> tuple[Image.Image, list[np.ndarray], list[int]]:
    """(the opened GIF, its frames as RGB arrays, each frame's duration in ms)."""
    image = Image.open(path)
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        frames.append(np.asarray(frame.convert("RGB"), np.float32))
        durations.append(frame.info["duration"])
    return image, frames, durations


def resized(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS), np.float32)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if codec.PART_MARK in p.name)


# ---------------------------------------------------------------- the GIF

def test_gif_is_animated_loops_and_looks_like_the_video(clip, tmp_path):
    out = tmp_path / "out" / "clip.gif"
    result = export_gif(clip, out, width=160)

    image, frames, durations = read_gif(out)
    # 8 fps asked (the default) of an 8-fps clip: every frame, 17.
    assert DEFAULT_GIF_FPS == 8 and result.fps == 8
    assert image.is_animated and image.n_frames == result.frames == FRAMES
    # 320×192 at 160 wide: 160 × 192 / 320 = 96 high.
    assert image.size == (result.width, result.height) == (160, 96)
    assert image.info["loop"] == 0  # forever
    assert result.path == out and result.size_bytes == out.stat().st_size > 0
    # GIF delays are whole centiseconds: 125 ms a frame is written as 130, 120, 130, ...
    assert abs(sum(durations) - FRAMES * 1000 / FPS) <= 10
    source = codec.read_frames(clip)
    first = np.abs(frames[0] - resized(source[0], 160, 96)).mean()
    assert first < 8, f"mean abs difference of the first frame: {first:.1f} of 255"  # 3.9 measured; a wrong frame: 22
    # It moves: frame 10 is the video's frame 10, not its first frame again.
    later = np.abs(frames[10] - resized(source[10], 160, 96)).mean()
    assert later < 8 and later < np.abs(frames[10] - resized(source[0], 160, 96)).mean() / 2
    assert leftovers(out.parent) == [] and [p.name for p in out.parent.iterdir()] == ["clip.gif"]


@pytest.mark.parametrize("fps, frames, delay_ms", [
    # Asked more than the video has: the GIF keeps the video's 8 fps, all 17 frames.
    (15, 17, 125),
    # 4 fps of a 2.125-s clip: frames at 0, 0.25, ..., 2.0 s, i.e. 17 × 4 / 8 = 8.5 rounded up: 9.
    (4, 9, 250),
])
def test_gif_fps_is_never_above_the_videos(clip, tmp_path, fps, frames, delay_ms):
    result = export_gif(clip, tmp_path / "clip.gif", width=160, fps=fps)
    image, _, durations = read_gif(result.path)
    assert result.fps == min(fps, FPS)
    assert image.n_frames == result.frames == frames
    assert abs(sum(durations) / frames - delay_ms) <= 5


@pytest.mark.parametrize("width, expected_width", [
    (720, 320),  # wider than the video: the video's width (320 × 192), said by the result
    (135, 135),  # 135 × 192 / 320 = 81 high: made even, 80 or 82
])
def test_gif_width_is_never_above_the_videos_and_height_is_even(clip, tmp_path, width, expected_width):
    result = export_gif(clip, tmp_path / "clip.gif", width=width)
    with Image.open(result.path) as image:
        assert image.size == (result.width, result.height)
    assert result.width == expected_width
    assert result.height % 2 == 0 and abs(result.height - result.width * HEIGHT / WIDTH) <= 1


def test_video_with_a_music_track(clip, tmp_path):
    # Studio videos carry music; the GIF takes the picture only.
    with_music = tmp_path / "music.mp4"
    subprocess.run(
        [codec.ffmpeg_exe(), "-loglevel", "error", "-i", str(clip), "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
         "-c:v", "copy", "-c:a", "aac", "-shortest", str(with_music)],
        check=True, capture_output=True,
    )
    assert codec.probe(with_music).audio_codec == "aac"
    result = export_gif(with_music, tmp_path / "music.gif", width=160)
    assert result.frames == FRAMES and Image.open(result.path).n_frames == FRAMES


def test_size_text_for_the_ui(tmp_path):
    result = GifResult(tmp_path / "a.gif", size_bytes=1_887_437, width=480, height=320, fps=8.0, frames=49)
    assert result.size_text() == Text("1.8 MB · 480×320 · 8 fps · 49 frames", "1.8 MB · 480×320 · 8 帧/秒 · 共 49 帧")
    small = GifResult(tmp_path / "b.gif", size_bytes=870_000, width=480, height=320, fps=7.5, frames=3)
    assert small.size_text().en == "850 KB · 480×320 · 7.5 fps · 3 frames"


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("width", [10, 10000, 480.5, True, "abc", "480", math.nan, None])
def test_bad_width_is_refused_naming_the_value(clip, tmp_path, width):
    with pytest.raises(InvalidRequest) as caught:
        export_gif(clip, tmp_path / "clip.gif", width=width)
    for text in (caught.value.en, caught.value.zh):
        assert repr(width) in text and "128" in text and "1440" in text
    assert "480 or 720 suggested" in caught.value.en
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fps", [0, 30, -1, 0.5, math.nan, math.inf, True, "10"])
def test_bad_fps_is_refused_naming_the_value(clip, tmp_path, fps):
    with pytest.raises(InvalidRequest) as caught:
        export_gif(clip, tmp_path / "clip.gif", fps=fps)
    for text in (caught.value.en, caught.value.zh):
        assert repr(fps) in text and "15" in text
    assert list(tmp_path.iterdir()) == []


def test_good_options_come_back_as_int_and_float():
    # Gradio sends sliders' numbers as floats.
    assert check_gif_options(480.0, 10.0) == (480, 10.0) and type(check_gif_options(480.0, 10)[0]) is int
    assert check_gif_options(128, 1) == (128, 1.0) and check_gif_options(1440, 15) == (1440, 15.0)
    assert check_gif_options(720, 7.5) == (720, 7.5)


# ---------------------------------------------------------------- failures leave nothing behind

def test_not_a_video_is_refused(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(VideoError) as caught:
        export_gif(text, out / "notes.gif")
    assert "notes.mp4" in caught.value.en and "notes.mp4" in caught.value.zh and caught.value.en != caught.value.zh
    with pytest.raises(VideoError, match="not found"):
        export_gif(tmp_path / "missing.mp4", out / "missing.gif")
    assert list(out.iterdir()) == []


def test_damaged_video_is_a_clear_error_and_leaves_no_part_file(clip, tmp_path):
    # +faststart puts the index first: cut inside the first frame's data, the header still reads
    # as a video (probe passes) but ffmpeg cannot decode a single frame.
    data = clip.read_bytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data[:data.index(b"mdat") + 200])
    assert codec.probe(damaged).width == WIDTH
    out = tmp_path / "out"
    with pytest.raises(VideoError) as caught:
        export_gif(damaged, out / "damaged.gif")
    assert "ffmpeg" in caught.value.en and "damaged.mp4" in caught.value.zh
    assert " @ 0x" not in caught.value.en  # ffmpeg's internal tags are stripped
    assert list(out.iterdir()) == []


def test_disk_full_is_reported_and_the_part_file_removed(clip, tmp_path, monkeypatch):
    # A fake ffmpeg: probing goes to the real one; the GIF command writes a little to its output
    # (the last argument) and fails as ffmpeg does on a full disk.
    real = codec.ffmpeg_exe()
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *palettegen*) ;; *) exec "' + real + '" "$@" ;; esac\n'
        'for last; do :; done\n'
        'printf GIF89a > "$last"\n'
        'echo "[out#0/gif @ 0x1] Error writing trailer: No space left on device" >&2\n'
        "exit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(codec, "ffmpeg_exe", lambda: str(fake))
    out = tmp_path / "out"
    with pytest.raises(DiskFull) as caught:
        export_gif(clip, out / "clip.gif")
    # Words for people name no server folder (issue 20); the folder is kept for the log.
    assert "disk is full" in caught.value.en and "磁盘已满" in caught.value.zh
    assert str(out) not in caught.value.en and str(out) not in caught.value.zh and caught.value.folder == out
    assert list(out.iterdir()) == []


def test_gif_too_large_to_hold_in_memory_is_refused_before_ffmpeg(clip, tmp_path, monkeypatch):
    monkeypatch.setattr(gif, "MAX_GIF_BUFFER_BYTES", 1 << 20)
    # 320 wide: 17 frames × 320 × 192 × 4 bytes = 4.2 MB > 1 MiB.
    with pytest.raises(VideoError) as caught:
        export_gif(clip, tmp_path / "big.gif", width=720)
    assert "320×192" in caught.value.en and "17 frames" in caught.value.en and "1 MiB" in caught.value.en
    assert "320×192" in caught.value.zh
    assert list(tmp_path.iterdir()) == []
    # 160 wide: 17 × 160 × 96 × 4 = 1,044,480 bytes, just under the limit.
    assert export_gif(clip, tmp_path / "small.gif", width=160).frames == FRAMES
    assert os.listdir(tmp_path) == ["small.gif"]
