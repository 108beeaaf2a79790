"""Image intake for image-to-video, and MP4 encoding through the ffmpeg that imageio-ffmpeg ships.

Images are fitted to the model's size by *center crop* (cover), not padding: CogVideoX animates
padding bars as part of the scene, while a crop keeps the subject and loses only edges.
"""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DiskFull, ImageError, VideoError

MIN_IMAGE_SIDE = 64
# Decoding is bounded: JPEGs are decoded at a reduced scale (draft), and anything still above
# this many pixels is refused before its pixels are read.
MAX_IMAGE_PIXELS = 120_000_000
# Images are reduced to at most this side before colour conversion and fitting (memory bound).
WORKING_SIDE = 4096

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------- images

def load_image(source: str | Path | Image.Image) -> Image.Image:
    """Open an uploaded image as RGB with EXIF orientation applied, bounded in memory."""
    if isinstance(source, Image.Image):
        image = source
    elif not Path(str(source)).is_file():
        raise ImageError(
            f"Picture file not found: {Path(str(source)).name}. Check the path, or upload it again.",
            f"找不到图片文件：{Path(str(source)).name}。请检查路径，或重新上传。",
        )
    else:
        try:
            image = Image.open(source)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ImageError(
                f"This file is not an image we can read ({Path(str(source)).name}). "
                "Upload a JPEG, PNG or WebP picture.",
                f"无法读取此文件（{Path(str(source)).name}），它不是图片。请上传 JPEG、PNG 或 WebP 图片。",
            ) from exc
        except Image.DecompressionBombError as exc:
            raise _too_large() from exc
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise _too_large()
    try:
        if image.format == "JPEG" and max(image.size) > WORKING_SIDE:
            image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            "The image file is damaged or incomplete (it may have been cut off while uploading). "
            "Save it again or choose another picture.",
            "图片文件已损坏或不完整（可能上传时被截断）。请重新保存后上传，或换一张图片。",
        ) from exc
    if min(image.size) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"The image is {image.width}×{image.height} pixels; it must be at least "
            f"{MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE}. Use a larger picture.",
            f"图片只有 {image.width}×{image.height} 像素，至少需要 {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE}。"
            "请换一张更大的图片。",
        )
    if max(image.size) > WORKING_SIDE:
        image.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return to_rgb(image)


def _too_large() -> ImageError:
    return ImageError(
        f"The image is too large (over {MAX_IMAGE_PIXELS // 1_000_000} megapixels). "
        "Downscale it before uploading.",
        f"图片太大（超过 {MAX_IMAGE_PIXELS // 1_000_000} 百万像素）。请先缩小后再上传。",
    )


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparency is flattened onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # PIL's own convert clips 16-bit and float data to 255 (a white image): rescale instead.
        data = np.asarray(image, dtype=np.float64)
        lo, hi = float(data.min()), float(data.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        data = ((data - lo) * scale).clip(0, 255).astype(np.uint8)
        return Image.fromarray(data).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width×height, then center-crop: the aspect ratio is preserved."""
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5))


# ---------------------------------------------------------------- video

def save_cover(frame: np.ndarray, out_path: str | Path, width: int = 480) -> Path:
    """The first frame (uint8 H×W×3) as a JPEG at most `width` wide: the cover galleries show."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    out_path = Path(out_path)
    image.save(out_path, "JPEG", quality=85)
    return out_path


def unique_video_path(output_dir: str | Path, suffix: str = ".mp4") -> Path:
    """A fresh file name per job, so concurrent users never overwrite each other's videos."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return folder / f"{stamp}-{uuid.uuid4().hex[:10]}{suffix}"


def encode_mp4(
    frames: np.ndarray,
    fps: float,
    out_path: str | Path,
    filters: list[str] | tuple[str, ...] = (),
    crf: int = 18,
) -> Path:
    """Encode uint8 frames (T×H×W×3) as H.264 yuv420p MP4 with +faststart.

    `filters` are ffmpeg video filters (e.g. interpolation, Lanczos scaling) applied in the same
    ffmpeg pass, so post-processing costs no extra encode generation.
    """
    frames = np.ascontiguousarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 T×H×W×3, got {frames.dtype} {frames.shape}")
    count, height, width, _ = frames.shape
    out_path = Path(out_path)
    chain = list(filters)
    # yuv420p needs even sides; pad by one pixel rather than fail on odd sizes.
    chain.append("pad=ceil(iw/2)*2:ceil(ih/2)*2")
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
        "-i", "-",
        "-vf", ",".join(chain),
        "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-an", str(out_path),
    ]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
    if proc.returncode != 0:
        out_path.unlink(missing_ok=True)
        if b"No space left" in proc.stderr:
            raise DiskFull(out_path.parent)
        raise RuntimeError(f"ffmpeg failed to encode {out_path.name}: {proc.stderr.decode(errors='replace')[-800:]}")
    return out_path


@dataclass(frozen=True)
class VideoInfo:
    """What `ffmpeg -i` says of a file (imageio-ffmpeg ships no ffprobe)."""

    duration: float
    width: int
    height: int
    fps: float
    video_codec: str | None
    audio_codec: str | None
    video_streams: int
    audio_streams: int


def probe(path: str | Path) -> VideoInfo:
    """Read a media file's streams from ffmpeg's banner; raise `VideoError` if it is not a video."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"Video file not found: {path.name}", f"找不到视频文件：{path.name}")
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, errors="replace"
    )
    text = proc.stderr
    video = re.findall(r"Stream #\S+.*?: Video: (\w+).*?(\d{2,5})x(\d{2,5})", text)
    audio = re.findall(r"Stream #\S+.*?: Audio: (\w+)", text)
    if not video:
        raise VideoError(
            f"{path.name} is not a video we can read. Use an MP4 made by this studio.",
            f"{path.name} 不是可读取的视频。请使用本工具生成的 MP4。",
        )
    fps_match = re.search(r"([\d.]+) fps", text)
    dur_match = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    duration = 0.0
    if dur_match:
        h, m, s = dur_match.groups()
        duration = int(h) * 3600 + int(m) * 60 + float(s)
    return VideoInfo(
        duration=duration,
        width=int(video[0][1]),
        height=int(video[0][2]),
        fps=float(fps_match.group(1)) if fps_match else 0.0,
        video_codec=video[0][0],
        audio_codec=audio[0] if audio else None,
        video_streams=len(video),
        audio_streams=len(audio),
    )


def read_frames(path: str | Path) -> np.ndarray:
    """Decode a video into uint8 T×H×W×3 (for tests and re-processing small clips)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(height, width, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)
