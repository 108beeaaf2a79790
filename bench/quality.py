"""Each speed preset's video against Quality's, frame by frame: PSNR and SSIM, same seed and prompt.

Quality runs every block at every step, so it is the reference; a preset that matched it exactly
would show PSNR "identical" and SSIM 1. Frames are compared as the app writes them (uint8 RGB),
before post-processing and encoding. By default it runs the tiny random-weight model on the CPU,
which checks the script but says little about a real model (its video is noise); give `--model`
a variant whose weights are on disk, or a local pipeline folder, to measure a real checkpoint.

    python bench/quality.py                                   # tiny, CPU, about a minute
    python bench/quality.py --model 5b --seeds 1 2 3          # real weights (GPU)
    python bench/quality.py --model /data/CogVideoX-5b-I2V --image first.png
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from cogvideo.media import codec  # noqa: E402
from cogvideo.engine import models  # noqa: E402
from cogvideo.engine import speed  # noqa: E402
from cogvideo.engine.render import Engine, RenderJob  # noqa: E402
from cogvideo.request import VideoRequest  # noqa: E402

PROMPTS = (
    "a boat drifts on a calm lake at sunset, the camera slowly pans along the shore",
    "a little girl runs through a field of flowers on a windy day, close up, soft sunlight",
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two uint8 frames in dB; inf when they are identical."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two uint8 H×W×3 frames, as Wang et al. (2004) define it: Gaussian window 11
    (σ 1.5), K1 0.01, K2 0.03, data range 255, averaged over the pixels whose window fits inside
    the frame and over the channels. The same number as scikit-image's `structural_similarity(a,
    b, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=255)`, without the dependency."""
    w = _gaussian_window()
    channels = a.shape[-1]
    # Separable blur, no padding: only windows that fit inside (scikit-image crops the same border).
    rows = w.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = w.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.conv2d(x, rows, groups=channels)
        return torch.nn.functional.conv2d(x, cols, groups=channels)

    x = torch.from_numpy(a).to(torch.float64).permute(2, 0, 1).unsqueeze(0)
    y = torch.from_numpy(b).to(torch.float64).permute(2, 0, 1).unsqueeze(0)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean().item()


def compare(reference: np.ndarray, video: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-frame PSNR and SSIM of `video` against `reference` (both T×H×W×3 uint8)."""
    return ([psnr(r, v) for r, v in zip(reference, video)], [ssim(r, v) for r, v in zip(reference, video)])


def render(engine: Engine, task: str, preset: str, prompt: str, seed: int, args: argparse.Namespace,
           size: tuple[int, int], image) -> tuple[np.ndarray, float, list[str]]:
    """Frames, seconds, and the English notices (a preset that fell back says so)."""
    height, width = size
    job = RenderJob(task=task, prompt=prompt, negative_prompt="", image=image, num_frames=args.num_frames,
                    num_inference_steps=args.steps, guidance_scale=args.guidance_scale, seed=seed,
                    height=height, width=width, speed=preset)
    notices: list[str] = []
    start = time.perf_counter()
    frames = engine.render(job, on_notice=lambda text: notices.append(text.en))
    return frames, time.perf_counter() - start, notices


def fmt_db(value: float) -> str:
    return "identical" if math.isinf(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny", help="variant name or local pipeline folder")
    parser.add_argument("--speed", nargs="+", default=[p for p in speed.PRESETS if p != "quality"],
                        choices=[p for p in speed.PRESETS if p != "quality"], help="presets to compare with Quality")
    parser.add_argument("--steps", type=int, default=VideoRequest.num_inference_steps)
    parser.add_argument("--guidance-scale", type=float, default=None, help="default: the model's own")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--prompt", nargs="+", default=list(PROMPTS), help="one or more prompts")
    parser.add_argument("--image", help="first frame, for an image-to-video model")
    parser.add_argument("--num-frames", type=int, help="default: the model's native count")
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--offload", default="auto", choices=models.OFFLOAD_MODES)
    args = parser.parse_args()

    engine = Engine(args.model, offload=args.offload)
    variant = next(iter(engine.variants.values()))
    args.num_frames = args.num_frames or variant.num_frames
    args.guidance_scale = variant.guidance_scale if args.guidance_scale is None else args.guidance_scale
    size = (args.height or variant.height, args.width or variant.width)
    image = None
    if variant.task == "i2v":
        if not args.image:
            sys.exit(f"{variant.name} is an image-to-video model: give --image PATH.")
        image = codec.fit_image(codec.load_image(args.image), size[1], size[0])
    print(f"{variant.name} on {engine.device.type}, {size[1]}×{size[0]}, {args.num_frames} frames, "
          f"{args.steps} steps, guidance {args.guidance_scale:g}; {len(args.prompt)} prompt(s) × "
          f"{len(args.seeds)} seed(s)", flush=True)

    # Per preset: per-video means of the per-frame values, then their mean over videos.
    scores: dict[str, dict[str, list[float]]] = {p: {"psnr": [], "psnr_min": [], "ssim": [], "ssim_min": [],
                                                     "time": []} for p in args.speed}
    quality_times: list[float] = []
    fell_back: dict[str, str] = {}
    for prompt in args.prompt:
        for seed in args.seeds:
            reference, seconds, _ = render(engine, variant.task, "quality", prompt, seed, args, size, image)
            quality_times.append(seconds)
            for preset in args.speed:
                video, seconds, notices = render(engine, variant.task, preset, prompt, seed, args, size, image)
                if notices:
                    fell_back[preset] = notices[0]
                frame_psnr, frame_ssim = compare(reference, video)
                s = scores[preset]
                s["psnr"].append(statistics.fmean(frame_psnr))
                s["psnr_min"].append(min(frame_psnr))
                s["ssim"].append(statistics.fmean(frame_ssim))
                s["ssim_min"].append(min(frame_ssim))
                s["time"].append(seconds)
                print(f"{preset:<9} seed {seed}: PSNR {fmt_db(s['psnr'][-1])} dB, SSIM {s['ssim'][-1]:.4f}  "
                      f"({prompt[:40]}…)", flush=True)

    print()
    print("| preset | method | PSNR mean (dB) | PSNR worst frame | SSIM mean | SSIM worst frame | time vs quality |")
    print("|---|---|---|---|---|---|---|")
    base = statistics.median(quality_times)
    for preset, s in scores.items():
        method = speed.PRESETS[preset].method or "none"
        if preset in fell_back:
            method += " (fell back)"
        print(f"| {preset} | {method} | {fmt_db(statistics.fmean(s['psnr']))} | {fmt_db(min(s['psnr_min']))} | "
              f"{statistics.fmean(s['ssim']):.4f} | {min(s['ssim_min']):.4f} | "
              f"{statistics.median(s['time']) / base:.2f} |")
    for preset, why in fell_back.items():
        print(f"note: {preset}: {why}")
    if variant.repo_id is None:
        print("note: random weights: these numbers check the script, not the presets.")


if __name__ == "__main__":
    main()
