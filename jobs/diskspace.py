"""A full data disk, recognised wherever it shows: SQLite's SQLITE_FULL, an OSError ENOSPC or
EDQUOT, the engine's `DiskFull`. The service turns each into the one `DiskFull` people see (no
folder in its words; the folder goes to the log)."""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
from pathlib import Path

from cogvideo.errors import DiskFull

log = logging.getLogger("cogvideo.jobs")

# Below this much free space on the data disk no new job is accepted: a job's inputs, its rows
# and its video need a few MB, and a disk this full fails them half-way.
MIN_FREE_BYTES = 16 * 2**20
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def is_disk_full(exc: BaseException) -> bool:
    """True for the ways a full disk (or a user's exhausted quota) reaches us."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS


def disk_full(folder: Path, exc: BaseException | None = None) -> DiskFull:
    """The error people see, logged with the folder (people never see it)."""
    log.error("the disk under %s is full (%s): free space there", folder, exc or "less than the minimum free")
    return DiskFull(folder)


def check_free(folder: Path, min_free: int = MIN_FREE_BYTES) -> None:
    """Refuse new work while the data disk has less than `min_free` bytes free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # cannot tell: the writes themselves will say
    if free < min_free:
        raise disk_full(folder)
