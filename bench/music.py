"""Benchmark: our whole music step against one plain ffmpeg call doing the least it can.

Clip: 6 s of 720×480 at 8 fps (49 frames of a moving gradient), H.264 like the studio's output.
Music: a 20 s 48 kHz stereo WAV (a song is longer than a clip).

ours  = cogvideo.media.music.add_music: bounded decode, fit (trim), fades, loudness, volume, AAC
        encode, stream-copy mux through moviepy's ffmpeg_merge_video_audio
plain = ffmpeg -i v.mp4 -i a.wav -c:v copy -c:a aac -shortest out.mp4  (no fades, no levels)

Runs alternate so drift in the machine's load hits both equally. The last line is the ratio of
medians (target <= 1.3). A second ratio with a built-in Opus track is printed for context.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogvideo.media.codec import encode_mp4, ffmpeg_exe  # noqa: E402
from cogvideo.media.music import add_music, resolve_music  # noqa: E402


def make_clip(path: Path) -> None:
    # 49 frames = CogVideoX's 6 s at 8 fps; a diagonal gradient sliding 6 px per frame.
    y, x = np.mgrid[0:480, 0:720]
    frames = np.stack([
        np.stack([(x + 6 * t) % 256, (y + 3 * t) % 256, ((x + y) // 4 + 5 * t) % 256], axis=-1)
        for t in range(49)
    ]).astype(np.uint8)
    encode_mp4(frames, 8, path)


def make_wav(path: Path, seconds: float = 20.0, rate: int = 48_000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    pcm = (np.stack([tone, np.roll(tone, 240)], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def plain(video: Path, audio: Path, out: Path) -> None:
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(video), "-i", str(audio),
         "-c:v", "copy", "-c:a", "aac", "-shortest", str(out)],
        check=True,
    )


def compare(video: Path, audio: Path, work: Path, runs: int) -> tuple[float, float]:
    ours_times, plain_times = [], []
    add_music(video, audio, work / "warm.mp4")  # first call pays for imports and disk caches
    plain(video, audio, work / "warm-plain.mp4")
    for i in range(runs):
        began = time.perf_counter()
        add_music(video, audio, work / f"ours-{i}.mp4")
        ours_times.append(time.perf_counter() - began)
        began = time.perf_counter()
        plain(video, audio, work / f"plain-{i}.mp4")
        plain_times.append(time.perf_counter() - began)
    return statistics.median(ours_times), statistics.median(plain_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video, audio = work / "v.mp4", work / "a.wav"
        make_clip(video)
        make_wav(audio)
        track = resolve_music("calm")
        if track is not None:
            ours, base = compare(video, track, work, args.runs)
            print(f"built-in track (Opus): ours {ours * 1000:.0f} ms, plain {base * 1000:.0f} ms, "
                  f"ratio {ours / base:.2f}")
        ours, base = compare(video, audio, work, args.runs)
        print(f"WAV, median of {args.runs}: ours {ours * 1000:.0f} ms, plain {base * 1000:.0f} ms")
        print(f"ratio ours/plain: {ours / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
