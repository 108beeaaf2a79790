"""Ray for the tests: where it cannot start, its tests skip with the reason, unless
STUDIO_REQUIRE_RAY=1 (set by .ci/run) makes that a failure, as STUDIO_REQUIRE_BROWSER does for the
browser tests."""

from __future__ import annotations

import os
import re
import time

import psutil
import pytest

REQUIRED = os.environ.get("STUDIO_REQUIRE_RAY") == "1"
# Small enough for a 2-core, 24 GiB machine shared with other work; files pass in 8 MiB pieces.
OBJECT_STORE = 100 * 2**20


def unavailable(reason: str) -> None:
    """Skip, or fail where Ray is required."""
    if REQUIRED:
        pytest.fail(f"STUDIO_REQUIRE_RAY=1 but {reason}")
    pytest.skip(reason)


def require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        unavailable(f"Ray is not installed ({exc}): pip install -r requirements.txt")


def ray_processes(root_pid: int) -> list[psutil.Process]:
    """The processes under `root_pid` (an app and its embedded Ray), found while it runs."""
    try:
        return psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(processes: list[psutil.Process]) -> list[str]:
    left = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {process.name()}")
        except psutil.NoSuchProcess:
            pass
    return left


def wait_gone(processes: list[psutil.Process], timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


GCS_ADDRESS = re.compile(r"Ray: .*?\((\d+\.\d+\.\d+\.\d+:\d+)\)")
