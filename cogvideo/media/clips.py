"""Video clips that people upload (restyle a clip, extend a video), and joining generated parts.

Uploads are anything a phone or an editor makes: MP4, MOV, WebM, MKV; any size and rate; portrait
videos stored landscape with a rotation in their header; variable frame rate. Everything goes
through the ffmpeg that imageio-ffmpeg ships (there is no ffprobe):

- `probe_clip` reads the header only (`ffmpeg -i`'s banner) and refuses, before any frame is
  decoded, what is not a video, too long (`MAX_CLIP_SECONDS`) or too large (`MAX_CLIP_SIDE`).
  Where the header has no duration (WebM recorded by a browser), the video packets are counted
  without decoding, and never more than `MAX_CLIP_SECONDS` + 1 s of them.
- `read_clip` decodes through an rgb24 pipe with the whole filter chain inside ffmpeg: the `fps`
  filter first (variable-rate input comes out evenly spaced), then the scale and the center crop,
  so Python only ever holds frames at the size asked for (an 8K frame never reaches Python).

Timing: frame k of a clip read at `fps` is the picture on screen at k / fps from its first frame
("sample and hold": the fps filter with `round=up`). A tail (`last=True`) is anchored at the clip's
last frame instead: its final frame is the clip's final frame, and the others are 1 / fps apart
before it, which is what continuing a video from its last frame needs.

Limits (one place each):
- `MAX_CLIP_SECONDS` (60 s): the models make 6-10 s; a minute leaves room to pick a part, and
  bounds the decode (4K H.264 decodes at about 20 frames a second on two cores: a minute of 4K at
  30 fps takes about 90 s, well inside `DECODE_TIMEOUT_S`).
- `MAX_CLIP_SIDE` (4096): DCI 4K. 8K (7680×4320, 33 megapixels a frame) decodes four times
  slower than 4K, and nothing we make uses the detail (the largest model input is 1360 px).
- `MIN_CLIP_FRAMES` (2): a clip must give at least two frames at the rate it is read at (0.25 s
  at 8 fps); one frame is a picture, and Image to video is the mode for that.
- `MAX_DECODED_BYTES` (2 GiB): the frames one `read_clip` returns; only reached when a caller
  asks for a large size (or the source size) with no `max_frames`.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
import subprocess
import threading
from collections import deque
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from cogvideo.errors import VideoError
from cogvideo.media.codec import ffmpeg_exe
from cogvideo.media.demux import VIDEO_DEMUXERS, input_args

log = logging.getLogger("cogvideo")

MAX_CLIP_SECONDS = 60.0
MAX_CLIP_SIDE = 4096
MIN_CLIP_FRAMES = 2
MAX_DECODED_BYTES = 2 << 30
# Reading a header takes milliseconds; a slow disk or network share gets this long.
PROBE_TIMEOUT_S = 30.0
# One decode of at most MAX_CLIP_SECONDS + 1 s; slower than this means something is wrong.
DECODE_TIMEOUT_S = 300.0
# A tail is decoded from this long before the frames it needs: the header's duration is rounded
# (to 10 ms) and may run past the last picture (a sound track that runs on).
TAIL_MARGIN_S = 1.0

# ffmpeg's demuxers for single pictures: a PNG renamed .mp4 opens as "png_pipe".
_PICTURE_DEMUXERS = re.compile(r"^(image2|[a-z0-9]+_pipe)$")
_STDERR_KEEP = 64 * 1024


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's header says, as a viewer shows it."""

    width: int  # as displayed: rotation and non-square pixels applied
    height: int
    fps: float  # the stream's average rate; 0.0 if the header has none
    duration: float  # seconds
    has_audio: bool

    @property
    def portrait(self) -> bool:
        return self.height > self.width


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # uint8 T×H×W×3
    fps: float  # the constant rate the frames were resampled to
    info: ClipInfo  # what the source was


# ---------------------------------------------------------------- probing

def probe_clip(path: str | Path) -> ClipInfo:
    """Read a clip's header (never decoding a frame) and refuse what we cannot use."""
    path = Path(path)
    # 1. The file itself.
    if not path.is_file():
        raise VideoError(
            f"Video file not found: {path.name}. Upload the clip again.",
            f"找不到视频文件：{path.name}。请重新上传视频。",
        )
    if path.stat().st_size == 0:
        raise VideoError(
            f"{path.name} is empty (0 bytes); the upload may have failed. Upload the clip again.",
            f"{path.name} 是空文件（0 字节），可能上传失败了。请重新上传视频。",
        )
    # 2. ffmpeg's banner: the container, its streams and its duration.
    banner = _run(input_args(path, VIDEO_DEMUXERS), path, PROBE_TIMEOUT_S).stderr
    container = re.search(r"^Input #0, (\S+), from", banner, re.MULTILINE)
    if container is None:
        raise VideoError(*_unreadable_text(path, banner))
    if _PICTURE_DEMUXERS.match(container.group(1)):
        raise VideoError(
            f"{path.name} is a picture, not a video. To bring a picture to life, use Image to video.",
            f"{path.name} 是一张图片，不是视频。要让图片动起来，请使用“图生视频”。",
        )
    streams = _streams(banner)
    videos = [block for kind, block in streams if kind == "Video" and "(attached pic)" not in block]
    has_audio = any(kind == "Audio" for kind, _ in streams)
    if not videos:
        if has_audio:
            raise VideoError(
                f"{path.name} has sound but no picture (it is an audio file). Upload a video clip.",
                f"{path.name} 只有声音没有画面（这是音频文件）。请上传视频。",
            )
        raise VideoError(*_unreadable_text(path, banner))
    # 3. The size as displayed, then the limits that the header alone decides.
    width, height = _displayed_size(videos[0])
    if max(width, height) > MAX_CLIP_SIDE:
        raise VideoError(
            f"{path.name} is {width}×{height} pixels; clips can be at most {MAX_CLIP_SIDE} pixels "
            "on each side. Export it at 4K or less (for example 3840×2160) and upload it again.",
            f"{path.name} 的尺寸是 {width}×{height} 像素，视频每边最多 {MAX_CLIP_SIDE} 像素。"
            "请导出为 4K 或更小（例如 3840×2160）后重新上传。",
        )
    duration = _header_duration(banner)
    counted = duration is None
    if counted:
        duration = _count_duration(path)
    if duration > MAX_CLIP_SECONDS:
        raise VideoError(*_too_long_text(path, duration, lower_bound=counted))
    fps = re.search(r", ([\d.]+)(k?) fps", videos[0])
    return ClipInfo(
        width=width,
        height=height,
        fps=float(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else 0.0,
        duration=duration,
        has_audio=has_audio,
    )


def _streams(banner: str) -> list[tuple[str, str]]:
    """(kind, text) of each stream of input 0; the text runs to the next stream, so it holds the
    stream's metadata and side data (where the rotation is)."""
    parts = re.split(r"^\s*Stream #0:", banner, flags=re.MULTILINE)[1:]
    streams = []
    for part in parts:
        kind = re.match(r"[^:]*: (\w+):", part)
        streams.append((kind.group(1) if kind else "", part))
    return streams


def _displayed_size(stream: str) -> tuple[int, int]:
    """(width, height) that a player shows: stored size, widened by the sample aspect ratio,
    turned by a 90° or 270° display rotation (phones store portrait video landscape)."""
    line = stream.splitlines()[0]
    size = re.search(r", (\d+)x(\d+)(?=[\s,\[]|$)", line)
    if size is None:
        raise ValueError(f"no size in ffmpeg's stream line: {line!r}")
    width, height = int(size.group(1)), int(size.group(2))
    sar = re.search(r"SAR (\d+):(\d+)", line)
    if sar and int(sar.group(1)) > 0 and int(sar.group(2)) > 0 and sar.group(1) != sar.group(2):
        width = max(1, round(width * int(sar.group(1)) / int(sar.group(2))))
    # ffmpeg 9: "Display Matrix: rotation of -90.00 degrees"; older: "displaymatrix: rotation of".
    rotation = re.search(r"display ?matrix: rotation of (-?[\d.]+) degrees", stream, re.IGNORECASE)
    if rotation:
        # ffmpeg's autorotate turns only multiples of 90° (within 1°), as this does.
        turn = float(rotation.group(1)) % 180
        if abs(turn - 90) < 1:
            width, height = height, width
    return width, height


def _header_duration(banner: str) -> float | None:
    found = re.search(r"Duration: (\d+):(\d+):([\d.]+)", banner)
    if found is None:
        return None  # "Duration: N/A"
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _count_duration(path: Path) -> float:
    """The video's length from its packets' timestamps, for headers without a duration: the
    packets are copied, not decoded, and only the first MAX_CLIP_SECONDS + 1 s are read."""
    listing = _run(
        ["-t", f"{MAX_CLIP_SECONDS + 1:g}", *input_args(path, VIDEO_DEMUXERS), "-map", "0:V:0", "-c", "copy",
         "-f", "framecrc", "-"],
        path, PROBE_TIMEOUT_S,
    ).stdout
    base = re.search(r"^#tb 0: (\d+)/(\d+)", listing, re.MULTILINE)
    packets = re.findall(r"^0,\s*-?\d+,\s*(-?\d+),\s*(\d+),", listing, re.MULTILINE)
    if base is None or not packets:
        return 0.0
    starts = [int(pts) for pts, _ in packets]
    ends = [int(pts) + int(length) for pts, length in packets]
    return float((max(ends) - min(starts)) * Fraction(int(base.group(1)), int(base.group(2))))


def _unreadable_text(path: Path, banner: str) -> tuple[str, str]:
    # An MP4 whose index (moov) never got written: a recording or upload cut off. A file that is
    # no MP4 at all is "detected only with low score" before the same complaint.
    if "moov atom not found" in banner and "low score" not in banner:
        return (
            f"{path.name} is incomplete: its index is missing, so the upload or the recording was "
            "probably cut off. Export or upload it again.",
            f"{path.name} 不完整：缺少视频索引，可能上传或录制时被中断了。请重新导出或重新上传。",
        )
    return (
        f"{path.name} is not a video we can read. Upload an MP4, MOV, WebM or MKV clip.",
        f"无法读取 {path.name}：它不是可识别的视频。请上传 MP4、MOV、WebM 或 MKV 格式的视频。",
    )


def _too_long_text(path: Path, duration: float, lower_bound: bool) -> tuple[str, str]:
    """`lower_bound`: `duration` was counted from packets, which stop after MAX_CLIP_SECONDS +
    1 s, so the clip is at least that long."""
    limit = f"{MAX_CLIP_SECONDS:g}"
    if lower_bound:
        length_en, length_zh = f"longer than {limit} s", f"超过 {limit} 秒"
    else:
        length_en = f"{_clock(duration)} ({duration:.4g} s) long"
        length_zh = f"时长 {_clock(duration)}（{duration:.4g} 秒）"
    return (
        f"{path.name} is {length_en}; clips can be at most {limit} s. "
        f"Trim it to {limit} seconds or less and upload it again.",
        f"{path.name} {length_zh}，视频最长 {limit} 秒。请剪短到 {limit} 秒以内后重新上传。",
    )


def _clock(seconds: float) -> str:
    """7200 -> "2:00:00", 75.5 -> "1:15"."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---------------------------------------------------------------- decoding

def read_clip(
    path: str | Path,
    fps: float,
    *,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    last: bool = False,
) -> Clip:
    """Decode a clip to a constant `fps`, each frame covering `size` (width, height) and
    center-cropped to it (None: the displayed size, made even).

    At most `max_frames` frames: the first ones, or with `last` the last ones, the final frame
    being the clip's own final frame. Raises `VideoError` for what `probe_clip` refuses and for a
    clip that gives fewer than MIN_CLIP_FRAMES frames (or `max_frames`, if fewer).
    """
    # 1. Check the arguments (a caller's mistake, not the user's) and the clip's header.
    if not (isinstance(fps, numbers.Real) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps={fps!r} must be a positive number")
    fps = float(fps)
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise ValueError(f"max_frames={max_frames!r} must be a whole number of at least 1")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"size={size!r} must be (width, height), both at least 1")
    path = Path(path)
    info = probe_clip(path)
    # 2. Geometry: the scale that covers the output size, and the centered crop.
    if size is None:
        out_w, out_h = max(2, info.width - info.width % 2), max(2, info.height - info.height % 2)
        scaled = (max(info.width, out_w), max(info.height, out_h))
    else:
        out_w, out_h = int(size[0]), int(size[1])
        scaled = _cover((info.width, info.height), (out_w, out_h))
    crop = ((scaled[0] - out_w) // 2, (scaled[1] - out_h) // 2)
    # 3. Memory: refuse before decoding what would not fit.
    check_decoded_size(path, info, fps, (out_w, out_h), max_frames)
    rate = Fraction(fps).limit_denominator(1001)
    # 4. Decode.
    scale_crop = (f"scale={scaled[0]}:{scaled[1]}:flags=lanczos,format=rgb24,"
                  f"crop={out_w}:{out_h}:{crop[0]}:{crop[1]}")
    if last and max_frames is not None:
        frames = _read_tail(path, info, rate, scale_crop, (out_w, out_h), max_frames)
    else:
        frames = _read_head(path, rate, scale_crop, (out_w, out_h), max_frames)
    # 5. Enough frames?
    needed = MIN_CLIP_FRAMES if max_frames is None else min(MIN_CLIP_FRAMES, max_frames)
    if len(frames) < needed:
        raise VideoError(*_too_short_text(path, len(frames), fps))
    return Clip(frames=frames, fps=float(fps), info=info)


def _cover(source: tuple[int, int], target: tuple[int, int]) -> tuple[int, int]:
    """The size `source` scales to (aspect kept) so that it covers `target`: one side equal, the
    other at least as long. Its center crop to `target` is what `media.fit_image` keeps, to
    within half a pixel (fit_image crops the source first, by a box of fractional size)."""
    src_w, src_h = source
    out_w, out_h = target
    if src_w * out_h >= out_w * src_h:  # wider than the target: the heights match
        return max(out_w, round(src_w * out_h / src_h)), out_h
    return out_w, max(out_h, round(src_h * out_w / src_w))


def _read_head(path: Path, rate: Fraction, scale_crop: str, size: tuple[int, int],
               max_frames: int | None) -> np.ndarray:
    """The first `max_frames` frames (all if None), frame k at k / rate after the first."""
    args = ["-t", f"{MAX_CLIP_SECONDS + 1:g}", *input_args(path, VIDEO_DEMUXERS), "-map", "0:V:0",
            "-vf", f"fps={rate}:round=up,{scale_crop}"]
    if max_frames is not None:
        args += ["-frames:v", str(max_frames)]
    frames: list[np.ndarray] = []
    with closing(_decode(path, args, size)) as decoded:
        for frame in decoded:
            frames.append(frame)
            if len(frames) * frame.nbytes > MAX_DECODED_BYTES:
                raise VideoError(*_too_much_memory_text(path, len(frames), size, float(rate)))
            if max_frames is not None and len(frames) == max_frames:
                break
    return _stack(frames, size)


def _read_tail(path: Path, info: ClipInfo, rate: Fraction, scale_crop: str, size: tuple[int, int],
               count: int) -> np.ndarray:
    """The last `count` frames, the final one being the clip's final frame.

    Two passes over the end of the clip: the first finds the final frame's timestamp, the second
    shifts every timestamp so that it falls exactly on the fps filter's grid (whose slots are
    multiples of 1 / rate), so frame k from the end is the picture on screen at final - k / rate
    even when the rate varies. A ring buffer keeps memory at `count` frames.
    """
    # 1. Where the frames needed start: the header's duration is the longest stream's (a sound
    # track may run on after the picture ends), so check it against the frames found there.
    reach = float(count / rate) + TAIL_MARGIN_S
    start = max(0.0, info.duration - reach)
    times = _frame_times(path, start)
    if start > 0 and (times is None or (times[1] - times[0]) * times[2] < (count - 1) / rate):
        # Timestamps after a seek count from the seek point: start again `reach` before the end.
        start = max(0.0, start + float(times[1] * times[2]) - reach) if times else 0.0
        times = _frame_times(path, start)
    if times is None:
        return np.zeros((0, size[1], size[0], 3), np.uint8)
    # 2. Decode, the last frame's timestamp on the grid.
    _, last_pts, base = times
    # The last frame's slot m = ceil(t_last * rate); its timestamp moves to the latest tick at or
    # before m / rate, which the filter's round=up puts in slot m exactly.
    slot = math.ceil(last_pts * base * rate)
    shift = math.floor(slot / rate / base) - last_pts
    seek = ["-ss", f"{start:.6f}"] if start > 0 else []
    args = [*seek, "-t", f"{MAX_CLIP_SECONDS + 1:g}", *input_args(path, VIDEO_DEMUXERS), "-map", "0:V:0",
            "-vf", f"setpts=PTS+{shift},fps={rate}:round=up:eof_action=pass,{scale_crop}"]
    ring: deque[np.ndarray] = deque(maxlen=count)
    with closing(_decode(path, args, size)) as decoded:
        ring.extend(decoded)
    frames = list(ring)
    ring.clear()
    return _stack(frames, size)


def _frame_times(path: Path, start: float) -> tuple[int, int, Fraction] | None:
    """(the first and the last frame's timestamps, their time base) as the filter graph sees
    them after seeking to `start` exactly as `_read_tail` does; None if no frame decodes."""
    seek = ["-ss", f"{start:.6f}"] if start > 0 else []
    banner = _run(
        ["-loglevel", "info", *seek, "-t", f"{MAX_CLIP_SECONDS + 1:g}", *input_args(path, VIDEO_DEMUXERS),
         "-map", "0:V:0",
         "-vf", "showinfo=checksum=0", "-f", "null", "-"],
        path, DECODE_TIMEOUT_S,
    ).stderr
    base = re.search(r"config in time_base: (\d+)/(\d+)", banner)
    stamps = re.findall(r"\] n:\s*\d+ pts:\s*(-?\d+)", banner)
    if base is None or not stamps or int(base.group(1)) == 0:
        return None
    stamps = [int(pts) for pts in stamps]
    return min(stamps), max(stamps), Fraction(int(base.group(1)), int(base.group(2)))


def _decode(path: Path, args: list[str], size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Frames (uint8 H×W×3) from ffmpeg's rgb24 pipe. Closing the generator early (a caller that
    has enough) kills ffmpeg; so does DECODE_TIMEOUT_S."""
    width, height = size
    frame_bytes = width * height * 3
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args,
           "-an", "-sn", "-dn", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr_tail = bytearray()
    drain = threading.Thread(target=_keep_tail, args=(proc.stderr, stderr_tail), daemon=True)
    drain.start()
    timed_out = threading.Event()
    timer = threading.Timer(DECODE_TIMEOUT_S, lambda: (timed_out.set(), proc.kill()))
    timer.start()
    count = 0
    try:
        while True:
            data = proc.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            count += 1
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        drain.join()
    if timed_out.is_set():
        raise VideoError(
            f"Reading {path.name} took longer than {DECODE_TIMEOUT_S:g} s. "
            "Trim it or export it at a smaller size, and upload it again.",
            f"读取 {path.name} 超过了 {DECODE_TIMEOUT_S:g} 秒。请剪短或导出为更小的尺寸后重新上传。",
        )
    if proc.returncode != 0:
        message = stderr_tail.decode(errors="replace").strip()
        log.warning("ffmpeg exited with %s reading %s after %d frames: %s", proc.returncode, path.name,
                    count, message[-800:])
        if count == 0:
            raise VideoError(
                f"{path.name} could not be decoded (it may be damaged, or use a codec we cannot "
                "read). Export it again as MP4 (H.264) and upload it again.",
                f"无法解码 {path.name}（文件可能已损坏，或使用了不支持的编码）。"
                "请重新导出为 MP4（H.264）后上传。",
            )


def _keep_tail(stream, into: bytearray) -> None:
    for chunk in iter(lambda: stream.read(4096), b""):
        into.extend(chunk)
        del into[:-_STDERR_KEEP]
    stream.close()


def _stack(frames: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """One T×H×W×3 array, filled frame by frame so that peak memory stays near one copy."""
    width, height = size
    out = np.empty((len(frames), height, width, 3), np.uint8)
    for i in range(len(frames)):
        out[i] = frames[i]
        frames[i] = None
    return out


def _run(args: list[str], path: Path, timeout: float) -> subprocess.CompletedProcess:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise VideoError(
            f"Reading {path.name} took longer than {timeout:g} s. Upload it again, or choose another clip.",
            f"读取 {path.name} 超过了 {timeout:g} 秒。请重新上传，或换一个视频。",
        ) from exc


def _too_short_text(path: Path, count: int, fps: float) -> tuple[str, str]:
    seconds = f"{MIN_CLIP_FRAMES / fps:.2g}"
    return (
        f"{path.name} gives {count} frame{'s' if count != 1 else ''} at {fps:g} fps; a clip must give "
        f"at least {MIN_CLIP_FRAMES} (it must last at least {seconds} s). Upload a longer clip.",
        f"{path.name} 按每秒 {fps:g} 帧只能得到 {count} 帧，至少需要 {MIN_CLIP_FRAMES} 帧"
        f"（时长至少 {seconds} 秒）。请上传更长的视频。",
    )


def check_decoded_size(path: str | Path, info: ClipInfo, fps: float, size: tuple[int, int],
                       max_frames: int | None = None) -> None:
    """Refuse, from the header alone, a read whose frames (`size` is width, height) would pass
    MAX_DECODED_BYTES: `read_clip` asks before decoding, and the studio at submit time, so such a
    clip never waits in line."""
    expected = math.ceil(min(info.duration, MAX_CLIP_SECONDS + 1) * fps) + 1
    if max_frames is not None:
        expected = min(expected, max_frames)
    if expected * size[0] * size[1] * 3 > MAX_DECODED_BYTES:
        raise VideoError(*_too_much_memory_text(Path(path), expected, size, fps))


def _too_much_memory_text(path: Path, count: int, size: tuple[int, int], fps: float) -> tuple[str, str]:
    need = f"{count * size[0] * size[1] * 3 / (1 << 30):.1f}"
    limit = f"{MAX_DECODED_BYTES / (1 << 30):g}"
    return (
        f"{path.name} would take {need} GB of memory as {count} frames of {size[0]}×{size[1]} at "
        f"{fps:g} fps; the limit is {limit} GB. Trim the clip or export it at a smaller size.",
        f"{path.name} 按每秒 {fps:g} 帧解码为 {count} 帧 {size[0]}×{size[1]} 的画面需要 {need} GB 内存，"
        f"上限是 {limit} GB。请剪短视频或导出为更小的尺寸。",
    )


# ---------------------------------------------------------------- our own frames

def fit_frames(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale uint8 T×H×W×3 frames to cover width×height and center-crop them: the geometry of
    `read_clip`'s `size`."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 T×H×W×3, got {frames.dtype} {frames.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"width={width}, height={height} must both be at least 1")
    src_h, src_w = frames.shape[1:3]
    scaled = _cover((src_w, src_h), (width, height))
    left, top = (scaled[0] - width) // 2, (scaled[1] - height) // 2
    out = np.empty((len(frames), height, width, 3), np.uint8)
    for i, frame in enumerate(frames):
        image = Image.fromarray(frame)
        if image.size != scaled:
            image = image.resize(scaled, Image.Resampling.LANCZOS)
        out[i] = np.asarray(image)[top:top + height, left:left + width]
    return out


def join_parts(parts: list[np.ndarray], crossfade: int = 0) -> np.ndarray:
    """Join parts that each continue from the previous part's last frame (image to video): a
    later part's first frame repeats that frame and is dropped, so the result has
    sum(len(part)) - (len(parts) - 1) frames.

    With `crossfade` = n, the first n kept frames of each later part are blended from the join
    frame toward the new frames, weights (i + 1) / (n + 1), so a drift in colour or brightness
    fades in instead of jumping; the count is the same.
    """
    # 1. Check: one size for all, uint8 T×H×W×3, at least one frame each.
    if not parts:
        raise ValueError("join_parts needs at least one part")
    if not isinstance(crossfade, int) or crossfade < 0:
        raise ValueError(f"crossfade={crossfade!r} must be a whole number of at least 0")
    parts = [np.asarray(part) for part in parts]
    for k, part in enumerate(parts):
        if part.ndim != 4 or part.shape[-1] != 3 or part.dtype != np.uint8 or len(part) == 0:
            raise ValueError(f"part {k} must be uint8 T×H×W×3 with T >= 1, got {part.dtype} {part.shape}")
        if part.shape[1:] != parts[0].shape[1:]:
            raise ValueError(f"part {k} is {part.shape[2]}×{part.shape[1]}, part 0 is "
                             f"{parts[0].shape[2]}×{parts[0].shape[1]}: all parts must be the same size")
    # 2. Copy the first part whole and the others without their first frame.
    total = sum(len(part) for part in parts) - (len(parts) - 1)
    out = np.empty((total, *parts[0].shape[1:]), np.uint8)
    out[:len(parts[0])] = parts[0]
    at = len(parts[0])
    for previous, part in zip(parts, parts[1:]):
        new = part[1:]
        out[at:at + len(new)] = new
        # 3. Fade the new part in from the frame it continues.
        fade = min(crossfade, len(new))
        if fade:
            join = previous[-1].astype(np.float32)
            weights = (np.arange(1, fade + 1, dtype=np.float32) / (crossfade + 1))[:, None, None, None]
            blended = join + weights * (new[:fade].astype(np.float32) - join)
            out[at:at + fade] = np.rint(blended).astype(np.uint8)
        at += len(new)
    return out
