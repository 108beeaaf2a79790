"""Our 2× Lanczos upscale path against plain ffmpeg; with --gpu, Real-ESRGAN speed and VRAM.

Every side ends at a 1440×960 H.264 MP4 with the x264 settings encode_mp4 uses (preset medium,
crf 18, yuv420p, +faststart). The clip: 49 frames of 720×480 at 8 fps, a moving gradient and shapes.
Two comparisons, each from one shared starting point:

1. From the same RGB frames (the studio's case: frames come out of the VAE). The ratio on the
   LAST line is this one.
   - ours:  enhance.plan_post(upscale=True) -> codec.encode_mp4(filters=...), frames in memory
   - plain: ffmpeg -f rawvideo -pix_fmt rgb24 -i clip.rgb -vf scale=1440:960:flags=lanczos ...
2. From the same 720×480 MP4 on disk (info):
   - ours:  codec.read_frames(clip.mp4) -> plan_post -> encode_mp4
   - plain: ffmpeg -i clip.mp4 -vf scale=1440:960:flags=lanczos ...
   Ours pays for decoding to RGB in Python, and its yuv -> RGB -> yuv round trip adds rounding
   noise that x264 then spends bits (and time) on: larger files than plain's (sizes are printed).

Runs alternate (all four sides per round) so drifting machine load hits each alike.

    python bench/upscale.py [--repeat 5]        # last line: `ratio ours/plain: X.XX` (target <= 1.3)
    python bench/upscale.py --gpu               # + Real-ESRGAN x2 s/frame and peak VRAM, row in results.md

--gpu builds RealESRGAN_x2plus's architecture (RRDBNet, 23 blocks, 64 filters, pixel-unshuffle)
with random weights (speed and memory do not depend on the values) and runs our Upscaler on it.
Without a GPU that part is skipped with a message.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from cogvideo.media import codec  # noqa: E402
from cogvideo.media.enhance import Upscaler, plan_post  # noqa: E402

RESULTS = Path(__file__).with_name("results.md")
FRAMES, HEIGHT, WIDTH, FPS = 49, 480, 720, 8.0


def make_clip(count: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """uint8 T×H×W×3: a drifting diagonal gradient, a moving disc and a sliding bar."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((count, height, width, 3), np.uint8)
    for t in range(count):
        phase = t / count
        frame = np.stack([
            128 + 100 * np.sin((xx + yy) / 90 + 6.28 * phase),
            128 + 100 * np.sin(yy / 70 - 3.14 * phase),
            128 + 100 * np.cos(xx / 110 + 6.28 * phase),
        ], axis=-1)
        cx, cy = width * (0.1 + 0.8 * phase), height * (0.5 + 0.3 * np.sin(6.28 * phase))
        frame[(xx - cx) ** 2 + (yy - cy) ** 2 < 60**2] = (250, 240, 40)
        top = int(height * phase * 0.8)
        frame[top:top + 40, width // 3: width // 3 + 200] = (20, 30, 200)
        frames[t] = frame.clip(0, 255).astype(np.uint8)
    return frames


def ours_from_file(clip: Path, out: Path) -> None:
    ours_from_frames(codec.read_frames(clip), out)


def ours_from_frames(frames: np.ndarray, out: Path) -> None:
    post = plan_post(frames, FPS, upscale=True, interpolate=False)
    codec.encode_mp4(post.frames, post.fps, out, filters=post.filters)


def plain(source: list[str], out: Path) -> None:
    cmd = [
        codec.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *source,
        "-vf", f"scale={2 * WIDTH}:{2 * HEIGHT}:flags=lanczos",
        "-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-an", str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True)


def timed(fn, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its ffmpeg children): CPU time is the steadier
    number when other work shares the machine."""
    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    start_wall, start_cpu = time.perf_counter(), cpu()
    fn(*args)
    return time.perf_counter() - start_wall, cpu() - start_cpu


def bench_lanczos(repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frames = make_clip()
        clip = codec.encode_mp4(frames, FPS, folder / "clip.mp4")
        raw = folder / "clip.rgb"
        raw.write_bytes(frames.tobytes())
        raw_input = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", f"{FPS:g}", "-i", str(raw)]
        sides = {
            "ours_frames": (ours_from_frames, frames),
            "plain_frames": (plain, raw_input),
            "ours_mp4": (ours_from_file, clip),
            "plain_mp4": (plain, ["-i", str(clip)]),
        }
        sizes: dict[str, float] = {}
        for name, (fn, source) in sides.items():  # check once that every side makes the same video
            out = folder / f"{name}.mp4"
            fn(source, out)
            sizes[name] = out.stat().st_size / 2**20
            info, count = codec.probe(out), len(codec.read_frames(out))
            if (info.width, info.height, count) != (2 * WIDTH, 2 * HEIGHT, FRAMES):
                sys.exit(f"{name}: {info.width}×{info.height}, {count} frames; expected 1440×960, {FRAMES}")
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for _ in range(repeat):
            for name, (fn, source) in sides.items():
                times[name].append(timed(fn, source, folder / f"{name}.mp4"))
    med = {name: statistics.median(wall for wall, _ in values) for name, values in times.items()}
    cpu = {name: statistics.median(used for _, used in values) for name, values in times.items()}
    print(f"clip: {FRAMES} frames {WIDTH}×{HEIGHT} @ {FPS:g} fps -> {2 * WIDTH}×{2 * HEIGHT}, {repeat} runs each, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"from the same MP4 (info):   ours {med['ours_mp4']:.2f} s ({sizes['ours_mp4']:.2f} MiB), "
          f"plain {med['plain_mp4']:.2f} s ({sizes['plain_mp4']:.2f} MiB), ratio {med['ours_mp4'] / med['plain_mp4']:.2f}")
    print(f"from the same RGB frames:   ours {med['ours_frames']:.2f} s ({sizes['ours_frames']:.2f} MiB), "
          f"plain {med['plain_frames']:.2f} s ({sizes['plain_frames']:.2f} MiB)")
    print(f"CPU seconds (median):       ours {cpu['ours_frames']:.2f}, plain {cpu['plain_frames']:.2f}, "
          f"ratio {cpu['ours_frames'] / cpu['plain_frames']:.2f} (from frames; wall-clock ratio below)")
    return med["ours_frames"] / med["plain_frames"]


def save_random_x2plus(path: Path, blocks: int = 23, filters: int = 64) -> Path:
    """RealESRGAN_x2plus's architecture with random weights (speed and memory do not depend on the
    values): pixel-unshuffle by 2 (12 input channels), then the x4 RRDBNet -> 2x overall. Fewer
    blocks and filters make a small one for CPU checks."""
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)
    torch.save(ESRGAN(in_nc=12, out_nc=3, num_filters=filters, num_blocks=blocks, scale=4,
                      shuffle_factor=2).state_dict(), path)
    return path


def bench_gpu(frames_to_time: int, write: bool) -> None:
    import torch

    if not torch.cuda.is_available():
        print("--gpu: no CUDA GPU here, skipping the Real-ESRGAN timing.")
        return
    card = torch.cuda.get_device_name(0)
    frames = make_clip(frames_to_time + 2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        weights = save_random_x2plus(Path(tmp) / "RealESRGAN_x2plus_random.pth")
        for tile in (256, 0):
            upscaler = Upscaler(weights=weights, device="cuda", tile=tile)
            upscaler.upscale(frames[:2])  # warm-up: load, cuDNN autotuning
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            out = upscaler.upscale(frames[2:])
            torch.cuda.synchronize()
            per_frame = (time.perf_counter() - start) / frames_to_time
            peak = torch.cuda.max_memory_allocated() / 2**30
            if out.shape[1:3] != (2 * HEIGHT, 2 * WIDTH):
                sys.exit(f"unexpected output size {out.shape}")
            rows.append((tile, per_frame, peak))
            print(f"Real-ESRGAN x2 (fp16, tile {tile or 'none'}) on {card}: {per_frame:.3f} s/frame, "
                  f"{FRAMES * per_frame:.1f} s per {FRAMES}-frame clip, peak VRAM {peak:.2f} GiB")
            del upscaler
            torch.cuda.empty_cache()
    if write:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\n")
        lines = ["", f"## bench/upscale.py --gpu, {dt.date.today().isoformat()}, {card}", "",
                 f"Real-ESRGAN x2plus architecture (random weights), {WIDTH}×{HEIGHT} -> {2 * WIDTH}×{2 * HEIGHT}, fp16.",
                 "", "| tile | s/frame | s per 49 frames | peak VRAM (GiB) |", "|---|---|---|---|"]
        lines += [f"| {tile or 'whole frame'} | {pf:.3f} | {FRAMES * pf:.1f} | {pk:.2f} |" for tile, pf, pk in rows]
        with RESULTS.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        print(f"appended to {RESULTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each side (alternating)")
    parser.add_argument("--gpu", action="store_true", help="also time Real-ESRGAN on a CUDA GPU")
    parser.add_argument("--gpu-frames", type=int, default=10, help="frames to time on the GPU")
    parser.add_argument("--no-write", action="store_true", help="with --gpu: do not append to results.md")
    args = parser.parse_args()
    if args.gpu:
        bench_gpu(args.gpu_frames, write=not args.no_write)
    ratio = bench_lanczos(args.repeat)
    print(f"ratio ours/plain: {ratio:.2f}")


if __name__ == "__main__":
    main()
