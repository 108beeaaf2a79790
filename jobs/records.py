"""A `VideoRequest` as the JSON a job row keeps, with its input files copied into the data folder.

The upload cache of the web server is temporary; a job must be able to run (again) after a restart,
so the picture, the clip (restyle, extend) and any uploaded music are copied to `inputs/<job id>/` at submit time, and the row
names them relative to the data folder (the folder can move).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from PIL import Image

from cogvideo import VideoRequest
from cogvideo.errors import InvalidRequest

from .errors import JobError

INPUTS = "inputs"
_KINDS_ZH = {"image": "图片", "music": "音乐", "video": "视频"}
_FILE_FIELDS = ("image", "music", "video")


def to_record(request: VideoRequest, data_dir: Path | None, job_id: str, is_track=lambda value: False,
              copy: bool = True) -> dict:
    """JSON values of the request; files copied under data_dir/inputs/<job_id>/ (with `copy=False`
    only marked, to compare two requests)."""
    record = {f.name: getattr(request, f.name) for f in dataclasses.fields(request) if f.name not in _FILE_FIELDS}
    folder = data_dir / INPUTS / job_id if copy else None
    record["image"] = None
    if request.image is not None:
        record["image"] = _keep(request.image, folder, "image", data_dir) if copy else "(image)"
    record["video"] = None
    if request.video is not None and str(request.video).strip():
        record["video"] = _keep(request.video, folder, "video", data_dir) if copy else "(video)"
    music = request.music
    record["music"] = None if music is None else str(music)
    record["music_upload"] = None
    # Only a Path is a file (an upload); text is a track id, never opened (cogvideo.media.music.resolve_music).
    if isinstance(music, Path):
        record["music"] = None
        record["music_upload"] = _keep(music, folder, "music", data_dir) if copy else "(music)"
    return record


def from_record(record: dict, data_dir: Path) -> VideoRequest:
    """The request again, with input files found in the data folder (or a clear reason)."""
    values = {f.name: record[f.name] for f in dataclasses.fields(VideoRequest) if f.name in record}
    if record.get("image"):
        values["image"] = _find(data_dir, record["image"], "picture", "图片")
    if record.get("video"):
        values["video"] = _find(data_dir, record["video"], "video", "视频")
    if record.get("music_upload"):
        values["music"] = _find(data_dir, record["music_upload"], "music file", "音乐文件")
    return VideoRequest(**values)


def input_folder(data_dir: Path, job_id: str) -> Path:
    return data_dir / INPUTS / job_id


def _keep(source, folder: Path, stem: str, data_dir: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Image.Image):
        target = folder / f"{stem}.png"
        source.save(target)
    else:
        path = Path(str(source))
        if not path.is_file():
            raise InvalidRequest(f"The uploaded {stem} file is missing; upload it again.",
                                 f"上传的{_KINDS_ZH.get(stem, '')}文件不见了，请重新上传。")
        target = folder / f"{stem}{_sniffed_suffix(path, stem)}"
        shutil.copyfile(path, target)
    return target.relative_to(data_dir).as_posix()


def _sniffed_suffix(path: Path, stem: str) -> str:
    """The copy's extension from its bytes, never from the name the user gave it: ffmpeg picks a
    demuxer by extension too, and `.m3u8` would make it a playlist that opens other files."""
    from cogvideo.media.demux import sniff

    if stem == "image":
        return "".join(path.suffixes[-1:]).lower()[:12] or ".bin"  # Pillow reads pictures by content alone
    return sniff(path, "video" if stem == "video" else "audio") or ".bin"


def _find(data_dir: Path, relative: str, what_en: str, what_zh: str) -> Path:
    path = (data_dir / relative).resolve()
    if data_dir.resolve() not in path.parents or not path.is_file():
        raise JobError(
            f"The input {what_en} of this job is gone ({relative}); it cannot run. Submit it again "
            "with the file.",
            f"该任务的输入{what_zh}已不存在（{relative}），无法运行。请重新上传后再提交。",
        )
    return path
