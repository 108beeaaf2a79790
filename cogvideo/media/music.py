"""Built-in tracks, fitting music to a clip, and muxing it in without re-encoding the video.

The music step, for a clip of D seconds:
1. read the MP4's own boxes for D, the video codec and any existing audio (no process at all);
2. decode at most D + a margin of the music with the ffmpeg that imageio-ffmpeg ships (it has no
   ffprobe, so we decode to raw PCM ourselves: 48 kHz stereo, which also downmixes 5.1, upmixes
   mono and resamples odd rates), so a two-hour file costs what a ten-second one does;
3. shape it with pydub in memory: trim, or loop with a short crossfade; fade in and out; bring it
   to a loudness target, then apply the user's volume;
4. encode AAC in one ffmpeg process fed by a pipe (the same process drops an old audio track
   from the video by stream copy, when there is one);
5. mux by stream copy (the command moviepy's `ffmpeg_merge_video_audio` runs, with our demuxer
   whitelist: cogvideo/media/demux.py): the video stream is not re-encoded, and its packets come out
   byte-identical.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import tempfile
import warnings
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Iterator

from bilingual import Text

from cogvideo.errors import AudioError, InvalidRequest, VideoError
from cogvideo.media.codec import MUSIC_WORK_PREFIX, ffmpeg_exe, probe
from cogvideo.media.demux import AUDIO_DEMUXERS, MP4_DEMUXERS, input_args

with warnings.catch_warnings():
    # pydub warns at import that it cannot find ffmpeg on PATH (we point it at imageio-ffmpeg's
    # below) and, on 3.11-3.12, that audioop is deprecated.
    warnings.simplefilter("ignore")
    from pydub import AudioSegment

AudioSegment.converter = ffmpeg_exe()

DEFAULT_TRACKS_PATH = Path(__file__).resolve().parents[2] / "assets" / "music" / "tracks.json"
NO_MUSIC = ("", "none")
SAMPLE_RATE = 48_000  # Hz, for every output: AAC's usual rate, and our tracks' native one
DECODE_MARGIN = 0.5  # s decoded past the clip's end, so trimming never runs short
LOOP_CROSSFADE_MS = 120  # where a short track repeats
FADE_IN_MS, FADE_OUT_MS = 400, 1000  # at most; clips under 4 s / 5 s get 10 % / 20 % of their length
TARGET_DBFS = -20.0  # RMS loudness of the music before `volume` (our tracks master to -18 LUFS ≈ this)
PEAK_CEILING_DBFS = -1.0  # normalisation never pushes a peak above this
AAC_BITRATE = "128k"
MAX_CLIP_SECONDS = 600.0  # the music step holds the clip's audio in memory: ~0.2 MB per second
H264_CODECS = ("avc1", "avc3")
_TRACK_KEYS = ("id", "name_zh", "name_en", "mood", "bpm", "duration", "file", "license")


# ---------------------------------------------------------------- built-in tracks

@dataclass(frozen=True)
class Track:
    id: str
    name: Text
    mood: str
    bpm: int
    duration: float  # seconds
    file: Path  # absolute
    license: str


def load_tracks(path: Path = DEFAULT_TRACKS_PATH) -> dict[str, Track]:
    """Read `tracks.json` (file order kept); files are resolved next to it."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise AudioError(
            f"The music list {path} is missing. Run `python scripts/make_music.py` to create it.",
            f"找不到配乐列表 {path}。请运行 `python scripts/make_music.py` 生成。",
        ) from exc
    return dict(_load_tracks_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=4)
def _load_tracks_cached(path_str: str, mtime_ns: int, size: int) -> dict[str, Track]:
    path = Path(path_str)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AudioError(f"The music list {path} cannot be read: {exc}.", f"无法读取配乐列表 {path}：{exc}。") from exc
    if not isinstance(entries, list):
        raise AudioError(f"{path} must be a JSON list of tracks.", f"{path} 必须是配乐的 JSON 列表。")
    tracks: dict[str, Track] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != set(_TRACK_KEYS) or entry["id"] in tracks:
            raise AudioError(
                f"{path}, entry {index}: needs exactly the keys {', '.join(_TRACK_KEYS)} and a unique id.",
                f"{path}，第 {index} 项：必须恰好包含键 {', '.join(_TRACK_KEYS)}，且 id 唯一。",
            )
        if not str(entry["name_en"]).strip() or not str(entry["name_zh"]).strip():
            raise AudioError(f"{path}, entry {index}: name_en and name_zh must both be filled.",
                             f"{path}，第 {index} 项：name_en 和 name_zh 都不能为空。")
        try:
            tracks[entry["id"]] = Track(
                id=str(entry["id"]), name=Text(str(entry["name_en"]), str(entry["name_zh"])),
                mood=str(entry["mood"]), bpm=int(entry["bpm"]), duration=float(entry["duration"]),
                file=path.parent / str(entry["file"]), license=str(entry["license"]),
            )
        except (TypeError, ValueError) as exc:
            raise AudioError(
                f"{path}, entry {index}: bpm must be a whole number and duration a number ({exc}).",
                f"{path}，第 {index} 项：bpm 必须是整数，duration 必须是数字（{exc}）。",
            ) from exc
    return tracks


def resolve_music(choice: str | Path | None, tracks: dict[str, Track] | None = None) -> Path | None:
    """None/""/"none" -> None; a track id (or its name) -> its file; a `Path` -> itself.

    A `Path` is a file that a face received as the caller's own (a Gradio upload, an operator's
    command-line argument, a job's stored copy). Text is never taken for a path: the REST API, MCP
    and the page's track list send text, and a server path there (the studio's own database, say)
    would have the app open a file its caller named. The refusal looks at no file, so it says
    nothing of whether a path exists."""
    if choice is None or (isinstance(choice, str) and choice.strip().lower() in NO_MUSIC):
        return None
    if isinstance(choice, Path):
        if not choice.is_file():
            raise AudioError(f"The music file {choice.name} is missing; upload it again.",
                             f"音乐文件 {choice.name} 不见了，请重新上传。")
        return choice
    tracks = load_tracks() if tracks is None else tracks
    key = str(choice).strip()
    for track in tracks.values():
        if key.lower() in (track.id, track.name.en.lower()) or key == track.name.zh:
            if not track.file.is_file():
                raise AudioError(
                    f"The file of track {track.id!r} is missing ({track.file.name}). "
                    "Run `python scripts/make_music.py` to render it.",
                    f"配乐 {track.id!r} 的文件缺失（{track.file.name}）。请运行 `python scripts/make_music.py` 重新生成。",
                )
            return track.file
    raise unknown_track(choice, tracks)


def unknown_track(choice: object, tracks: dict[str, Track]) -> AudioError:
    """The refusal of music that is not a track id: the ids to choose from, the value shortened."""
    shown = str(choice) if len(str(choice)) <= 60 else str(choice)[:57] + "..."
    valid = ", ".join(["none", *tracks])
    return AudioError(
        f"Unknown music {shown!r}: music is chosen by track id. Choose one of: {valid}.",
        f"未知的配乐 {shown!r}：配乐须用配乐 id 指定。可选：{valid}。",
    )


# ---------------------------------------------------------------- reading the MP4 (no process)

@dataclass(frozen=True)
class Mp4Info:
    duration: float  # seconds, of the video track
    video_codec: str  # sample entry fourcc: "avc1"/"avc3" for H.264
    has_audio: bool


def read_mp4(path: str | Path) -> Mp4Info:
    """Read the first video track's codec and duration from the MP4's boxes (a few kB of I/O).

    Raises `VideoError` when the file is not an MP4 with a video track.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"Video file not found: {path.name}.", f"找不到视频文件：{path.name}。")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            top = {kind: (start, end) for kind, start, end in _boxes(f, 0, size)}
            if "ftyp" not in top or "moov" not in top:
                raise ValueError("no ftyp/moov box")
            tracks = [_read_trak(f, start, end) for kind, start, end in _boxes(f, *top["moov"]) if kind == "trak"]
    except (ValueError, struct.error, OSError) as exc:
        raise _not_mp4(path) from exc
    videos = [t for t in tracks if t[0] == "vide"]
    if not videos:
        raise _not_mp4(path)
    _, codec, duration = videos[0]
    if duration <= 0:
        # Fragmented MP4s keep durations in their fragments: ask ffmpeg instead.
        duration = probe(path).duration
    return Mp4Info(duration=duration, video_codec=codec, has_audio=any(t[0] == "soun" for t in tracks))


def _not_mp4(path: Path) -> VideoError:
    return VideoError(
        f"{path.name} is not an MP4 video we can read. Use an MP4 made by this studio.",
        f"{path.name} 不是可读取的 MP4 视频。请使用本工具生成的 MP4。",
    )


def _boxes(f: BinaryIO, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """Yield (type, payload start, payload end) for the boxes between two file offsets."""
    pos = start
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"bad box size at offset {pos}")
        yield kind.decode("latin-1"), pos + header, pos + size
        pos += size


def _child(f: BinaryIO, start: int, end: int, kind: str) -> tuple[int, int]:
    for found, s, e in _boxes(f, start, end):
        if found == kind:
            return s, e
    raise ValueError(f"no {kind} box")


def _read_trak(f: BinaryIO, start: int, end: int) -> tuple[str, str, float]:
    """(handler type, first sample entry fourcc, duration in s) of one track."""
    mdia = _child(f, start, end, "mdia")
    f.seek(_child(f, *mdia, "hdlr")[0] + 8)  # version/flags, pre_defined
    handler = f.read(4).decode("latin-1")
    mdhd = _child(f, *mdia, "mdhd")[0]
    f.seek(mdhd)
    version = f.read(1)[0]
    if version == 1:
        f.seek(mdhd + 4 + 16)  # version/flags, 64-bit creation and modification times
        timescale, duration = struct.unpack(">IQ", f.read(12))
    else:
        f.seek(mdhd + 4 + 8)
        timescale, duration = struct.unpack(">II", f.read(8))
    stbl = _child(f, *_child(f, *_child(f, *mdia, "minf"), "stbl"), "stsd")
    f.seek(stbl[0] + 8 + 4)  # version/flags, entry count, first entry's size
    codec = f.read(4).decode("latin-1")
    return handler, codec, duration / timescale if timescale else 0.0


# ---------------------------------------------------------------- shaping the audio

def _decode(path: Path, seconds: float) -> AudioSegment:
    """Decode at most `seconds` of the first audio stream to 48 kHz stereo 16-bit."""
    direct = _read_plain_wav(path, seconds)
    if direct is not None:
        return direct
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *input_args(path, AUDIO_DEMUXERS),
        "-map", "0:a:0", "-t", f"{seconds:.3f}", "-ac", "2", "-ar", str(SAMPLE_RATE),
        "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1",
    ]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace")
        if "matches no streams" in reason:
            raise AudioError(
                f"{path.name} has no sound track. Choose an audio file (MP3, WAV, M4A, OGG, FLAC).",
                f"{path.name} 没有音轨。请选择音频文件（MP3、WAV、M4A、OGG、FLAC）。",
            )
        raise AudioError(
            f"{path.name} is not an audio file we can read. Use MP3, WAV, M4A, OGG or FLAC.",
            f"无法读取 {path.name}，它不是可用的音频文件。请使用 MP3、WAV、M4A、OGG 或 FLAC。",
        )
    usable = len(proc.stdout) - len(proc.stdout) % 4  # whole stereo 16-bit frames
    if usable == 0:
        raise AudioError(
            f"{path.name} contains no sound (it decodes to zero samples). Choose another file.",
            f"{path.name} 不含任何声音（解码后为空）。请换一个文件。",
        )
    return AudioSegment(data=proc.stdout[:usable], sample_width=2, frame_rate=SAMPLE_RATE, channels=2)


def check_audio(path: str | Path) -> None:
    """Decode a tenth of a second, so a file that is not audio is refused before any rendering."""
    _decode(Path(path), 0.1)


def _read_plain_wav(path: Path, seconds: float) -> AudioSegment | None:
    """A 48 kHz 16-bit PCM WAV (mono or stereo) needs no decoding: read its first `seconds`
    directly and save an ffmpeg process. None for anything else, which goes through ffmpeg."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels = wav.getnchannels()
            if wav.getsampwidth() != 2 or wav.getframerate() != SAMPLE_RATE or channels not in (1, 2):
                return None
            data = wav.readframes(math.ceil(seconds * SAMPLE_RATE))
    except (wave.Error, EOFError, OSError):
        return None
    usable = len(data) - len(data) % (2 * channels)
    if usable == 0:
        return None
    segment = AudioSegment(data=data[:usable], sample_width=2, frame_rate=SAMPLE_RATE, channels=channels)
    return segment.set_channels(2) if channels == 1 else segment


def fit_audio(segment: AudioSegment, frames: int) -> AudioSegment:
    """Exactly `frames` samples: trimmed, or repeated with a short crossfade at each seam."""
    if segment.frame_count() < frames:
        crossfade = min(LOOP_CROSSFADE_MS, int(len(segment) / 4))  # pydub lengths are in ms
        # Doubling keeps the work O(n log n) even for a tiny sound under a long clip.
        while segment.frame_count() < frames:
            segment = segment.append(segment, crossfade=crossfade)
    return segment.get_sample_slice(0, frames)


def shape_audio(segment: AudioSegment, volume: float) -> AudioSegment:
    """Loudness to the target (peaks capped), then `volume` (0..1), then fades."""
    if volume <= 0.0:
        return AudioSegment(data=bytes(len(segment.raw_data)), sample_width=2, frame_rate=segment.frame_rate, channels=2)
    if segment.rms > 0:
        gain = min(TARGET_DBFS - segment.dBFS, PEAK_CEILING_DBFS - segment.max_dBFS)
        segment = segment.apply_gain(gain + 20.0 * math.log10(volume))
    length_ms = len(segment)
    fade_in = min(FADE_IN_MS, length_ms // 10)
    fade_out = min(FADE_OUT_MS, length_ms // 5)
    if fade_in:
        segment = segment.fade_in(fade_in)
    if fade_out:
        segment = segment.fade_out(fade_out)
    return segment


# ---------------------------------------------------------------- public steps

def add_music(video_path: str | Path, music: str | Path | None, out_path: str | Path, volume: float = 0.8) -> Path:
    """Lay `music` (track id, audio file, or None/"none" for silence) under an MP4.

    The video stream is copied, never re-encoded; an existing audio track is replaced. The audio
    lasts as long as the video (within one AAC frame, ~21 ms). `out_path` may equal `video_path`.
    """
    # 1. Check inputs.
    if isinstance(volume, bool) or not isinstance(volume, (int, float)) or not 0.0 <= volume <= 1.0:
        raise InvalidRequest(
            f"volume={volume!r} must be a number between 0 and 1.", f"音量 {volume!r} 必须是 0 到 1 之间的数。"
        )
    video_path, out_path = Path(video_path), Path(out_path)
    music_file = resolve_music(music)
    info = read_mp4(video_path)
    if info.duration > MAX_CLIP_SECONDS:
        raise VideoError(
            f"{video_path.name} lasts {info.duration:.0f} s; music can be added to clips up to "
            f"{MAX_CLIP_SECONDS:.0f} s.",
            f"{video_path.name} 长 {info.duration:.0f} 秒；只能为 {MAX_CLIP_SECONDS:.0f} 秒以内的视频添加配乐。",
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Work files live in a folder beside the output (so the final rename stays on one filesystem);
    # the finished file is renamed into place, and a crash leaves only the folder, which
    # media.sweep_leftovers removes at the next start.
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=MUSIC_WORK_PREFIX) as tmp:
        work = Path(tmp)
        merged = work / "out.mp4"
        if music_file is None:
            _strip_audio(video_path, merged)
        else:
            # 2. Decode only what the clip needs.
            segment = _decode(music_file, info.duration + DECODE_MARGIN)
            # 3. Fit, level and fade in memory.
            segment = shape_audio(fit_audio(segment, round(info.duration * SAMPLE_RATE)), float(volume))
            # 4. Encode AAC; the same process sets aside the video without its old audio.
            audio = work / "music.m4a"
            video = work / "video.mp4" if info.has_audio else video_path
            _encode_aac(segment, audio, video_path if info.has_audio else None, video)
            # 5. Mux by stream copy.
            _merge(video, audio, merged, video_path.name)
        os.replace(merged, out_path)
    return out_path


def change_music(video_path: str | Path, music: str | Path | None, out_path: str | Path, volume: float = 0.8) -> Path:
    """Replace the music of a finished H.264 MP4; "none" leaves a silent copy (stream copy)."""
    video_path = Path(video_path)
    info = read_mp4(video_path)
    if info.video_codec not in H264_CODECS:
        raise VideoError(
            f"{video_path.name} is an MP4 but its video is {info.video_codec!r}, not H.264. "
            "Change the music of videos made by this studio.",
            f"{video_path.name} 虽是 MP4，但视频编码为 {info.video_codec!r}，不是 H.264。请对本工具生成的视频更换配乐。",
        )
    return add_music(video_path, music, out_path, volume=volume)


def _encode_aac(segment: AudioSegment, audio_out: Path, video_in: Path | None, video_out: Path) -> None:
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "s16le", "-ar", str(segment.frame_rate), "-ac", "2", "-i", "pipe:0",
    ]
    if video_in is not None:
        cmd += input_args(video_in, MP4_DEMUXERS)
    cmd += ["-map", "0:a", "-c:a", "aac", "-b:a", AAC_BITRATE, str(audio_out)]
    if video_in is not None:
        cmd += ["-map", "1:v:0", "-c:v", "copy", "-an", str(video_out)]
    proc = subprocess.run(cmd, input=segment.raw_data, capture_output=True)
    if proc.returncode != 0:
        raise VideoError(
            f"Encoding the music failed: {proc.stderr.decode(errors='replace').strip()[-300:]}",
            f"配乐编码失败：{proc.stderr.decode(errors='replace').strip()[-300:]}",
        )


def _merge(video: Path, audio: Path, out: Path, name: str) -> None:
    """What moviepy's `ffmpeg_merge_video_audio` runs (both streams copied), with our demuxer
    whitelist on each input: `video` may be the caller's own file."""
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        *input_args(audio, MP4_DEMUXERS), *input_args(video, MP4_DEMUXERS),
        "-vcodec", "copy", "-acodec", "copy", str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        said = proc.stderr.decode(errors="replace").strip()[-300:]
        raise VideoError(f"Could not add music to {name}: {said}", f"无法为 {name} 添加配乐：{said}")


def _strip_audio(video_in: Path, video_out: Path) -> None:
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *input_args(video_in, MP4_DEMUXERS),
        "-map", "0:v:0", "-c:v", "copy", "-an", "-movflags", "+faststart", str(video_out),
    ]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise VideoError(
            f"Could not copy {video_in.name}: {proc.stderr.decode(errors='replace').strip()[-300:]}",
            f"无法复制 {video_in.name}：{proc.stderr.decode(errors='replace').strip()[-300:]}",
        )

