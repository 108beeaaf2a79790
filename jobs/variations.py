"""Variations: several videos from one prompt, each a normal job with the next seed.

    batch = submit_variations(service, VideoRequest(prompt="a cat", seed=7), 3, owner="local")
    [job.request["seed"] for job in batch.jobs]   # [7, 8, 9]

Each variation is submitted like any other job (the caller's lane, the per-user cap, the queue
limit), so nothing here can take more of the line than single submits could. When the caller's
share of the line runs out part way, the jobs that fit are kept and `batch.refused` says how many
did not: the page says so plainly rather than losing what the user already got in line.
"""

from __future__ import annotations

import dataclasses
import secrets

from cogvideo import VideoRequest
from cogvideo.errors import InvalidRequest
from cogvideo.request import MAX_SEED

from .errors import DailyQuotaSpent, JobError, QueueFull, TooManyJobs
from .job import LOCAL_OWNER, Job

MAX_VARIATIONS = 4  # what the page offers at most, whatever the cap (each is a full render)


@dataclasses.dataclass(frozen=True)
class Batch:
    """The jobs submitted (in seed order) and how many of the asked count did not fit."""

    jobs: list[Job]
    refused: int = 0
    reason: JobError | None = None  # why the rest did not fit (the per-user cap, a full queue)

    @property
    def asked(self) -> int:
        return len(self.jobs) + self.refused


def check_count(value) -> int:
    """The count as an int, or `InvalidRequest` naming the value (an API caller's; the page offers
    only 1..MAX_VARIATIONS). Gradio sends numbers as floats."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VARIATIONS:
        raise InvalidRequest(
            f"variations={value!r} must be a whole number from 1 to {MAX_VARIATIONS}.",
            f"生成数量 {value!r} 必须是 1 到 {MAX_VARIATIONS} 之间的整数。",
        )
    return value


def seeds(first: int, count: int) -> list[int]:
    """`count` consecutive seeds from `first` (-1: a random start), wrapping past MAX_SEED so every
    one stays a valid seed."""
    start = secrets.randbelow(MAX_SEED + 1) if first == -1 else first
    return [(start + index) % (MAX_SEED + 1) for index in range(count)]


def allowance(service, owner: str = LOCAL_OWNER, quota_key: str | None = None) -> int:
    """How many variations the caller may submit now: their share of the line left (the per-user
    cap minus their waiting and rendering jobs) and their free videos left today, at most
    MAX_VARIATIONS; MAX_VARIATIONS when neither limits them. May be 0 (their share is taken, or
    today's videos are made)."""
    cap = service.max_queue_per_user
    left = MAX_VARIATIONS if cap <= 0 else cap - service.active_count(owner, quota_key)
    free = service.free_videos_left(owner, quota_key)
    return max(0, min(MAX_VARIATIONS, left, MAX_VARIATIONS if free is None else free))


def submit_variations(service, request: VideoRequest, count, owner: str = LOCAL_OWNER,
                      quota_key: str | None = None, lane: str | None = None) -> Batch:
    """Submit `count` jobs of `request` with seeds s, s+1, … (s: the request's seed, or a random one).
    The first refusal of the line (the cap, a full queue, today's free videos made) ends the batch: with nothing submitted it
    is raised; otherwise the jobs submitted so far are returned with the number that did not fit."""
    count = check_count(count)
    service.workers[0].validate(request)  # a bad value is said once, before any job exists
    jobs: list[Job] = []
    for seed in seeds(request.seed, count):
        try:
            jobs.append(service.submit(dataclasses.replace(request, seed=seed), owner, lane=lane,
                                       quota_key=quota_key))
        except (TooManyJobs, QueueFull, DailyQuotaSpent) as exc:
            if not jobs:
                raise
            return Batch(jobs, count - len(jobs), exc)
    return Batch(jobs)
