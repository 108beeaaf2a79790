"""Benchmark: our GIF export against the one ffmpeg command a person would type.

Clip: 49 frames of 720×480 at 8 fps, like CogVideoX output: a soft sunset sky with film grain over
a textured ground panning 6 px a frame, and a shaded ball crossing it; H.264 from `encode_mp4`.
Second row: the same clip upscaled to 1440×960 (the studio's 2× Lanczos output), GIF 480 wide.

ours  = cogvideo.media.gif.export_gif(clip, out, width=480): 8 fps (the clip's own rate), Lanczos,
        palette from a sample (every 2nd frame, half size), Bayer dithering (scale 3)
plain = ffmpeg -i in.mp4 -vf "fps=10,scale=480:-1:flags=lanczos,split[a][b];[a]palettegen[p];
        [b][p]paletteuse" out.gif
plain at 8 fps (info) = the same command with fps=8: as many frames as ours, so the difference
        is our palette sample and dithering alone

Runs alternate (every side once per round) so drift in the machine's load hits each alike; the
first round is a warm-up and not counted. Sizes are of the GIFs; "error" is the mean absolute
difference from the video's own frames (0-255, all pixels, every 4th frame, Lanczos-resized to the
GIF's size), for the sides with the video's frame times. --worst-case adds a clip of smooth
full-colour gradients (every pixel a different colour: millions of colours), where palettegen's
cost explodes.

    python bench/gif.py [--runs 7] [--worst-case]   # last line: `ratio ours/plain: X.XX` (target <= 1.2)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageSequence  # noqa: E402

from cogvideo.media import codec  # noqa: E402
from cogvideo.media.gif import export_gif  # noqa: E402

FRAMES, HEIGHT, WIDTH, FPS = 49, 480, 720, 8
GIF_WIDTH = 480


def make_clip(count: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """uint8 T×H×W×3: sky gradient with grain (top), panning texture (bottom), a moving ball."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    top, mid, field = (np.array(c, np.float32) for c in ((40, 70, 150), (230, 140, 90), (95, 120, 55)))
    # A field: brightness from noise at two scales (cubic-upscaled), wider than the frame for the pan.
    span = width + 6 * count
    texture = np.zeros((height, span), np.float32)
    for cell, weight in ((16, 0.6), (4, 0.4)):
        coarse = rng.random((height // cell + 1, span // cell + 1)).astype(np.float32)
        fine = Image.fromarray(coarse).resize((coarse.shape[1] * cell, coarse.shape[0] * cell), Image.Resampling.BICUBIC)
        texture += weight * np.asarray(fine, np.float32)[:height, :span]
    frames = np.empty((count, height, width, 3), np.uint8)
    for t in range(count):
        y = yy / height
        sky = np.where((y < 0.6)[..., None], top + (mid - top) * (y / 0.6)[..., None], mid)
        ground = field * (0.5 + texture[:, 6 * t:6 * t + width, None])
        frame = np.where((y < 0.6)[..., None], sky, ground)
        cx, cy = width * (0.15 + 0.7 * t / count), height * (0.5 + 0.15 * np.sin(6.28 * t / count))
        dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        ball = dist < 60
        shade = (1.0 - 0.5 * np.clip(dist / 60, 0, 1))[..., None]
        frame = np.where(ball[..., None], np.array([240, 180, 60], np.float32) * shade, frame)
        frame += rng.normal(0, 2.0, (height, width, 1))  # grain, as generated video has
        frames[t] = frame.clip(0, 255).astype(np.uint8)
    return frames


def make_gradients(count: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """uint8 T×H×W×3: three drifting sinusoids, one a channel (worst case for palettegen)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((count, height, width, 3), np.uint8)
    for t in range(count):
        phase = t / count
        frames[t] = np.stack([
            128 + 100 * np.sin((xx + yy) / 90 + 6.28 * phase),
            128 + 100 * np.sin(yy / 70 - 3.14 * phase),
            128 + 100 * np.cos(xx / 110 + 6.28 * phase),
        ], axis=-1).clip(0, 255).astype(np.uint8)
    return frames


def ours(clip: Path, out: Path) -> None:
    export_gif(clip, out, width=GIF_WIDTH)


def plain(clip: Path, out: Path, fps: int = 10) -> None:
    graph = f"fps={fps},scale={GIF_WIDTH}:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse"
    subprocess.run([codec.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-vf", graph,
                    str(out)], check=True, capture_output=True)


def plain_8fps(clip: Path, out: Path) -> None:
    plain(clip, out, fps=FPS)


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its ffmpeg children)."""
    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    start_wall, start_cpu = time.perf_counter(), cpu()
    fn(*args)
    return time.perf_counter() - start_wall, cpu() - start_cpu


def colour_error(gif: Path, source: np.ndarray) -> float:
    with Image.open(gif) as image:
        frames = [np.asarray(frame.convert("RGB"), np.float32) for frame in ImageSequence.Iterator(image)]
    if len(frames) != len(source):
        sys.exit(f"{gif.name}: {len(frames)} frames, expected {len(source)}")
    height, width = frames[0].shape[:2]
    errors = []
    for i in range(0, len(frames), 4):
        reference = Image.fromarray(source[i]).resize((width, height), Image.Resampling.LANCZOS)
        errors.append(np.abs(frames[i] - np.asarray(reference, np.float32)).mean())
    return float(np.mean(errors))


def compare(name: str, clip: Path, folder: Path, runs: int) -> dict[str, float]:
    sides = {"ours": ours, "plain": plain, "plain_8fps": plain_8fps}
    times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    for round_ in range(runs + 1):
        for side, fn in sides.items():
            spent = timed(fn, clip, folder / f"{side}.gif")
            if round_:  # round 0 warms the disk cache and imports
                times[side].append(spent)
    source = codec.read_frames(clip)
    row = {f"{side}_s": statistics.median(wall for wall, _ in values) for side, values in times.items()}
    row |= {f"{side}_cpu": statistics.median(used for _, used in values) for side, values in times.items()}
    row |= {f"{side}_mib": (folder / f"{side}.gif").stat().st_size / 2**20 for side in sides}
    row |= {f"{side}_error": colour_error(folder / f"{side}.gif", source) for side in ("ours", "plain_8fps")}
    print(f"| {name} | {row['ours_s']:.2f} ({row['ours_cpu']:.2f}) | {row['plain_s']:.2f} ({row['plain_cpu']:.2f}) "
          f"| {row['plain_8fps_s']:.2f} ({row['plain_8fps_cpu']:.2f}) "
          f"| {row['ours_mib']:.2f} | {row['plain_mib']:.2f} | {row['plain_8fps_mib']:.2f} "
          f"| {row['ours_error']:.2f} | {row['plain_8fps_error']:.2f} "
          f"| {row['ours_s'] / row['plain_s']:.2f} | {row['ours_s'] / row['plain_8fps_s']:.2f} |", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=7, help="timed runs of each side (alternating)")
    parser.add_argument("--worst-case", action="store_true", help="add the full-colour gradient clip")
    args = parser.parse_args()
    print(f"{args.runs} runs each, medians; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"GIFs {GIF_WIDTH} wide; seconds wall (CPU)")
    print("| clip | ours s | plain s | plain at 8 fps s | ours MiB | plain MiB | plain at 8 fps MiB "
          "| ours error | plain at 8 fps error | ours/plain | ours/plain at 8 fps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = make_clip()
        clip = codec.encode_mp4(frames, FPS, folder / "clip.mp4")
        main_row = compare(f"{WIDTH}×{HEIGHT}, {FRAMES} frames", clip, folder, args.runs)
        big = codec.encode_mp4(frames, FPS, folder / "big.mp4", filters=[f"scale={2 * WIDTH}:{2 * HEIGHT}:flags=lanczos"])
        compare(f"{2 * WIDTH}×{2 * HEIGHT} (2× Lanczos)", big, folder, args.runs)
        if args.worst_case:
            gradients = codec.encode_mp4(make_gradients(), FPS, folder / "gradients.mp4")
            compare(f"{WIDTH}×{HEIGHT} full-colour gradients", gradients, folder, args.runs)
    print(f"CPU ratio ours/plain: {main_row['ours_cpu'] / main_row['plain_cpu']:.2f}")
    print(f"ratio ours/plain: {main_row['ours_s'] / main_row['plain_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
