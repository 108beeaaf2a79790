"""Post-processing after the render: 2× upscaling ("1440p") and 2× frame interpolation.

`plan_post` decides, per request, what happens to the rendered frames before the single encode:

- upscale on an accelerator with Real-ESRGAN weights at hand: the model upscales the frames here;
- upscale anywhere else (CPU, or no weights): a Lanczos `scale` filter, applied by ffmpeg in the
  same pass that encodes the MP4 (no extra encode generation, ~3 s for 49 frames at 720×480);
- interpolate: ffmpeg `minterpolate` (motion-compensated), before the scale, at the cheap size.

Real-ESRGAN on CPU takes ~26 s per 720×480 frame (RRDBNet x2), so it is never picked on CPU
automatically.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from cogvideo.engine.weights import SpandrelModel, load_descriptor
from bilingual import Text
from cogvideo.errors import InvalidRequest, ModelFileError
from cogvideo.media import codec

# 2× of CogVideoX 1.5's largest native size (1360×768): the biggest video we will write.
MAX_OUTPUT_PIXELS = 2720 * 1536
TILE_OVERLAP = 16  # pixels of context on each side of a tile, cropped away after the model
# minterpolate's motion search needs frames of at least 32×32; smaller ones get a cross-fade.
MIN_MCI_SIDE = 32

ProgressFn = Callable[[int, int], None]  # progress(done_frames, total_frames)


@dataclass(frozen=True)
class VideoPost:
    """What to hand to `codec.encode_mp4(frames, fps, path, filters=filters)`."""

    frames: np.ndarray  # uint8 T×H×W×3, possibly already upscaled/interpolated
    fps: float  # the rate of `frames` (the encoder's input rate)
    filters: tuple[str, ...]  # ffmpeg video filters for the encode pass, in order
    upscale_method: str | None  # "realesrgan" | "lanczos" | None
    output_fps: float  # the encoded video's rate (2× fps when interpolating)
    output_size: tuple[int, int]  # the encoded video's (width, height)


# ---------------------------------------------------------------- interpolation

def interpolation_filters(count: int, fps: float, width: int, height: int) -> list[str]:
    """ffmpeg filters that turn `count` frames at `fps` into exactly 2·count frames at 2·fps.

    minterpolate only emits frames strictly between its first and second-to-last input (49 frames
    -> 95, losing the last source frame and ~0.19 s). Two cloned frames at the end (tpad) make it
    cover the whole clip, and trim cuts the one frame too many: 49 frames at 8 fps (6.125 s) ->
    98 frames at 16 fps (6.125 s), the last source frame included.
    """
    # mci: motion-compensated interpolation; aobmc + vsbmc: overlapped, variable-size blocks (fewer
    # block edges); bidir: search both neighbours. Scene-change detection stays on (default), so
    # a cut is not morphed.
    mode = "mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1" if min(width, height) >= MIN_MCI_SIDE else "blend"
    return [
        "tpad=stop_mode=clone:stop=2",
        f"minterpolate=fps={2 * fps:g}:mi_mode={mode}",
        f"trim=end_frame={2 * count}",
    ]


def interpolate_frames(frames: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
    """2× frame rate as frames (rawvideo through ffmpeg, no encode): (2T×H×W×3, 2·fps).

    Used before a model upscale, where interpolating the small frames is ~4× cheaper than the
    upscaled ones.
    """
    count, height, width, _ = frames.shape
    chain = interpolation_filters(count, fps, width, height)
    cmd = [
        codec.ffmpeg_exe(), "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
        "-vf", ",".join(chain), "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    frame_bytes = height * width * 3
    if proc.returncode != 0 or len(proc.stdout) != 2 * count * frame_bytes:
        raise RuntimeError(
            f"ffmpeg frame interpolation failed ({len(proc.stdout) // frame_bytes} of {2 * count} frames): "
            f"{proc.stderr.decode(errors='replace')[-600:]}"
        )
    return np.frombuffer(proc.stdout, np.uint8).reshape(2 * count, height, width, 3), 2 * fps


# ---------------------------------------------------------------- Real-ESRGAN

class Upscaler(SpandrelModel):
    """Real-ESRGAN (or any spandrel super-resolution model: RRDBNet x2/x4, Compact) for 2× video.

    `weights`: a local .pth/.safetensors file; None -> env UPSCALE_WEIGHTS, else the Hub
    (env UPSCALE_REPO / UPSCALE_FILE, defaults `repo` / `file`).
    `tile`: frames are processed in tiles of at most tile×tile input pixels (plus `TILE_OVERLAP`
    context) to bound accelerator memory; 0 processes whole frames.
    Loaded lazily and kept; one `upscale` at a time.
    """

    repo = "2kpr/Real-ESRGAN"  # a Hub mirror of xinntao's release files, BSD-3-Clause
    file = "RealESRGAN_x2plus.pth"  # RRDBNet x2, 67 MB
    env_prefix = "UPSCALE"
    name = "Real-ESRGAN"
    what = Text("Real-ESRGAN upscaler", "Real-ESRGAN 超分模型")
    fallback = Text("Meanwhile videos are upscaled with Lanczos instead.", "在此之前，视频将改用 Lanczos 放大。")
    feature = Text("Upscaling", "超分辨率放大")

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", tile: int = 256) -> None:
        if tile < 0 or 0 < tile < 32:
            raise InvalidRequest(f"tile must be 0 (whole frames) or at least 32 pixels, got {tile!r}")
        super().__init__(weights, device)
        self.tile = int(tile)
        self._dtype = None  # torch dtype of the loaded model

    def _load_descriptor(self):
        import torch

        path = self.weights_path()
        descriptor = load_descriptor(path, self.device, self.name)
        if (
            descriptor.purpose != "SR"
            or descriptor.scale < 2
            or descriptor.input_channels != 3
            or descriptor.output_channels != 3
        ):
            raise ModelFileError(
                f"{path} is a {descriptor.architecture.name} model ({descriptor.purpose}, "
                f"{descriptor.scale}×), not an RGB super-resolution model. Point UPSCALE_WEIGHTS to "
                f"a Real-ESRGAN file such as {self.file}.",
                f"{path} 是 {descriptor.architecture.name} 模型（{descriptor.purpose}，{descriptor.scale}×），"
                f"不是 RGB 超分模型。请将 UPSCALE_WEIGHTS 指向 Real-ESRGAN 权重（例如 {self.file}）。",
            )
        descriptor.eval()
        # Half precision halves VRAM and time on GPUs; CPU kernels for fp16 are slow or missing.
        self._dtype = torch.float16 if self.device != "cpu" and descriptor.supports_half else torch.float32
        descriptor.to(self._dtype)
        return descriptor

    def _model(self):
        """The loaded spandrel descriptor (call with the lock held)."""
        return self._loaded()

    @property
    def scale(self) -> int:
        """The model's native factor (2 or 4); its output is always resized to exactly 2×."""
        with self._lock:
            return int(self._model().scale)

    def upscale(self, frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        """uint8 T×H×W×3 -> uint8 T×2H×2W×3 (x4 models are resized down to exactly 2×)."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 T×H×W×3, got {frames.dtype} {frames.shape}")
        count, height, width, _ = frames.shape
        out = np.empty((count, 2 * height, 2 * width, 3), np.uint8)
        with self._lock:
            descriptor = self._model()
            device = torch.device(self.device)
            with torch.inference_mode():
                for index in range(count):
                    # 1×3×H×W in [0, 1], the layout and range spandrel models take (copied: the
                    # frames may be a read-only view of ffmpeg's output).
                    x = torch.from_numpy(frames[index].copy()).to(device).permute(2, 0, 1)[None]
                    y = self._tiled(descriptor, x.to(self._dtype) / 255.0)
                    if y.shape[-2:] != (2 * height, 2 * width):
                        y = F.interpolate(
                            y.float(), size=(2 * height, 2 * width), mode="bicubic", antialias=True, align_corners=False
                        )
                    y = (y.float().clamp_(0.0, 1.0) * 255.0).round_().to(torch.uint8)
                    out[index] = y[0].permute(1, 2, 0).cpu().numpy()
                    if progress is not None:
                        progress(index + 1, count)
        return out

    def _tiled(self, descriptor, x):
        """Run the model tile by tile; each tile sees TILE_OVERLAP extra pixels of context on each
        side, cropped from its output, so tile seams do not show. x: 1×3×H×W -> 1×3×sH×sW."""
        _, _, height, width = x.shape
        tile, scale = self.tile, int(descriptor.scale)
        if tile == 0 or (height <= tile and width <= tile):
            return descriptor(x)
        out = x.new_empty((1, 3, height * scale, width * scale))
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                bottom, right = min(top + tile, height), min(left + tile, width)
                y0, x0 = max(top - TILE_OVERLAP, 0), max(left - TILE_OVERLAP, 0)
                y1, x1 = min(bottom + TILE_OVERLAP, height), min(right + TILE_OVERLAP, width)
                piece = descriptor(x[..., y0:y1, x0:x1])
                out[..., top * scale:bottom * scale, left * scale:right * scale] = piece[
                    ...,
                    (top - y0) * scale:(bottom - y0) * scale,
                    (left - x0) * scale:(right - x0) * scale,
                ]
        return out


# ---------------------------------------------------------------- the plan

def plan_post(
    frames: np.ndarray,
    fps: float,
    *,
    upscale: bool,
    interpolate: bool,
    upscaler: Upscaler | None = None,
    progress: ProgressFn | None = None,
    method: Literal["auto", "realesrgan", "lanczos"] = "auto",
) -> VideoPost:
    """Decide and do the post-processing of rendered frames (uint8 T×H×W×3 at `fps`).

    `method="auto"` upscales with `upscaler` only on an accelerator with its weights available
    without a download, else with Lanczos; "realesrgan" forces the model (any device, downloading
    if needed), "lanczos" forces ffmpeg. `progress(done, total)` follows model upscaling.
    Raises `InvalidRequest` when the output would exceed MAX_OUTPUT_PIXELS.
    """
    # 1. Check inputs.
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InvalidRequest(f"frames must be non-empty uint8 T×H×W×3, got {frames.dtype} {frames.shape}")
    if not fps > 0:
        raise InvalidRequest(f"fps must be positive, got {fps!r}")
    if method not in ("auto", "realesrgan", "lanczos"):
        raise InvalidRequest(f"method must be 'auto', 'realesrgan' or 'lanczos', got {method!r}")
    if method == "realesrgan" and upscale and upscaler is None:
        raise InvalidRequest("method='realesrgan' needs an Upscaler")
    count, height, width, _ = frames.shape
    out_w, out_h = (2 * width, 2 * height) if upscale else (width, height)
    if out_w * out_h > MAX_OUTPUT_PIXELS:
        raise InvalidRequest(
            f"The output would be {out_w}×{out_h} ({out_w * out_h:,} pixels), above the maximum of "
            f"{MAX_OUTPUT_PIXELS:,} pixels (2720×1536). Turn off upscaling or use a smaller size.",
            f"输出将为 {out_w}×{out_h}（{out_w * out_h:,} 像素），超过上限 {MAX_OUTPUT_PIXELS:,} 像素"
            "（2720×1536）。请关闭超分或使用更小的尺寸。",
        )
    out_fps = 2 * fps if interpolate else fps

    # 2. Model upscaling: interpolate the small frames first, then upscale them all.
    use_model = upscale and upscaler is not None and (
        method == "realesrgan"
        or (method == "auto" and upscaler.device != "cpu" and upscaler.available())
    )
    if use_model:
        if interpolate:
            frames, fps = interpolate_frames(frames, fps)
        frames = upscaler.upscale(frames, progress=progress)
        return VideoPost(frames, fps, (), "realesrgan", out_fps, (out_w, out_h))

    # 3. Everything else happens inside the encode: interpolation first, at the small size.
    filters: list[str] = []
    if interpolate:
        filters += interpolation_filters(count, fps, width, height)
    if upscale:
        # format=yuv420p right after the scale lets one swscale pass both scale and convert to the
        # encoder's format (otherwise a second pass converts the 2× RGB frames: ~6% slower).
        filters += [f"scale={out_w}:{out_h}:flags=lanczos", "format=yuv420p"]
    return VideoPost(frames, fps, tuple(filters), "lanczos" if upscale else None, out_fps, (out_w, out_h))
