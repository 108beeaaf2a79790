"""Image intake for image-to-video, and MP4 encoding through the ffmpeg that imageio-ffmpeg ships.

Images are fitted to the model's size by *center crop* (cover), not padding: CogVideoX animates
padding bars as part of the scene, while a crop keeps the subject and loses only edges.

Pictures are decoded *reduced*, never whole when they are large: Pillow holds 4 bytes a pixel, so
a 466 KB flat-colour PNG of 120 megapixels costs 480 MB decoded, and the old path (decode, EXIF
copy, thumbnail) peaked at ~0.9 GB for one picture. JPEGs are decoded at 1/2..1/8 scale (libjpeg's
DCT scaling, `Image.draft`); 8-bit PNGs a strip of rows at a time, each strip box-reduced as soon as
it is decoded; other formats are decoded whole only up to `MAX_WHOLE_DECODE_PIXELS`. Large decodes
wait for one of `MAX_CONCURRENT_DECODES` slots, so many uploads at once cost what two do.

Everything written goes to a temporary name first (`*.part.*`) and is renamed when complete, so a
crash leaves no half-written file under a finished name; `sweep_leftovers` removes what a crash did
leave.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import struct
import subprocess
import threading
import time
import uuid
import zlib
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cogvideo.errors import DiskFull, ImageError, VideoError
from cogvideo.media.demux import VIDEO_DEMUXERS, input_args

MIN_IMAGE_SIDE = 64
# The largest picture accepted at all, read from the file's header before any pixel is decoded.
# JPEGs and 8-bit PNGs are decoded reduced, so this bounds decoding time, not memory.
MAX_IMAGE_PIXELS = 120_000_000
# Formats that can only be decoded whole (WebP, TIFF, BMP, GIF, 16-bit or interlaced PNG, and
# progressive JPEG, whose decoder keeps every DCT coefficient: 3-6 bytes a pixel) are refused
# above this: one such decode holds at most ~160-240 MB.
MAX_WHOLE_DECODE_PIXELS = 40_000_000
# Pictures come out at most this long on their long side: the largest model input is 1360 px
# (CogVideoX 1.5), and the center crop to the model's size needs a little more.
WORKING_SIDE = 2048
# Decodes of pictures above LARGE_IMAGE_PIXELS wait for one of MAX_CONCURRENT_DECODES slots
# (one semaphore for every path that opens user pictures: image-to-video, old photo, prompt agent,
# API). Smaller pictures (< 16 MB decoded) do not wait.
LARGE_IMAGE_PIXELS = 4_000_000
MAX_CONCURRENT_DECODES = 2
# A large PNG is decoded this many bytes of rows at a time (before reduction).
PNG_STRIP_BYTES = 4 << 20

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS

_DECODE_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_DECODES)
# EXIF orientation -> the transpose that shows the picture upright (as ImageOps.exif_transpose).
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Modes Pillow's Lanczos resize works in; others are converted first.
_RESAMPLE_MODES = ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F", "I;16", "I;16B", "I;16L")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------- images

def load_image(source: str | Path | Image.Image) -> Image.Image:
    """Open an uploaded image as RGB with EXIF orientation applied, at most WORKING_SIDE long.

    Always returns a new image (a PIL image passed in is never changed). Memory is bounded: see
    the module docstring.
    """
    # 1. Open: the header only, no pixels yet.
    if isinstance(source, Image.Image):
        image, path = source, None
    else:
        path = Path(str(source))
        image = _open(path)
    try:
        # 2. Refuse what is too large or too small by the header's size.
        _check_size(image.size)
        # 3. Decode reduced, large pictures one slot at a time.
        large = image.width * image.height > LARGE_IMAGE_PIXELS
        with _DECODE_SLOTS if large else nullcontext():
            result = _decode_to_rgb(image, path)
            if path is not None:
                image.close()  # frees the decoded pixels now, inside the slot, not at garbage collection
    finally:
        if path is not None:
            image.close()
    if large:
        _return_freed_memory()
    return result


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise ImageError(
            f"Picture file not found: {path.name}. Check the path, or upload it again.",
            f"找不到图片文件：{path.name}。请检查路径，或重新上传。",
        )
    try:
        return Image.open(path)
    except Image.DecompressionBombError as exc:
        # Pillow refuses at twice its limit before we see the size; its message has the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else None
        raise ImageError(*_too_large_text(None, MAX_IMAGE_PIXELS, pixels=pixels)) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(
            f"This file is not an image we can read ({path.name}). "
            "Upload a JPEG, PNG or WebP picture.",
            f"无法读取此文件（{path.name}），它不是图片。请上传 JPEG、PNG 或 WebP 图片。",
        ) from exc


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(*_too_large_text(size, MAX_IMAGE_PIXELS))
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageError(
            f"The image is {width}×{height} pixels; it must be at least "
            f"{MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE}. Use a larger picture.",
            f"图片只有 {width}×{height} 像素，至少需要 {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE}。"
            "请换一张更大的图片。",
        )


def _decode_to_rgb(image: Image.Image, path: Path | None) -> Image.Image:
    try:
        reduced, orientation = _decode_reduced(image, path)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, zlib.error, struct.error, EOFError) as exc:
        raise ImageError(
            "The image file is damaged or incomplete (it may have been cut off while uploading). "
            "Save it again or choose another picture.",
            "图片文件已损坏或不完整（可能上传时被截断）。请重新保存后上传，或换一张图片。",
        ) from exc
    if orientation in _ORIENTATION:
        reduced = reduced.transpose(_ORIENTATION[orientation])
    result = to_rgb(reduced)
    # A new image every time: the caller's is never shared, and a file's is closed after this.
    return result.copy() if result is image else result


def _return_freed_memory() -> None:
    """Give freed heap pages back to the system. glibc keeps them in per-thread arenas: with whole
    decodes, four large pictures on long-lived worker threads (Gradio's) left ~0.9 GB resident
    after the images were gone. A no-op where the C library is not glibc."""
    global _LIBC
    if _LIBC is None:
        import ctypes
        import ctypes.util
        import platform

        _LIBC = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            except OSError:
                pass
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None


def _decode_reduced(image: Image.Image, path: Path | None) -> tuple[Image.Image, int]:
    """(pixels at most WORKING_SIDE long, EXIF orientation), decoding no more than needed.

    The returned image may be `image` itself when it is small and already in a usable state.
    """
    width, height = image.size
    long_side = max(width, height)
    fmt = image.format if path is not None else None
    # Progressive JPEGs keep every DCT coefficient of the whole picture while decoding (3-6 bytes
    # a pixel) however small the output: they count as decoded whole.
    scalable_jpeg = fmt in ("JPEG", "MPO") and not image.info.get("progressive")
    strips = None
    if fmt == "PNG" and long_side > WORKING_SIDE and width * height > LARGE_IMAGE_PIXELS:
        strips = _png_layout(path)  # None for 16-bit and interlaced PNGs
    if strips is not None:
        # 1. A large 8-bit PNG: a strip of rows at a time, reduced by a whole factor as it comes
        # (Pillow decodes PNGs whole); the result is at least WORKING_SIDE long.
        image, orientation = _decode_png_in_strips(path, strips, max(1, long_side // WORKING_SIDE))
    else:
        if scalable_jpeg and long_side > WORKING_SIDE:
            # 2. JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 scale, the smallest still >= the target.
            image.draft(None, _fit_inside(image.size, WORKING_SIDE))
        elif path is not None and width * height > MAX_WHOLE_DECODE_PIXELS:
            # 3. Anything else is decoded whole, up to a limit.
            if fmt == "PNG":
                kind = ("16-bit or interlaced PNG", "16 位或隔行扫描的 PNG ")
            elif fmt in ("JPEG", "MPO"):
                kind = ("progressive JPEG", "渐进式 JPEG ")
            else:
                kind = (str(fmt), f"{fmt} ")
            raise ImageError(*_too_large_text(image.size, MAX_WHOLE_DECODE_PIXELS, kind))
        image.load()
        orientation = image.getexif().get(0x0112, 1)
    if max(image.size) > WORKING_SIDE:
        image = _resamplable(image)
        # reducing_gap: a box reduction by a whole factor first, Lanczos for the last step.
        image = image.resize(_fit_inside(image.size, WORKING_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image, orientation


def _resamplable(image: Image.Image) -> Image.Image:
    """A mode Lanczos works in (palettes and 1-bit would fall back to nearest neighbour)."""
    if image.mode in _RESAMPLE_MODES:
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    return to_rgb(image)


def _fit_inside(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled (aspect kept) so that its long side is `side`."""
    width, height = size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _too_large_text(size: tuple[int, int] | None, limit: int, kind: tuple[str, str] | None = None,
                    pixels: int | None = None) -> tuple[str, str]:
    """(en, zh) naming the picture's size in pixels and the limit it is over; `kind` names a format
    with a lower limit, e.g. ("WebP", "WebP")."""
    limit_mp = f"{limit / 1_000_000:g}"
    if size is not None:
        pixels = size[0] * size[1]
        mp = f"{pixels / 1_000_000:.1f}"
        first_en = f"The image is {size[0]}×{size[1]} pixels ({mp} megapixels)"
        first_zh = f"图片为 {size[0]}×{size[1]} 像素（{mp} 百万像素）"
    elif pixels is not None:
        mp = f"{pixels / 1_000_000:.1f}"
        first_en = f"The image has {pixels:,} pixels ({mp} megapixels)"
        first_zh = f"图片有 {pixels:,} 像素（{mp} 百万像素）"
    else:
        first_en, first_zh = "The image is too large", "图片太大"
    if kind is None:
        return (
            f"{first_en}; the limit is {limit:,} pixels ({limit_mp} megapixels). Downscale it and upload "
            "it again.",
            f"{first_zh}，上限为 {limit:,} 像素（{limit_mp} 百万像素）。请先缩小后再上传。",
        )
    overall = f"{MAX_IMAGE_PIXELS / 1_000_000:g}"
    return (
        f"{first_en}; a {kind[0]} picture can be at most {limit:,} pixels ({limit_mp} megapixels; JPEG "
        f"and 8-bit PNG up to {overall}). Downscale it, or save it as a standard (baseline) JPEG, and "
        "upload it again.",
        f"{first_zh}；{kind[1]}图片最多 {limit:,} 像素（{limit_mp} 百万像素；JPEG 和 8 位 PNG 最多 {overall} "
        "百万像素）。请先缩小，或另存为标准（基线）JPEG 后再上传。",
    )


# ------------------------------------------------ large PNGs, a strip at a time

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples a pixel


@dataclass(frozen=True)
class _PngLayout:
    width: int
    height: int
    ihdr_tail: bytes  # bit depth .. interlace, as in the file
    samples: int  # bytes a pixel (8-bit samples)
    extra: tuple[tuple[bytes, bytes], ...]  # PLTE and tRNS chunks, copied into every strip
    idat: tuple[tuple[int, int], ...]  # (offset, length) of each IDAT chunk's data
    orientation: int


def _png_chunks(f: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Yield (type, length) with the file at the chunk's data; the caller may read it."""
    if f.read(8) != _PNG_SIGNATURE:
        raise ValueError("not a PNG")
    while True:
        head = f.read(8)
        if len(head) < 8:
            return  # no IEND: tolerated, as Pillow does; missing image data is caught when read
        length, kind = struct.unpack(">I4s", head)
        start = f.tell()
        yield kind, length
        if kind == b"IEND":
            return
        f.seek(start + length + 4)  # data, CRC


def _png_layout(path: Path) -> _PngLayout | None:
    """Where the rows of an 8-bit, non-interlaced PNG are; None for any other PNG."""
    chunks: dict[bytes, bytes] = {}
    idat: list[tuple[int, int]] = []
    with open(path, "rb") as f:
        for kind, length in _png_chunks(f):
            if kind == b"IDAT":
                idat.append((f.tell(), length))
            elif kind in (b"IHDR", b"PLTE", b"tRNS", b"eXIf") and kind not in chunks and length <= 1 << 20:
                chunks[kind] = f.read(length)
    ihdr = chunks.get(b"IHDR", b"")
    if len(ihdr) != 13 or not idat:
        raise ValueError("PNG without IHDR or IDAT")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if depth != 8 or interlace != 0 or colour not in _PNG_SAMPLES:
        return None
    orientation = 1
    if b"eXIf" in chunks:
        exif = Image.Exif()
        data = chunks[b"eXIf"]
        exif.load(data if data.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + data)
        orientation = exif.get(0x0112, 1)
    return _PngLayout(
        width=width, height=height, ihdr_tail=ihdr[8:], samples=_PNG_SAMPLES[colour],
        extra=tuple((kind, chunks[kind]) for kind in (b"PLTE", b"tRNS") if kind in chunks),
        idat=tuple(idat), orientation=orientation,
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _decode_png_in_strips(path: Path, png: _PngLayout, factor: int) -> tuple[Image.Image, int]:
    """Decode a PNG a strip of rows at a time, each box-reduced by `factor` as soon as it is
    decoded: memory is one strip plus the reduced picture (19 MB for 12000×10000 RGB, factor 5).

    We inflate the IDAT stream ourselves (zlib, output bounded) and hand each strip of filtered
    rows to Pillow as a small PNG of its own, led by the previous strip's last row unfiltered
    (filter type 0), which the first row's Up/Average/Paeth filters refer to.
    """
    row_bytes = 1 + png.width * png.samples  # filter type + samples
    rows_per_strip = max(factor, PNG_STRIP_BYTES // row_bytes // factor * factor)
    out = Image.new("RGB", (math.ceil(png.width / factor), math.ceil(png.height / factor)))
    inflater = zlib.decompressobj()
    with open(path, "rb") as f:
        compressed = _read_spans(f, png.idat)
        pending = b""

        def take(count: int) -> bytearray:
            nonlocal pending
            data = bytearray()
            while len(data) < count and not inflater.eof:
                if not pending:
                    pending = next(compressed, b"")
                    if not pending:
                        break
                data += inflater.decompress(pending, count - len(data))
                pending = inflater.unconsumed_tail
            if len(data) < count:
                raise EOFError("PNG image data ends early")
            return data

        seed = b""  # the previous strip's last row, unfiltered
        for top in range(0, png.height, rows_per_strip):
            rows = min(rows_per_strip, png.height - top)
            payload = take(rows * row_bytes)
            if seed:
                payload[0:0] = b"\x00" + seed
            lead = 1 if seed else 0
            strip_png = b"".join((
                _PNG_SIGNATURE,
                _png_chunk(b"IHDR", struct.pack(">II", png.width, rows + lead) + png.ihdr_tail),
                *(_png_chunk(kind, data) for kind, data in png.extra),
                _png_chunk(b"IDAT", zlib.compress(payload, 0)),
                _png_chunk(b"IEND", b""),
            ))
            del payload
            with Image.open(io.BytesIO(strip_png)) as strip:
                strip.load()
                del strip_png
                # 8-bit L, LA, RGB, RGBA and P keep their samples as the PNG has them.
                seed = strip.crop((0, rows + lead - 1, png.width, rows + lead)).tobytes()
                if lead:
                    strip = strip.crop((0, 1, png.width, rows + 1))
                rgb = to_rgb(strip)
            out.paste(rgb.reduce(factor) if factor > 1 else rgb, (0, top // factor))
            del rgb
    return out, png.orientation


def _read_spans(f: BinaryIO, spans: tuple[tuple[int, int], ...], piece: int = 1 << 20) -> Iterator[bytes]:
    for offset, length in spans:
        f.seek(offset)
        while length > 0:
            data = f.read(min(length, piece))
            if not data:
                raise EOFError("PNG ends inside its image data")
            length -= len(data)
            yield data


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


# ---------------------------------------------------------------- files: temporary names, leftovers

# A crash (kill -9, out of memory, power) between "started writing" and "renamed" leaves these; no
# job row points at them, so pruning never would. `sweep_leftovers` removes them at start.
PART_MARK = ".part"  # in every temporary file name: "<name>.<token>.part.<ext>"
MUSIC_WORK_PREFIX = ".music-"  # music.add_music's work folders (tempfile adds 8 characters)
# Another process may be writing into the same folder right now (a second app, the CLI, a job
# worker): a writer touches its temporary file as it goes, and the longest a healthy one sits
# untouched is the music step between encode and rename (seconds). Ten minutes leaves room for a
# slow disk and for clocks of a network filesystem, and still cleans up on the next start.
LEFTOVER_GRACE_S = 600.0
# Only names this studio makes (unique_video_path's "YYYYmmdd-HHMMSS-<10 hex>"), so an output
# folder shared with other files (--output-dir ~/Videos) never loses someone else's "x.part.2.mkv".
_LEFTOVER_FILE = re.compile(r"\d{8}-\d{6}-[0-9a-f]{10}[^/]*\.part\.[A-Za-z0-9]{1,5}")
_LEFTOVER_DIR = re.compile(re.escape(MUSIC_WORK_PREFIX) + r"[a-z0-9_]{8}")


@contextmanager
def writing(path: str | Path) -> Iterator[Path]:
    """A temporary name beside `path` to write to; renamed to `path` when the block completes,
    removed when it fails. Readers never see a half-written file under the final name."""
    path = Path(path)
    temp = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:8]}{PART_MARK}{path.suffix}")
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def sweep_leftovers(folder: str | Path, grace_s: float = LEFTOVER_GRACE_S) -> int:
    """Remove this studio's temporary files (`*.part.*`) and music work folders (`.music-*`) that
    nothing has touched for `grace_s` seconds; returns how many were removed. Finished files and
    anything named otherwise are never touched. Called once when a Studio starts."""
    folder = Path(folder)
    cutoff = time.time() - grace_s
    removed = 0
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and _LEFTOVER_FILE.fullmatch(entry.name):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            elif entry.is_dir(follow_symlinks=False) and _LEFTOVER_DIR.fullmatch(entry.name):
                # A folder's own time changes only when entries come and go; its files show writing.
                with os.scandir(entry.path) as inside:
                    newest = max([entry.stat(follow_symlinks=False).st_mtime]
                                 + [inner.stat(follow_symlinks=False).st_mtime for inner in inside])
                if newest < cutoff:
                    shutil.rmtree(entry.path)
                    removed += 1
        except OSError:
            continue  # gone already (another process swept it), or not ours to remove
    return removed


# ---------------------------------------------------------------- video

def save_cover(frame: np.ndarray, out_path: str | Path, width: int = 480) -> Path:
    """The first frame (uint8 H×W×3) as a JPEG at most `width` wide: the cover galleries show."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    out_path = Path(out_path)
    with writing(out_path) as temp:
        image.save(temp, "JPEG", quality=85)
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
    """Encode uint8 frames (T×H×W×3) as H.264 yuv420p MP4 with +faststart, under a temporary name
    renamed to `out_path` when ffmpeg has finished.

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
    with writing(out_path) as temp:
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
            "-i", "-",
            "-vf", ",".join(chain),
            "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-an", str(temp),
        ]
        proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
        if proc.returncode != 0:
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
        [ffmpeg_exe(), "-hide_banner", *input_args(path, VIDEO_DEMUXERS)], capture_output=True, text=True,
        errors="replace",
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

    *options, _, source = input_args(path, VIDEO_DEMUXERS)  # imageio-ffmpeg adds the "-i" itself
    reader = imageio_ffmpeg.read_frames(source, input_params=options)
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(height, width, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)
