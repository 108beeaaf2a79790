"""再来一次 (make it again): a job's request once more with a new seed, as a new job of the caller's.

The stored request is the truth of "the same settings": its picture, clip and music are the copies
the studio made at submit time (inputs/<job id>/), so a new job can start from them even after the
upload cache is gone. They are copied again for the new job, so deleting either work leaves the
other whole.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cogvideo import VideoRequest
from cogvideo.request import MAX_SEED

from .job import Job
from .records import from_record

if TYPE_CHECKING:
    from .service import JobService


def new_seed(old: int | None) -> int:
    """A random seed that differs from `old` (the seed a job used, or -1): "again" must not
    render the same video twice."""
    while True:
        seed = secrets.randbelow(MAX_SEED + 1)
        if seed != old:
            return seed


def again_request(job: Job, data_dir: Path) -> VideoRequest:
    """The job's request with its input files found in the data folder and a new seed."""
    used = job.seed if job.seed is not None else job.request.get("seed")
    return dataclasses.replace(from_record(job.request, data_dir), seed=new_seed(used))


def submit_again(service: "JobService", job_id: str, owner: str, quota_key: str | None = None) -> Job:
    """Submit one of `owner`'s jobs again with a new seed, in the owner's lane now, under the same
    per-user cap as any submit (a full line or share raises the service's usual errors; another
    user's job is "not found")."""
    job = service.get(job_id, owner)
    return service.submit(again_request(job, service.data_dir), owner, quota_key=quota_key)
