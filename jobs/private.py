"""The data folder is private to the user running the studio: folder 0700, secrets 0600.

`studio.db` holds password hashes and sealed API-key secrets, `api-keys.secret` the key that
opens them; with the default umask (022) SQLite and `mkdir` made them readable by every local
user. Now the folder is created 0700 and the database file is made 0600 before SQLite opens it
(SQLite gives its `-wal` and `-shm` files the database file's mode). A folder or file that already
exists with looser modes is tightened, with a log line saying so. POSIX only: on Windows modes
mean little and nothing is changed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600
MASTER_NAME = "api-keys.secret"  # jobs/keys.py: the key that opens the sealed API-key secrets


def make_private_folder(folder: Path) -> None:
    """Create `folder` (and its parents) if missing, the folder itself 0700; tighten it if looser."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    tighten(folder, FOLDER_MODE)


def create_private_file(path: Path) -> None:
    """Make `path` an empty 0600 file if it does not exist (an empty file is an empty SQLite
    database), so the file is never readable by others, not even for a moment."""
    if os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def tighten(path: Path, mode: int) -> None:
    """Take away any permission beyond `mode` (group and others), logging it; a path that is
    missing, or that this user may not chmod, is left as it is (a warning for the latter)."""
    if os.name != "posix":
        return
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if current & ~mode == 0:
        return
    try:
        os.chmod(path, current & mode)
    except OSError as exc:
        log.warning("%s is readable by other users (mode %o) and could not be made private: %s", path, current, exc)
        return
    log.warning("%s was open to other users (mode %o): now %o, as the studio's private data should be",
                path, current, current & mode)
