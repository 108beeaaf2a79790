"""Animated GIF export of a finished video (表情包: memes are GIFs), in one ffmpeg command.

The filter graph, for a GIF `width` wide at `fps`:

    [0:v:0] ─ fps ─ scale=width:-2 (Lanczos) ─ split ─┬───────────────────────────── paletteuse ─> GIF
                                                      └─ framestep=2 ─ half size ─ palettegen ─┘

1. `fps` keeps at most `fps` frames a second (never more than the video has: a GIF cannot
   invent frames); `scale` sets the width, the height keeps the aspect and is even.
2. `palettegen` finds one 256-colour palette for the whole clip. It sees every second frame at
   half size, picked by nearest neighbour (exact colours, no new ones), because its cost grows
   with the number of distinct colours: on a 720×480 clip of smooth full-colour gradients
   (millions of colours) palettegen alone took 12.7 s of CPU on every frame and 1.1 s on this
   sample (the whole GIF: 5.6 s; ffmpeg's plain command at the same 8 fps, 15.8 s; bench/gif.py
   --worst-case). Both palettes gave the same colour error (±0.03 of 255) on the four clips we
   compared them on (bench/results.md).
3. `paletteuse` maps every frame to the palette with ordered (Bayer) dithering; see `_DITHER`.

`paletteuse` cannot start before the palette is made, so ffmpeg holds every frame of the GIF in
memory meanwhile (4 bytes a pixel): a 1440×960 GIF of 49 frames holds 270 MB. Requests above
`MAX_GIF_BUFFER_BYTES` are refused before ffmpeg starts.
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bilingual import Text
from cogvideo.errors import DiskFull, InvalidRequest, VideoError
from cogvideo.media import codec
from cogvideo.media.demux import VIDEO_DEMUXERS, input_args

GIF_WIDTHS = (480, 720)  # what the UI offers
MIN_GIF_WIDTH, MAX_GIF_WIDTH = 128, 1440  # what the API accepts; a GIF is never wider than its video
MIN_GIF_FPS, MAX_GIF_FPS = 1, 15
# 8 fps is CogVideoX 1.0's own rate and a whole fraction of 16 fps (CogVideoX 1.5) and of 32 fps
# (interpolated 1.5): every second or fourth frame is kept, evenly. At 10 fps a 16-fps clip would
# keep 10 of every 16 frames at uneven steps (2, 1, 2, 1, 2, 2, ...), and motion would judder.
DEFAULT_GIF_FPS = 8
# The frames ffmpeg holds while the palette is made (see the module docstring). 1 GiB covers the
# studio's largest GIF: an interpolated 1440×960 clip at 15 fps, 6 s, is ~0.5 GiB.
MAX_GIF_BUFFER_BYTES = 1 << 30
# Ordered dithering: the pattern is fixed to pixel positions, so a region that does not change
# keeps the same palette indices from frame to frame. Error diffusion (sierra2_4a, ffmpeg's
# default) spreads each pixel's error onto its neighbours, and the noise it makes moves from frame
# to frame: it shimmers in playback, and the GIF encoder cannot skip "unchanged" pixels. Measured
# against sierra2_4a on 720×480 clips at 480 wide (bench/results.md): the same size (within 3 %)
# on grainy, textured and natural clips, 42 % smaller on smooth full-colour gradients, a third to
# a half less CPU; the price is a higher mean pixel error on grainy and natural clips (1.9 against
# 1.1, 1.3 against 0.4, of 255), the dither pattern itself. Scale 3 of 0..5: 2 draws a visible
# cross-hatch, 4 leaves faint contour bands on clean soft gradients (and is a few % smaller).
_DITHER = "dither=bayer:bayer_scale=3"
# All 256 entries (one of them transparent, which the encoder uses for pixels that did not
# change): 128 colours save ~20 % of the size and band visibly on the soft gradients of generated
# video; the user sees the size and can pick the smaller width instead.
_PALETTE = "palettegen=max_colors=256:stats_mode=full"


@dataclass(frozen=True)
class GifResult:
    path: Path
    size_bytes: int
    width: int  # pixels, as written: the video's width when a wider GIF was asked for
    height: int
    fps: float  # frames a second, as written: never more than the video's
    frames: int
    asked_width: int | None = None  # the width asked for, when the video was narrower than it

    def size_text(self) -> Text:
        """For the UI, e.g. "1.8 MB · 480×320 · 8 fps · 49 frames", and why a GIF is
        narrower than asked (a GIF is never wider than its video)."""
        size = _size_text(self.size_bytes)
        shape = f"{self.width}×{self.height}"
        en = f"{size} · {shape} · {self.fps:g} fps · {self.frames} frames"
        zh = f"{size} · {shape} · {self.fps:g} 帧/秒 · 共 {self.frames} 帧"
        if self.asked_width and self.asked_width > self.width:
            en += (f" · {self.width} px wide, not {self.asked_width}: the video itself is {self.width} px "
                   "wide, and enlarging it would only blur it")
            zh += f" · 宽 {self.width} 像素而非 {self.asked_width}：视频本身只有 {self.width} 像素宽，放大只会变模糊"
        return Text(en, zh)


def check_gif_options(width: object, fps: object) -> tuple[int, float]:
    """(width, fps) as int and float, or `InvalidRequest` quoting the bad value and the range.

    Gradio sends numbers as floats: 480.0 is a whole number; 480.5, True, "480" and NaN are not.
    """
    if not _is_number(width) or width != int(width) or not MIN_GIF_WIDTH <= width <= MAX_GIF_WIDTH:
        suggested = " or ".join(str(w) for w in GIF_WIDTHS)
        raise InvalidRequest(
            f"width={width!r} must be a whole number from {MIN_GIF_WIDTH} to {MAX_GIF_WIDTH} "
            f"({suggested} suggested).",
            f"GIF 宽度 {width!r} 必须是 {MIN_GIF_WIDTH} 到 {MAX_GIF_WIDTH} 之间的整数"
            f"（建议 {' 或 '.join(str(w) for w in GIF_WIDTHS)}）。",
        )
    if not _is_number(fps) or not MIN_GIF_FPS <= fps <= MAX_GIF_FPS:
        raise InvalidRequest(
            f"fps={fps!r} must be a number from {MIN_GIF_FPS} to {MAX_GIF_FPS} ({DEFAULT_GIF_FPS} is the "
            "default; a GIF never gets more frames a second than its video has).",
            f"GIF 帧率 {fps!r} 必须是 {MIN_GIF_FPS} 到 {MAX_GIF_FPS} 之间的数（默认 {DEFAULT_GIF_FPS}；"
            "GIF 的帧率不会高于视频本身）。",
        )
    return int(width), float(fps)


def gif_filter(width: int, fps: float) -> str:
    """The ffmpeg filter graph (one input, output pad [gif]) for a GIF `width` wide at `fps`."""
    return (
        f"[0:v:0]fps={fps:g},scale={width}:-2:flags=lanczos,split[frames][sample];"
        f"[sample]framestep=2,scale=iw/2:ih/2:flags=neighbor,{_PALETTE}[palette];"
        f"[frames][palette]paletteuse={_DITHER}[gif]"
    )


def export_gif(
    video: str | Path, out_path: str | Path, width: int = GIF_WIDTHS[0], fps: float = DEFAULT_GIF_FPS
) -> GifResult:
    """Write `video` as an animated GIF that loops forever, to `out_path` (under a temporary name
    until complete). Raises `InvalidRequest` for bad options, `VideoError` for a missing or
    unreadable video, `DiskFull` when the disk fills."""
    # 1. Check inputs.
    width, fps = check_gif_options(width, fps)
    video, out_path = Path(video), Path(out_path)
    info = codec.probe(video)
    # 2. Never more pixels or frames than the video has.
    asked, width = width, min(width, info.width)
    if info.fps > 0:
        fps = min(fps, info.fps)
    _check_buffer(video, info, width, fps)
    # 3. One ffmpeg pass.
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with codec.writing(out_path) as temp:
        frames = _run_ffmpeg(video, temp, width, fps, out_path)
        with open(temp, "rb") as f:
            header = f.read(10)
    # 4. What was written: the GIF's logical screen size, bytes 6-9 of its header (little-endian).
    return GifResult(
        path=out_path,
        size_bytes=out_path.stat().st_size,
        width=int.from_bytes(header[6:8], "little"),
        height=int.from_bytes(header[8:10], "little"),
        fps=fps,
        frames=frames,
        asked_width=asked if asked > width else None,
    )


def _run_ffmpeg(video: Path, temp: Path, width: int, fps: float, out_path: Path) -> int:
    """Run the one ffmpeg command into `temp`; returns the number of frames written."""
    cmd = [
        codec.ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
        "-y", *input_args(video, VIDEO_DEMUXERS),
        "-filter_complex", gif_filter(width, fps), "-map", "[gif]",
        "-loop", "0", "-f", "gif", str(temp),
    ]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        if "No space left" in proc.stderr:
            raise DiskFull(out_path.parent)
        said = _ffmpeg_said(proc.stderr) or f"exit status {proc.returncode}"
        raise VideoError(
            f"Could not make a GIF of {video.name}: ffmpeg stopped ({said}). The video may be damaged: "
            "render it again, or choose another video.",
            f"无法将 {video.name} 转为 GIF：ffmpeg 出错（{said}）。视频可能已损坏：请重新生成，或换一个视频。",
        )
    # -progress prints blocks of key=value lines; the last "frame=" is the total written.
    counts = re.findall(r"^frame=(\d+)$", proc.stdout, re.MULTILINE)
    return int(counts[-1]) if counts else 0


_FFMPEG_TAG = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")  # "[h264 @ 0x55d0c1a2b3c0] "


def _ffmpeg_said(stderr: str) -> str:
    """ffmpeg's first error line (the cause, usually) and its last (the outcome), without the
    "[h264 @ 0x55...]" tags that mean nothing to a user."""
    lines = [_FFMPEG_TAG.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    said = lines[0] if lines[0] == lines[-1] else f"{lines[0]} … {lines[-1]}"
    return said if len(said) <= 300 else said[:299] + "…"


def _check_buffer(video: Path, info: codec.VideoInfo, width: int, fps: float) -> None:
    """Refuse a GIF whose frames would take more than MAX_GIF_BUFFER_BYTES while the palette is
    made (the video's duration is unknown to us only for odd files; those pass)."""
    # As scale's -2 makes it: the nearest even height, halves rounded up.
    height = 2 * ((width * info.height + info.width) // (2 * info.width))
    frames = round(info.duration * fps)
    need = frames * width * height * 4  # bytes: BGRA
    if need <= MAX_GIF_BUFFER_BYTES:
        return
    need_mib, limit_mib = math.ceil(need / 2**20), MAX_GIF_BUFFER_BYTES // 2**20
    raise VideoError(
        f"A {width}×{height} GIF at {fps:g} fps of {video.name} ({info.duration:.0f} s) would hold "
        f"{frames} frames ({need_mib} MiB) in memory while it is made; the limit is {limit_mib} MiB. "
        "Choose a smaller width or fewer frames a second, or a shorter video.",
        f"{video.name}（{info.duration:.0f} 秒）转为 {width}×{height}、{fps:g} 帧/秒的 GIF 需要在内存中保留 "
        f"{frames} 帧（{need_mib} MiB），上限为 {limit_mib} MiB。请选择更小的宽度、更低的帧率或更短的视频。",
    )


def _is_number(value: object) -> bool:
    """A real, finite number; bools are not numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _size_text(size: int) -> str:
    """Bytes as "850 KB" or "1.8 MB" (1 KB = 1024 bytes, as Windows Explorer counts them)."""
    if size < 1 << 20:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 2**20:.1f} MB"
