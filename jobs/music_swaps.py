"""A music swap (换配乐) of a finished work, kept: as a new work beside the original, or in its place.

`Studio.change_music` writes the new MP4 into the output folder's `music-swaps/`, which
`cogvideo.media.downloads.sweep` empties a day later. Kept, the file moves next to the job outputs
(where nothing sweeps), private to the server's user as `jobs/private.py` keeps its files, and the
job store records it:

- **new work** (the default): a new finished job of the same owner, with the original's settings,
  the new music and volume, `swapped_from` naming the original, and its own copies of the cover
  and the input files (deleting either work never takes the other's files);
- **replace**: the original's row names the new file and music; its old file is removed only
  after the row names the new one.

The work is named by its id and checked against its owner: a caller never names a file.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
import time
import uuid
from pathlib import Path

from cogvideo.media import codec

from .diskspace import check_free, disk_full, is_disk_full
from .errors import JobError
from .job import SUCCEEDED, Job
from .private import FILE_MODE, tighten
from .records import INPUTS, _keep, input_folder

log = logging.getLogger("cogvideo.jobs")

NEW_WORK, REPLACE = "new", "replace"
KEEP_CHOICES = (NEW_WORK, REPLACE)


class NotSwappable(JobError):
    """The work has no finished video to lay other music under (it is waiting, failed, cancelled):
    409, the work's state, not the request, is in the way."""

    status = 409

    def __init__(self):
        super().__init__(
            "This work has no finished video yet, so its music cannot be changed. Wait until it is done, "
            "or pick a finished work.",
            "该作品还没有完成的视频，无法更换配乐。请等它生成完成，或选择一个已完成的作品。",
        )


def swap_music(service, studio, job_id: str, owner: str, music: str | Path | None, volume: float,
               keep: str = NEW_WORK) -> Job:
    """Lay `music` (a track id, or an uploaded file as a Path) under the owner's finished work
    `job_id` and keep the result as `keep` says; returns the job that now holds it (the new work,
    or the original with its new file)."""
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep={keep!r} must be one of {KEEP_CHOICES}")
    job = service.get(job_id, owner)  # another user's work is "not found", like a missing one
    if job.status != SUCCEEDED or not job.video or not Path(job.video).is_file():
        raise NotSwappable()
    check_free(service.data_dir, service.min_free_bytes)
    try:
        swapped = studio.change_music(job.video, music or "none", volume)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(Path(job.video).parent, exc) from None
        raise
    return keep_swap(service.store, job, swapped, music, volume, keep)


def keep_swap(store, job: Job, swapped: Path, music: str | Path | None, volume: float, keep: str = NEW_WORK) -> Job:
    """Move the swap `swapped` (made by the studio from `job.video`) out of `music-swaps/` and
    record it. On any failure the files this made are removed and the swap stays where it was."""
    made: list[Path] = []
    folder = Path(job.video).parent
    try:
        if keep == NEW_WORK:
            return _as_new_work(store, job, Path(swapped), music, volume, made)
        return _in_place(store, job, Path(swapped), music, volume, made)
    except BaseException as exc:
        for path in reversed(made):
            _undo(path, Path(swapped))
        if isinstance(exc, (OSError, sqlite3.Error)) and is_disk_full(exc):
            raise disk_full(folder, exc) from None
        raise


def _as_new_work(store, job: Job, swapped: Path, music, volume: float, made: list[Path]) -> Job:
    new_id = uuid.uuid4().hex
    data_dir = store.data_dir
    # 1. Its own inputs (picture, clip) and its own music upload, under inputs/<new id>/.
    request = dict(job.request)
    old_inputs = input_folder(data_dir, job.id)
    if old_inputs.is_dir():
        made.append(input_folder(data_dir, new_id))
        shutil.copytree(old_inputs, input_folder(data_dir, new_id))
        for name in ("image", "video", "music_upload"):
            if request.get(name) and request[name].startswith(f"{INPUTS}/{job.id}/"):
                request[name] = f"{INPUTS}/{new_id}/" + request[name][len(f"{INPUTS}/{job.id}/"):]
    request.update(_music_record(music, volume, data_dir, new_id, made))
    # 2. Its own cover and colorized still (deleting one work removes its files).
    cover = _copy_beside(job.cover, made)
    info = dict(job.info or {})
    if info.get("colorized_image"):
        info["colorized_image"] = str(_copy_beside(info["colorized_image"], made))
    # 3. The video, out of music-swaps/ (the sweep never reaches it there).
    video = _move_in(swapped, Path(job.video).parent, made)
    info.update(video=str(video), cover=str(cover) if cover else None, music=_music_info(request, data_dir),
                swapped_from=job.id)
    now = time.time()
    # 4. One row, finished from the start: a worker never sees it queued.
    with store.transaction() as db:
        db.execute(
            "INSERT INTO jobs (id, owner, lane, mode, request, status, progress, created_at, started_at, "
            "finished_at, seed, prompt, video, cover, info, file_token) "
            "VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new_id, job.owner, job.lane, job.mode, json.dumps(request, ensure_ascii=False), SUCCEEDED, now, now,
             now, job.seed, job.prompt, str(video), str(cover) if cover else None,
             json.dumps(info, ensure_ascii=False), secrets.token_urlsafe(24)),
        )
    log.info("job %s: music swap kept as the new work %s", job.id, new_id)
    return store.get(new_id)


def _in_place(store, job: Job, swapped: Path, music, volume: float, made: list[Path]) -> Job:
    data_dir = store.data_dir
    request = dict(job.request)
    # A fresh name for a new upload, so the old one is removed only once the row names the new one.
    request.update(_music_record(music, volume, data_dir, job.id, made, fresh=True))
    video = _move_in(swapped, Path(job.video).parent, made)
    info = dict(job.info or {})
    info.update(video=str(video), music=_music_info(request, data_dir), music_changed=True)
    with store.transaction() as db:
        changed = db.execute(
            "UPDATE jobs SET video = ?, request = ?, info = ? WHERE id = ? AND owner = ? AND status = ? AND video = ?",
            (str(video), json.dumps(request, ensure_ascii=False), json.dumps(info, ensure_ascii=False), job.id,
             job.owner, SUCCEEDED, job.video),
        ).rowcount
    if not changed:  # deleted (or swapped by another page) meanwhile
        raise NotSwappable()
    # The row names the new file now: the old ones can go (and the GIFs made of the old video).
    old = Path(job.video)
    old.unlink(missing_ok=True)
    for gif in old.parent.glob(f"{old.stem}-*w-*fps.gif"):
        gif.unlink(missing_ok=True)
    upload = job.request.get("music_upload")
    if upload and upload != request.get("music_upload"):
        (data_dir / upload).unlink(missing_ok=True)
    log.info("job %s: music swap kept in place of its video", job.id)
    return store.get(job.id)


def _music_record(music, volume: float, data_dir: Path, job_id: str, made: list[Path], fresh: bool = False) -> dict:
    """The request's music fields for the new music: a track id as text, an upload copied into the
    job's inputs (as `records.to_record` keeps them)."""
    if isinstance(music, Path):
        folder = input_folder(data_dir, job_id)
        stem = f"music-{uuid.uuid4().hex[:8]}" if fresh else "music"
        existed = folder.is_dir()
        kept = _keep(music, folder, stem, data_dir)
        made.append(data_dir / kept if existed else folder)
        return {"music": None, "music_upload": kept, "music_volume": float(volume)}
    track = "none" if music is None or not str(music).strip() else str(music).strip()
    return {"music": track, "music_upload": None, "music_volume": float(volume)}


def _music_info(request: dict, data_dir: Path) -> str | None:
    """What the studio's result summary says of the music: the track, the upload, or nothing."""
    if request.get("music_upload"):
        return str(data_dir / request["music_upload"])
    track = request.get("music")
    return None if not track or str(track).lower() == "none" else track


def _copy_beside(name: str | None, made: list[Path]) -> Path | None:
    if not name or not Path(name).is_file():
        return None
    source = Path(name)
    target = codec.unique_video_path(source.parent, source.suffix)
    made.append(target)
    shutil.copyfile(source, target)
    tighten(target, FILE_MODE)
    return target


def _move_in(swapped: Path, folder: Path, made: list[Path]) -> Path:
    if not swapped.is_file():
        raise NotSwappable()
    target = codec.unique_video_path(folder, ".mp4")
    shutil.move(swapped, target)  # a rename on one file system: no space needed, never half a file
    made.append(target)
    tighten(target, FILE_MODE)
    return target


def _undo(path: Path, swapped: Path) -> None:
    """Take back one file this keep made; the moved swap goes back to `music-swaps/`."""
    try:
        if path.suffix == ".mp4" and path.is_file() and not swapped.exists():
            os.replace(path, swapped)
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not take back %s after a failed keep: %s", path, exc)
