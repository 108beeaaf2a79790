"""Uploaded clips (cogvideo.media.clips): real files made here with the ffmpeg imageio-ffmpeg ships.

Most clips are "numbered": frame i is a flat colour that encodes i (red = 8 × (i mod 32), green =
8 × (i div 32)), so a test can say which source frame each decoded frame is, through lossy codecs
(an error under 4 levels still rounds to the right number).
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from cogvideo.media import clips
from cogvideo.media.clips import (
    MAX_CLIP_SECONDS,
    MAX_CLIP_SIDE,
    MIN_CLIP_FRAMES,
    ClipInfo,
    fit_frames,
    join_parts,
    probe_clip,
    read_clip,
)
from cogvideo.errors import VideoError
from cogvideo.media.codec import ffmpeg_exe, fit_image

X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str, stdin: bytes | None = None) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], input=stdin, check=True)


def encode(path: Path, frames: np.ndarray, fps: float, *out: str, before: tuple[str, ...] = ()) -> Path:
    """Write uint8 T×H×W×3 frames at `fps` with output options `out` (codec, filters)."""
    count, height, width, _ = frames.shape
    ffmpeg(*before, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
           "-i", "-", *out, str(path), stdin=np.ascontiguousarray(frames).tobytes())
    return path


def numbered(count: int, width: int = 16, height: int = 16) -> np.ndarray:
    index = np.arange(count)
    colour = np.stack([8 * (index % 32), 8 * (index // 32), np.full_like(index, 128)], axis=-1)
    return np.broadcast_to(colour[:, None, None, :], (count, height, width, 3)).astype(np.uint8)


def numbers(frames: np.ndarray) -> list[int]:
    """The source frame number of each decoded frame of a numbered clip."""
    mean = frames.reshape(len(frames), -1, 3).mean(axis=1)
    return [int(round(r / 8)) + 32 * int(round(g / 8)) for r, g, _ in mean]


def bands(width: int, height: int, count: int = 3) -> np.ndarray:
    """Four vertical bands, left to right green, red, blue, green: a center crop to half the
    width keeps exactly red | blue; a left crop or a squash would show green."""
    row = np.zeros((width, 3), np.uint8)
    quarter = width // 4
    row[:quarter] = row[3 * quarter:] = (0, 255, 0)
    row[quarter:2 * quarter] = (255, 0, 0)
    row[2 * quarter:3 * quarter] = (0, 0, 255)
    return np.broadcast_to(row, (count, height, width, 3)).copy()


def assert_red_then_blue(frame: np.ndarray) -> None:
    """Left half red, right half blue, but for two columns at each edge and either side of the
    middle (where scaling blends neighbours, and yuv420p shares colour between pixel pairs)."""
    width = frame.shape[1]
    left, right = frame[:, 2:width // 2 - 2].astype(int), frame[:, width // 2 + 2:-2].astype(int)
    assert (abs(left - (255, 0, 0)) < 40).all(), left.mean(axis=(0, 1))
    assert (abs(right - (0, 0, 255)) < 40).all(), right.mean(axis=(0, 1))


@pytest.fixture(scope="module")
def clip30(tmp_path_factory) -> Path:
    """MP4, H.264, 30 fps, 3 s: 90 numbered frames, 64×48."""
    return encode(tmp_path_factory.mktemp("clips") / "clip30.mp4", numbered(90, 64, 48), 30, *X264)


def refused(path: Path, reader=probe_clip) -> VideoError:
    with pytest.raises(VideoError) as caught:
        reader(path)
    error = caught.value
    assert error.en and error.zh and error.en != error.zh
    return error


# ---------------------------------------------------------------- reading

def test_mp4_read_at_8fps_is_evenly_resampled(clip30):
    info = probe_clip(clip30)
    assert info == ClipInfo(width=64, height=48, fps=30.0, duration=3.0, has_audio=False)
    assert not info.portrait
    clip = read_clip(clip30, 8)
    # 3 s × 8 fps = 24 frames exactly: frame k is the picture on screen at k / 8 s, source frame
    # floor(30 k / 8); the slot at 3.0 s is the clip's end, not a frame.
    assert clip.frames.shape == (24, 48, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 8.0 and clip.info == info
    assert numbers(clip.frames) == [30 * k // 8 for k in range(24)]


def test_max_frames_takes_the_start_and_last_takes_the_tail(clip30):
    assert numbers(read_clip(clip30, 8, max_frames=5).frames) == [0, 3, 7, 11, 15]
    # The tail ends on the clip's final frame (89, at 89/30 s) and steps back 1/8 s = 3.75 frames.
    tail = read_clip(clip30, 8, max_frames=5, last=True)
    assert numbers(tail.frames) == [74, 77, 81, 85, 89]
    # The last frame alone: what "extend a video" continues from.
    assert numbers(read_clip(clip30, 8, max_frames=1, last=True).frames) == [89]
    # Asking for more than the clip has gives the whole clip, still ending on its final frame.
    whole = numbers(read_clip(clip30, 8, max_frames=100, last=True).frames)
    assert len(whole) == 24 and whole[-1] == 89 and whole[-5:] == [74, 77, 81, 85, 89]


def test_tail_of_a_clip_whose_sound_runs_on(tmp_path, clip30):
    # 3 s of picture, 5 s of sound: the header says 5 s. The tail still ends on the last picture.
    path = tmp_path / "sound_runs_on.mp4"
    ffmpeg("-i", str(clip30), "-f", "lavfi", "-i", "sine=d=5", "-c:v", "copy", "-c:a", "aac", str(path))
    info = probe_clip(path)
    assert info.has_audio and info.duration == pytest.approx(5.0, abs=0.05)
    # 16 frames at 8 fps reach 1.9 s back from the last picture (89, at 89/30 s), past the point
    # 5 s - 2 s - 1 s = 2 s that the header's length alone would seek to.
    tail = read_clip(path, 8, max_frames=16, last=True)
    # Frame j from the end is the picture on screen at (89 - 3.75 j) / 30 s: number 89 - ceil(3.75 j).
    assert numbers(tail.frames) == [89 - math.ceil(3.75 * j) for j in reversed(range(16))]


def test_size_covers_then_crops_the_center(tmp_path):
    path = encode(tmp_path / "bands.mp4", bands(64, 48), 10, *X264)
    # 64×48 -> 32×48: the heights match (scale 1), 32 columns are cut from the middle.
    clip = read_clip(path, 10, size=(32, 48))
    assert clip.frames.shape == (3, 48, 32, 3)
    assert_red_then_blue(clip.frames[0])
    # Upscaled: 64×48 covers 60×90 at 120×90; the middle 60 columns are the red and blue bands.
    big = read_clip(path, 10, size=(60, 90))
    assert big.frames.shape == (3, 90, 60, 3)
    assert_red_then_blue(big.frames[0])
    # Our own frames through fit_frames: the same geometry, and what fit_image does to a picture.
    full = read_clip(path, 10).frames
    fitted = fit_frames(full, 60, 90)
    assert fitted.shape == (3, 90, 60, 3)
    assert_red_then_blue(fitted[0])
    from PIL import Image

    picture = np.asarray(fit_image(Image.fromarray(full[0]), 60, 90)).astype(int)
    assert np.abs(fitted[0].astype(int) - picture).mean() < 4


@pytest.mark.parametrize("name, out", [
    ("mjpeg.mov", ["-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj444p"]),
    ("h264.mov", X264),
    ("vp9.webm", ["-c:v", "libvpx-vp9", "-lossless", "1"]),
    ("ffv1.mkv", ["-c:v", "ffv1"]),
])
def test_mov_webm_and_mkv_are_read(tmp_path, name, out):
    path = encode(tmp_path / name, numbered(20, 32, 32), 20, *out)
    clip = read_clip(path, 10)
    assert clip.info.width == 32 and clip.info.height == 32 and abs(clip.info.duration - 1.0) < 0.06
    # 1 s × 10 fps: every other source frame.
    assert numbers(clip.frames) == list(range(0, 20, 2))


def test_webm_without_a_duration_in_its_header(tmp_path):
    # A browser's recorder writes WebM to a stream, with no duration in the header: its length
    # comes from the packets' timestamps.
    path = tmp_path / "recorded.webm"
    with open(path, "wb") as f:
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                        "-s", "32x32", "-r", "20", "-i", "-", "-c:v", "libvpx", "-b:v", "1M", "-f", "webm", "-"],
                       input=numbered(30, 32, 32).tobytes(), stdout=f, check=True)
    banner = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert "Duration: N/A" in banner
    assert probe_clip(path).duration == pytest.approx(1.5, abs=0.06)
    assert numbers(read_clip(path, 10).frames) == list(range(0, 30, 2))


def test_portrait_clips_come_out_upright(tmp_path):
    # Stored upright: 48 wide, 64 tall.
    tall = encode(tmp_path / "tall.mp4", bands(48, 64), 10, *X264)
    info = probe_clip(tall)
    assert (info.width, info.height, info.portrait) == (48, 64, True)
    assert read_clip(tall, 10).frames.shape == (3, 64, 48, 3)
    # Stored landscape with a display rotation, as phones do: green|red|blue|green left to right,
    # turned 90° counterclockwise for display, reads blue above red (top to bottom: green, blue,
    # red, green). A clip that were only squashed to 48×64 would still show vertical bands.
    landscape = encode(tmp_path / "landscape.mp4", bands(64, 48), 10, *X264)
    rotated = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(landscape), "-c", "copy", str(rotated))
    info = probe_clip(rotated)
    assert (info.width, info.height, info.portrait) == (48, 64, True)
    frame = read_clip(rotated, 10).frames[0].astype(int)
    assert frame.shape == (64, 48, 3)
    assert (abs(frame[18:30] - (0, 0, 255)) < 40).all() and (abs(frame[34:46] - (255, 0, 0)) < 40).all()


def test_non_square_pixels_are_shown_wide(tmp_path):
    # 32×48 stored with pixels twice as wide as tall: a player shows 64×48.
    path = encode(tmp_path / "anamorphic.mp4", bands(32, 48), 10, "-vf", "setsar=2", *X264)
    info = probe_clip(path)
    assert (info.width, info.height) == (64, 48)
    frame = read_clip(path, 10).frames[0]
    assert frame.shape == (48, 64, 3)
    assert_red_then_blue(frame[:, 16:48])


@pytest.mark.parametrize("name, out", [
    ("odd.mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p"]),
    ("odd.mov", ["-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj444p"]),
])
def test_odd_dimensions(tmp_path, name, out):
    path = encode(tmp_path / name, numbered(10, 65, 49), 10, *out)
    info = probe_clip(path)
    assert (info.width, info.height) == (65, 49)
    assert read_clip(path, 10).frames.shape == (10, 48, 64, 3)  # made even
    sized = read_clip(path, 5, size=(33, 17))
    assert sized.frames.shape == (5, 17, 33, 3)
    assert numbers(sized.frames) == [0, 2, 4, 6, 8]


def test_variable_frame_rate_comes_out_evenly_spaced(tmp_path):
    # 10 frames at 10 fps (0.0-0.9 s), then 40 frames at 40 fps (1.000-1.975 s).
    path = encode(tmp_path / "vfr.mp4", numbered(50), 40,
                  "-vf", r"setpts=if(lt(N\,10)\,N*4\,30+N)", "-fps_mode", "passthrough", *X264)

    def on_screen(ms: int) -> int:  # the source frame shown at `ms` milliseconds
        return ms // 100 if ms < 1000 else 10 + (ms - 1000) // 25

    # 2 s at 10 fps: 20 frames, one every 100 ms, whichever source rate was running.
    assert numbers(read_clip(path, 10).frames) == [on_screen(100 * k) for k in range(20)]
    # The tail, anchored on the last frame (1975 ms), reaches back into the 10 fps part.
    tail = read_clip(path, 10, max_frames=14, last=True)
    assert numbers(tail.frames) == [on_screen(1975 - 100 * j) for j in reversed(range(14))]


# ---------------------------------------------------------------- refusals

def test_two_hour_clip_is_refused_from_its_header(tmp_path):
    # 2 h at one frame a minute: 120 frames of 16×16, made in a blink.
    path = tmp_path / "two_hours.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=s=16x16:r=1/60:d=7200", *X264, str(path))
    started = time.monotonic()
    error = refused(path)
    assert time.monotonic() - started < 3
    assert "2:00:00" in error.en and f"{MAX_CLIP_SECONDS:g} s" in error.en and "Trim" in error.en
    assert "2:00:00" in error.zh and f"{MAX_CLIP_SECONDS:g} 秒" in error.zh
    assert "2:00:00" in refused(path, lambda p: read_clip(p, 8)).en


def test_long_clip_without_a_duration_is_refused_after_a_bounded_count(tmp_path):
    # 10 min of WebM with no duration in its header: counting stops after 61 s of packets.
    path = tmp_path / "long.webm"
    with open(path, "wb") as f:
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                        "color=s=16x16:r=2:d=600", "-c:v", "libvpx", "-f", "webm", "-"], stdout=f, check=True)
    started = time.monotonic()
    error = refused(path)
    assert time.monotonic() - started < 3
    assert f"longer than {MAX_CLIP_SECONDS:g} s" in error.en and f"超过 {MAX_CLIP_SECONDS:g} 秒" in error.zh


def test_8k_clip_is_refused_with_its_size(tmp_path):
    path = tmp_path / "8k.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=s=7680x4320:r=1:d=1", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(path))
    error = refused(path)
    assert "7680×4320" in error.en and str(MAX_CLIP_SIDE) in error.en and "4K" in error.en
    assert "7680×4320" in error.zh and str(MAX_CLIP_SIDE) in error.zh
    assert "7680×4320" in refused(path, lambda p: read_clip(p, 8, size=(64, 64))).en


def test_files_that_are_not_videos(tmp_path, clip30):
    missing = refused(tmp_path / "nowhere.mp4")
    assert "not found" in missing.en and "找不到" in missing.zh

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    error = refused(empty)
    assert "empty" in error.en and "空文件" in error.zh

    text = tmp_path / "notes.mp4"
    text.write_text("Shopping list: eggs, milk, a camera.\n" * 50)
    error = refused(text)
    assert "not a video" in error.en and "MP4, MOV, WebM or MKV" in error.en and "不是" in error.zh

    # An upload cut off before the MP4's index (written last by cameras) arrived.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip30.read_bytes()[:2000])
    error = refused(cut)
    assert "incomplete" in error.en and "不完整" in error.zh


def test_pictures_and_sound_files_are_named_for_what_they_are(tmp_path):
    png = tmp_path / "photo.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x48", "-frames:v", "1", str(png))
    renamed = tmp_path / "photo.mp4"
    renamed.write_bytes(png.read_bytes())
    error = refused(renamed)
    assert "picture" in error.en and "Image to video" in error.en
    assert "图片" in error.zh and "图生视频" in error.zh

    song = tmp_path / "song.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(song))
    error = refused(song)
    assert "no picture" in error.en and "音频" in error.zh
    # A song with cover art has a "video" stream that is one attached picture: still a song.
    covered = tmp_path / "covered.m4a"
    ffmpeg("-i", str(song), "-i", str(png), "-map", "0", "-map", "1", "-c:a", "copy", "-c:v", "png",
           "-disposition:v", "attached_pic", str(covered))
    assert "no picture" in refused(covered).en


def test_too_short_clip(tmp_path):
    # One frame of video: at any rate, fewer than MIN_CLIP_FRAMES.
    path = encode(tmp_path / "blink.mp4", numbered(1, 32, 32), 10, *X264)
    error = refused(path, lambda p: read_clip(p, 8))
    assert f"at least {MIN_CLIP_FRAMES}" in error.en and "longer clip" in error.en
    assert f"至少需要 {MIN_CLIP_FRAMES} 帧" in error.zh
    # One frame is all that is asked for: fine.
    assert read_clip(path, 8, max_frames=1).frames.shape == (1, 32, 32, 3)


def test_frames_that_would_not_fit_in_memory_are_refused_before_decoding(clip30, monkeypatch):
    def no_decoding(*args):
        raise AssertionError("decoded anyway")

    monkeypatch.setattr(clips, "_decode", no_decoding)
    # 3 s at 30 fps as 4096×4096 frames: 91 × 48 MiB = 4.3 GiB.
    error = refused(clip30, lambda p: read_clip(p, 30, size=(4096, 4096)))
    assert "4.3 GB" in error.en and "4096×4096" in error.en and "2 GB" in error.en
    assert "4.3 GB" in error.zh


def test_a_header_that_understates_the_length_cannot_overfill_memory(clip30, monkeypatch):
    # The header claims 0.5 s (5 frames at 8 fps pass the check before decoding); the clip gives
    # 24, and decoding stops once the frames pass the limit, set here to 10 frames' worth.
    real_probe = clips.probe_clip
    monkeypatch.setattr(clips, "probe_clip", lambda p: dataclasses.replace(real_probe(p), duration=0.5))
    monkeypatch.setattr(clips, "MAX_DECODED_BYTES", 10 * 48 * 64 * 3)
    error = refused(clip30, lambda p: read_clip(p, 8))
    assert "11 frames of 64×48" in error.en


def test_a_reader_that_stops_early_ends_ffmpeg(tmp_path):
    psutil = pytest.importorskip("psutil")
    path = tmp_path / "ten_s.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=10", *X264, str(path))

    def running() -> list:
        return [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]

    # The decoder, asked for all 300 frames, is left after one: ffmpeg, blocked on a full pipe,
    # must be ended when the generator closes.
    frames = clips._decode(path, ["-i", str(path)], (320, 240))
    assert next(frames).shape == (240, 320, 3)
    assert running()
    frames.close()
    assert not running()
    # Through read_clip: two frames of ten seconds, at once.
    started = time.monotonic()
    assert read_clip(path, 30, max_frames=2).frames.shape == (2, 240, 320, 3)
    assert time.monotonic() - started < 5 and not running()


# ---------------------------------------------------------------- joining parts

def parts_of(*lengths: int, size: int = 4) -> list[np.ndarray]:
    """Parts as image-to-video makes them: each starts with the previous part's last frame."""
    parts, value = [], 10
    for k, length in enumerate(lengths):
        part = np.empty((length, size, size, 3), np.uint8)
        start = 0
        if k:
            part[0] = parts[-1][-1]
            start = 1
        for i in range(start, length):
            part[i] = value
            value += 10
        parts.append(part)
    return parts


def test_join_drops_each_repeated_first_frame():
    parts = parts_of(5, 4, 6)
    joined = join_parts(parts)
    assert joined.dtype == np.uint8
    assert len(joined) == 5 + 4 + 6 - 2
    assert (joined[4] == parts[0][-1]).all() and (joined[5] == parts[1][1]).all()  # the first join
    assert (joined[7] == parts[1][-1]).all() and (joined[8] == parts[2][1]).all()  # the second
    # No frame is shown twice: the values only rise.
    assert (np.diff(joined[:, 0, 0, 0].astype(int)) > 0).all()
    assert (join_parts(parts[:1]) == parts[0]).all()


def test_crossfade_blends_from_the_join_frame_and_keeps_the_count():
    first = np.full((3, 4, 4, 3), 100, np.uint8)
    second = np.concatenate([first[-1:], np.full((5, 4, 4, 3), 200, np.uint8)])  # brighter by 100
    plain = join_parts([first, second])
    faded = join_parts([first, second], crossfade=3)
    assert len(faded) == len(plain) == 3 + 6 - 1
    assert (faded[:3] == plain[:3]).all() and (faded[6:] == plain[6:]).all()
    # Weights 1/4, 2/4, 3/4 from 100 toward 200.
    assert faded[3:6, 0, 0, 0].tolist() == [125, 150, 175]


def test_parts_of_different_sizes_are_a_programming_error():
    with pytest.raises(ValueError, match="same size"):
        join_parts([np.zeros((2, 4, 4, 3), np.uint8), np.zeros((2, 4, 6, 3), np.uint8)])
