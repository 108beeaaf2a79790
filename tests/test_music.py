"""Music: built-in tracks, fitting audio to a clip, and stream-copy muxing, on real files.

Clips come from `encode_mp4` (tiny: 64×48) and audio files from numpy through ffmpeg, in the
formats people upload. Durations are measured by decoding to PCM and counting samples; stream
copy is proven by comparing the H.264 bitstreams of input and output byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest

from bilingual import Text
from cogvideo.errors import AudioError, InvalidRequest, VideoError
from cogvideo.media.codec import encode_mp4, ffmpeg_exe, probe
from cogvideo.media.music import (
    DEFAULT_TRACKS_PATH,
    SAMPLE_RATE,
    add_music,
    change_music,
    load_tracks,
    read_mp4,
    resolve_music,
)

FPS = 8


# ---------------------------------------------------------------- helpers that make real files

def ffmpeg(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace"))
    return proc.stdout


def make_clip(path: Path, frames: int, width: int = 64, height: int = 48) -> Path:
    # A moving gradient, so every frame differs (the bitstream is not trivially small).
    y, x = np.mgrid[0:height, 0:width]
    video = np.stack([
        np.stack([(x * 4 + 9 * t) % 256, (y * 5 + 3 * t) % 256, np.full_like(x, 40 * t % 256)], axis=-1)
        for t in range(frames)
    ]).astype(np.uint8)
    return encode_mp4(video, FPS, path)


def write_wav(path: Path, seconds: float, rate: int = SAMPLE_RATE, channels: int = 2, freq: float = 330.0) -> Path:
    """A steady tone (constant loudness, so fades are measurable), channel k at freq × (1 + k/4)."""
    t = np.arange(int(seconds * rate)) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * freq * (1 + k / 4) * t) for k in range(channels)], axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def decode_pcm(path: Path) -> np.ndarray:
    """The file's audio as float (samples × 2) at its own 48 kHz rate, without resampling."""
    raw = ffmpeg("-i", str(path), "-map", "0:a:0", "-f", "s16le", "-c:a", "pcm_s16le", "-")
    return np.frombuffer(raw, dtype="<i2").reshape(-1, 2).astype(np.float64) / 32768


def audio_format(path: Path) -> tuple[int, str]:
    banner = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    match = re.search(r"Audio: \w+.*?, (\d+) Hz, ([\w.()]+)", banner)
    assert match, banner
    return int(match.group(1)), match.group(2)


def video_bitstream(path: Path) -> bytes:
    return ffmpeg("-i", str(path), "-map", "0:v", "-c", "copy", "-f", "h264", "-")


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def check_output(out: Path, source_clip: Path) -> np.ndarray:
    """One H.264 + one AAC stream, audio as long as the video (±0.1 s), video copied bit-exactly."""
    info = probe(out)
    assert (info.video_streams, info.audio_streams) == (1, 1)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert audio_format(out) == (SAMPLE_RATE, "stereo")
    samples = decode_pcm(out)
    video_seconds = read_mp4(source_clip).duration
    assert abs(len(samples) / SAMPLE_RATE - video_seconds) <= 0.1, (len(samples) / SAMPLE_RATE, video_seconds)
    assert video_bitstream(out) == video_bitstream(source_clip)
    return samples


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("music")


@pytest.fixture(scope="module")
def clip(media_dir) -> Path:
    # 17 frames at 8 fps = 2.125 s.
    return make_clip(media_dir / "clip.mp4", 17)


@pytest.fixture(scope="module")
def song_wav(media_dir) -> Path:
    return write_wav(media_dir / "song.wav", 4.0)


@pytest.fixture(scope="module")
def sources(media_dir, song_wav) -> dict[str, Path]:
    """The same 4 s tone as each common upload format."""
    out = {"wav": song_wav}
    for ext, codec in (("mp3", ["-c:a", "libmp3lame", "-b:a", "96k"]), ("m4a", ["-c:a", "aac"]),
                       ("ogg", ["-c:a", "libopus", "-b:a", "64k"]), ("flac", ["-c:a", "flac"])):
        path = media_dir / f"song.{ext}"
        ffmpeg("-i", str(song_wav), *codec, str(path))
        out[ext] = path
    return out


# ---------------------------------------------------------------- the music step

@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a", "ogg", "flac"])
def test_every_upload_format_is_fitted_and_muxed(tmp_path, clip, sources, fmt):
    samples = check_output(add_music(clip, sources[fmt], tmp_path / "out.mp4"), clip)
    assert rms(samples) > 0.01


def test_builtin_track_with_fades(tmp_path, clip):
    samples = check_output(add_music(clip, "calm", tmp_path / "out.mp4"), clip)
    edge = SAMPLE_RATE // 20  # 50 ms
    middle = rms(samples[len(samples) // 4: 3 * len(samples) // 4])
    assert middle > 0.01
    assert rms(samples[:edge]) < 0.5 * middle
    assert rms(samples[-edge:]) < 0.5 * middle


def test_steady_tone_fades_in_and_out(tmp_path, clip, song_wav):
    samples = check_output(add_music(clip, song_wav, tmp_path / "out.mp4"), clip)
    edge = SAMPLE_RATE // 20
    middle = rms(samples[len(samples) // 3: 2 * len(samples) // 3])
    assert rms(samples[:edge]) < 0.4 * middle
    assert rms(samples[-edge:]) < 0.4 * middle


def test_short_music_loops_without_gaps(tmp_path, clip, media_dir):
    short = write_wav(media_dir / "short.wav", 0.5)
    samples = check_output(add_music(clip, short, tmp_path / "out.mp4"), clip)
    # Every 50 ms window between the fades carries sound: the 0.5 s tone repeats, crossfaded.
    body = samples[int(0.25 * SAMPLE_RATE): int(1.6 * SAMPLE_RATE)]
    windows = body[: len(body) // 2400 * 2400].reshape(-1, 2400, 2)
    levels = np.sqrt((windows**2).mean(axis=(1, 2)))
    assert levels.min() > 0.5 * levels.max()


def test_loudness_is_normalized_then_volume_applied(tmp_path, clip, media_dir):
    quiet = media_dir / "quiet.wav"
    write_wav(quiet, 3.0)
    loud_pcm = decode_pcm(add_music(clip, quiet, tmp_path / "full.mp4", volume=1.0))
    half_pcm = decode_pcm(add_music(clip, quiet, tmp_path / "half.mp4", volume=0.5))
    mid = slice(SAMPLE_RATE // 2, SAMPLE_RATE)
    # 0.5 is -6 dB against 1.0; the source's own level does not matter (normalized first).
    assert 20 * np.log10(rms(half_pcm[mid]) / rms(loud_pcm[mid])) == pytest.approx(-6.0, abs=0.5)
    assert np.abs(loud_pcm).max() < 1.0


def test_volume_zero_gives_a_silent_track(tmp_path, clip, song_wav):
    samples = check_output(add_music(clip, song_wav, tmp_path / "out.mp4", volume=0), clip)
    assert np.abs(samples).max() == 0.0


@pytest.mark.parametrize("volume", [1.5, -0.1, "loud", True, float("nan")])
def test_bad_volume(tmp_path, clip, song_wav, volume):
    with pytest.raises(InvalidRequest) as info:
        add_music(clip, song_wav, tmp_path / "out.mp4", volume=volume)
    assert "between 0 and 1" in info.value.en and "音量" in info.value.zh


@pytest.mark.parametrize(("rate", "channels"), [(11025, 1), (96000, 2), (48000, 1), (44100, 6)])
def test_odd_rates_and_layouts_become_48k_stereo(tmp_path, clip, rate, channels):
    source = write_wav(tmp_path / f"odd-{rate}-{channels}.wav", 3.0, rate=rate, channels=channels)
    if channels == 6:
        flac = tmp_path / "surround.flac"
        ffmpeg("-i", str(source), "-af", "aformat=channel_layouts=5.1", "-c:a", "flac", str(flac))
        assert audio_format(flac)[1].startswith("5.1")
        source = flac
    samples = check_output(add_music(clip, source, tmp_path / "out.mp4"), clip)
    assert rms(samples[:, 0]) > 0.01 and rms(samples[:, 1]) > 0.01


def test_surround_downmix_keeps_sides_apart(tmp_path, clip):
    # 5.1 with a tone only in front-left: the stereo result must be left-heavy, not mono-summed.
    t = np.arange(3 * 44100) / 44100
    pcm = np.zeros((len(t), 6))
    pcm[:, 0] = 0.4 * np.sin(2 * np.pi * 440 * t)
    flac = tmp_path / "front-left.flac"
    ffmpeg("-f", "s16le", "-ar", "44100", "-ch_layout", "5.1", "-i", "-", "-c:a", "flac", str(flac),
           stdin=(pcm * 32767).astype("<i2").tobytes())
    samples = check_output(add_music(clip, flac, tmp_path / "out.mp4"), clip)
    assert rms(samples[:, 0]) > 10 * rms(samples[:, 1])


def test_existing_audio_is_replaced(tmp_path, clip):
    first = add_music(clip, "upbeat", tmp_path / "first.mp4")
    second = add_music(first, "calm", tmp_path / "second.mp4")
    check_output(second, clip)
    calm_only = decode_pcm(add_music(clip, "calm", tmp_path / "calm.mp4"))
    assert np.allclose(decode_pcm(second), calm_only, atol=2e-3)


def test_foreign_surround_audio_is_replaced(tmp_path, clip, song_wav):
    # A video that is not ours: H.264 with a 5.1 AAC track. ffmpeg's default stream choice
    # would prefer the 5.1 track over our stereo one; we must still end with only ours.
    surround = tmp_path / "surround.m4a"
    write_wav(tmp_path / "six.wav", 3.0, channels=6)
    ffmpeg("-i", str(tmp_path / "six.wav"), "-af", "aformat=channel_layouts=5.1", "-c:a", "aac", str(surround))
    foreign = tmp_path / "foreign.mp4"
    ffmpeg("-i", str(clip), "-i", str(surround), "-map", "0:v", "-map", "1:a", "-c", "copy", "-shortest", str(foreign))
    assert audio_format(foreign)[1].startswith("5.1")
    check_output(add_music(foreign, song_wav, tmp_path / "out.mp4"), clip)


def test_in_place_output(tmp_path, clip, song_wav):
    target = tmp_path / "inplace.mp4"
    target.write_bytes(clip.read_bytes())
    assert add_music(target, song_wav, target) == target
    check_output(target, clip)
    assert not list(tmp_path.glob(".music-*"))


def test_tenth_of_a_second_clip(tmp_path, song_wav):
    tiny = make_clip(tmp_path / "tiny.mp4", 1)  # 1 frame at 8 fps = 0.125 s
    samples = check_output(add_music(tiny, song_wav, tmp_path / "out.mp4"), tiny)
    assert len(samples) > 0


def _sparse_two_hour_wav(path: Path, rate: int) -> Path:
    """A genuine 2-hour stereo WAV: 10 s of tone, then silence left sparse on disk (instant)."""
    write_wav(path, 10.0, rate=rate)
    frames = 2 * 3600 * rate
    data_bytes = frames * 4
    with open(path, "r+b") as f:
        f.seek(4)
        f.write((36 + data_bytes).to_bytes(4, "little"))
        f.seek(40)
        f.write(data_bytes.to_bytes(4, "little"))
        f.truncate(44 + data_bytes)
    return path


@pytest.mark.parametrize("rate", [48000, 96000])  # read directly / decoded by ffmpeg
def test_two_hour_music_is_decoded_only_as_far_as_needed(tmp_path, clip, rate):
    long_wav = _sparse_two_hour_wav(tmp_path / f"two-hours-{rate}.wav", rate)
    assert long_wav.stat().st_size > 1_000_000_000
    began = time.perf_counter()
    tracemalloc.start()
    try:
        out = add_music(clip, long_wav, tmp_path / "out.mp4")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # All of it would be 1.4 GB of PCM in memory; the clip needs ~2.6 s (0.5 MB). The memory bound is
    # the test; the time bound only catches a whole decode (a loaded machine is slow, not that slow).
    assert peak < 50_000_000
    assert time.perf_counter() - began < 60.0
    assert rms(check_output(out, clip)) > 0.01


# ---------------------------------------------------------------- bad input

def test_unknown_track_lists_valid_ids(tmp_path, clip):
    with pytest.raises(AudioError) as info:
        add_music(clip, "dubstep", tmp_path / "out.mp4")
    assert "'dubstep'" in info.value.en and "calm" in info.value.en and "lofi" in info.value.en
    assert "未知的配乐" in info.value.zh and "nostalgic" in info.value.zh
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("kind", ["text", "image", "silent-video"])
def test_music_that_is_not_audio(tmp_path, clip, kind):
    if kind == "text":
        bad = tmp_path / "notes.mp3"
        bad.write_text("definitely not an mp3\n" * 50)
    elif kind == "image":
        bad = tmp_path / "cover.png"
        from PIL import Image

        Image.new("RGB", (32, 32), (200, 10, 10)).save(bad)
    else:
        bad = clip
    with pytest.raises(AudioError) as info:
        add_music(clip, bad, tmp_path / "out.mp4")
    assert bad.name in info.value.en and bad.name in info.value.zh
    # A picture is no audio container (cogvideo.media.demux.AUDIO_DEMUXERS); a silent MP4 is one
    # without a sound track.
    expected = "no sound track" if kind == "silent-video" else "not an audio file"
    assert expected in info.value.en


def test_change_music_rejects_non_mp4(tmp_path, song_wav):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is a text file wearing an .mp4 name\n")
    webm = tmp_path / "clip.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=8:duration=0.5", "-c:v", "libvpx", "-deadline", "realtime", str(webm))
    for bad in (fake, webm, tmp_path / "missing.mp4"):
        with pytest.raises(VideoError) as info:
            change_music(bad, song_wav, tmp_path / "out.mp4")
        assert bad.name in info.value.en and bad.name in info.value.zh


def test_change_music_requires_h264(tmp_path, song_wav):
    mpeg4 = tmp_path / "mpeg4.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=8:duration=0.5", "-c:v", "mpeg4", str(mpeg4))
    with pytest.raises(VideoError) as info:
        change_music(mpeg4, song_wav, tmp_path / "out.mp4")
    assert "H.264" in info.value.en and "H.264" in info.value.zh


def test_change_music_none_gives_silent_stream_copy(tmp_path, clip):
    with_music = add_music(clip, "playful", tmp_path / "music.mp4")
    silent = change_music(with_music, "none", tmp_path / "silent.mp4")
    info = probe(silent)
    assert (info.video_streams, info.audio_streams, info.video_codec) == (1, 0, "h264")
    assert video_bitstream(silent) == video_bitstream(clip)
    assert read_mp4(silent).duration == pytest.approx(read_mp4(clip).duration, abs=0.01)


def test_change_music_is_fast_on_a_real_size_clip(tmp_path):
    # 6.125 s of 720×480 at 8 fps, the size CogVideoX makes (ultrafast x264: quick to build).
    # Fast means the video is never re-encoded: its bitstream comes through the swap unchanged.
    # (Times belong in bench/music.py: a wall-clock bound here failed on a loaded machine.)
    clip = tmp_path / "full.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=720x480:rate=8:duration=6.125", "-c:v", "libx264",
           "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip))
    first = change_music(clip, "epic", tmp_path / "a.mp4")
    second = change_music(first, "nostalgic", tmp_path / "b.mp4", volume=0.6)
    assert video_bitstream(second) == video_bitstream(clip)
    check_output(second, clip)


# ---------------------------------------------------------------- the built-in tracks

def test_tracks_json_describes_real_tracks():
    tracks = load_tracks()
    assert set(tracks) >= {"calm", "upbeat", "epic", "playful", "nostalgic", "lofi"}
    raw = json.loads(DEFAULT_TRACKS_PATH.read_text(encoding="utf-8"))
    assert [entry["id"] for entry in raw] == list(tracks)
    total_bytes = 0
    for track in tracks.values():
        assert track.file.is_file(), track.id
        assert track.license == "CC0-1.0, made by CogVideoX Studio"
        assert 30.0 <= track.duration <= 60.0 and 40 <= track.bpm <= 200
        assert audio_format(track.file) == (48000, "stereo")
        raw_pcm = ffmpeg("-i", str(track.file), "-f", "s16le", "-ac", "2", "-")
        samples = np.frombuffer(raw_pcm, dtype="<i2").reshape(-1, 2).astype(np.float64) / 32768
        assert abs(len(samples) / 48000 - track.duration) <= 0.5, track.id
        level_db = 20 * np.log10(rms(samples))
        assert -26.0 < level_db < -14.0, (track.id, level_db)
        assert np.abs(samples).max() < 1.0, track.id
        total_bytes += track.file.stat().st_size
    assert total_bytes < 5_000_000


def test_track_lookup():
    tracks = load_tracks()
    calm = tracks["calm"]
    assert resolve_music("calm") == calm.file
    assert resolve_music(" Calm ") == calm.file
    assert resolve_music("宁静") == calm.file
    assert resolve_music(calm.file) == calm.file
    for nothing in (None, "", "none", "NONE", " none "):
        assert resolve_music(nothing) is None
    assert calm.name == Text("Calm", "宁静")


def test_broken_tracks_json(tmp_path):
    bad = tmp_path / "tracks.json"
    bad.write_text('[{"id": "x"}]', encoding="utf-8")
    with pytest.raises(AudioError) as info:
        load_tracks(bad)
    assert str(bad) in info.value.en and "entry 0" in info.value.en
    with pytest.raises(AudioError):
        load_tracks(tmp_path / "missing.json")
