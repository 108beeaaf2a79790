"""Which ffmpeg demuxers may read a file that a user gave us, and what its copy is named.

ffmpeg chooses a demuxer from a file's content and its name, and some demuxers open *other*
files named inside the one they read: an HLS playlist (`.m3u8`) names segments, a concat list
(`ffconcat version 1.0`, whatever the file is called) names clips, an image sequence names its
frames. An upload called `clip.m3u8` that lists a local MP4 gave that MP4's frames to a job
that never had it. So every ffmpeg that reads a user's file (or a file a user may have put in
front of us) gets `input_args`: the `file` protocol only, and only the demuxers below; and the
copies a job keeps are named after the container their bytes show (`video_suffix`,
`audio_suffix`), never after the name the user gave.
"""

from __future__ import annotations

from pathlib import Path

# Clips: MP4/MOV/3GP (ffmpeg's "mov" demuxer), WebM/MKV ("matroska"), AVI and animated GIF;
# the single-picture demuxers only so that a picture gets "this is a picture" rather than "not
# a video". None of them opens a second file (mov's external references are off by default).
VIDEO_DEMUXERS = ("mov", "matroska", "avi", "gif", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe")
# Music: WAV, MP3, M4A/AAC in MP4 ("mov"), OGG/Opus, FLAC, WebM/MKA audio, raw ADTS AAC.
AUDIO_DEMUXERS = ("wav", "mp3", "mov", "ogg", "flac", "matroska", "aac")
# Our own MP4s (music muxing, GIFs, probes): still a file a caller may have chosen.
MP4_DEMUXERS = ("mov",)


def input_args(path: str | Path, demuxers: tuple[str, ...]) -> list[str]:
    """ffmpeg input options and `-i` for one local file read with only `demuxers`.

    The path is given as `file:` plus its absolute form, so a name such as `pipe:0` or `http:x`
    is never taken for a protocol."""
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(demuxers),
            "-i", f"file:{Path(path).absolute()}"]


def video_suffix(head: bytes) -> str | None:
    """`.mp4`, `.mov`, `.webm`, `.mkv`, `.avi` or `.gif` from a clip's first 64 bytes; None for
    anything else."""
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):  # QuickTime files without ftyp
        return ".mov"
    if head[:4] == b"\x1aE\xdf\xa3":  # EBML: WebM is Matroska with the doc type "webm"
        return ".webm" if b"webm" in head else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    return None


def audio_suffix(head: bytes) -> str | None:
    """`.wav`, `.mp3`, `.m4a`, `.ogg`, `.flac`, `.mka` or `.aac` from an audio file's first 64
    bytes; None for anything else."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return ".wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return ".mp3"  # an ID3 tag, or an MPEG audio layer III frame header
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"\x1aE\xdf\xa3":
        return ".mka"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS (raw AAC)
        return ".aac"
    return None


def sniff(path: str | Path, kind: str) -> str | None:
    """The suffix for a file of `kind` ("video" or "audio") from its bytes; None if unknown."""
    with open(path, "rb") as f:
        head = f.read(64)
    return video_suffix(head) if kind == "video" else audio_suffix(head)
