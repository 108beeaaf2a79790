"""Files made only to be downloaded: a video's GIF (表情包) and its music swap (换配乐).

No job owns them, so nothing that removes jobs removes them. Each kind has its own folder under
the output folder, and a file there is removed once it is a day old: when a studio starts, and
each time another GIF or music swap is made (so the folders hold about a day's worth, however busy
the server). A face that keeps one for good (the REST API's GIF beside its job's video, a music
swap kept as a new work) moves it out of these folders first; job outputs in the output folder
itself are never touched here.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from cogvideo.media import codec

GIF_FOLDER = "gifs"
SWAP_FOLDER = "music-swaps"
KEEP_S = 24 * 3600.0
# Only names this studio makes (codec.unique_video_path: "YYYYmmdd-HHMMSS-<10 hex>"), so a folder
# that happens to share the name in an operator's own --output-dir (~/Videos/gifs) keeps its files.
_MADE = {GIF_FOLDER: re.compile(r"\d{8}-\d{6}-[0-9a-f]{10}\.gif"),
         SWAP_FOLDER: re.compile(r"\d{8}-\d{6}-[0-9a-f]{10}\.mp4")}


def new_path(output_dir: str | Path, folder: str) -> Path:
    """A fresh file name in `folder` (GIF_FOLDER or SWAP_FOLDER) of the output folder."""
    if folder not in _MADE:
        raise ValueError(f"folder must be one of {sorted(_MADE)}, got {folder!r}")
    return codec.unique_video_path(Path(output_dir) / folder, ".gif" if folder == GIF_FOLDER else ".mp4")


def sweep(output_dir: str | Path, keep_s: float = KEEP_S) -> int:
    """Remove GIFs and music swaps last written more than `keep_s` seconds ago, and the temporary
    files a crash left in their folders; returns how many files were removed."""
    cutoff = time.time() - keep_s
    removed = 0
    for folder, made in _MADE.items():
        path = Path(output_dir) / folder
        removed += codec.sweep_leftovers(path)
        try:
            with os.scandir(path) as listing:
                entries = [entry for entry in listing if made.fullmatch(entry.name)]
        except OSError:
            continue  # no such folder yet
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue  # removed by another process meanwhile
    return removed
