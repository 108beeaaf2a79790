"""One serving process per data folder: an OS file lock that dies with its process.

`kill -9` releases an flock at once, so a crash never leaves a stale lock behind; the PID written
into the file only serves the message shown to a second process.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataDirError

LOCK_NAME = "studio.lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class DataDirLock:
    def __init__(self, data_dir: str | Path):
        self.path = Path(data_dir) / LOCK_NAME
        self._file = None

    def acquire(self) -> "DataDirLock":
        handle = open(self.path, "a+")
        try:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirError(
                f"Another CogVideoX Studio (PID {owner}) is already using the data folder {self.path.parent}. "
                "Stop it first, or start this one with another --data-dir.",
                f"另一个 CogVideoX Studio 进程（PID {owner}）正在使用数据目录 {self.path.parent}。"
                "请先停止它，或用其他 --data-dir 启动本进程。",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None

    def __enter__(self) -> "DataDirLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
