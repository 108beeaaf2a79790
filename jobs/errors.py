"""Errors of the job service, each with a message for the person (English and Chinese).

They extend `cogvideo.errors.StudioError`, so every face already turns them into its own
message (a toast, a CLI line, an HTTP body, its status from the class) the same way as the
engine's errors.
"""

from __future__ import annotations

import math
import time

from cogvideo.errors import StudioError


class JobError(StudioError):
    """Base class of the service's errors."""


class QueueFull(JobError):
    """The queue holds its maximum of waiting jobs; the caller should try again later."""

    status = 429
    retry_after = 60


class TooManyJobs(JobError):
    """The owner (or, for anonymous visitors, their address) already has the most jobs waiting or
    rendering that one user may have at a time (`--max-queue-per-user`)."""

    status = 429
    retry_after = 30  # frees when one of the caller's videos is done: seconds to minutes

    def __init__(self, active: int):
        super().__init__(
            f"You already have {active} videos waiting or rendering, the most one user may have at a time. "
            "Wait for one to finish, or cancel one (in My works), then try again.",
            f"你已有 {active} 个视频在排队或生成中，已达每位用户同时可有的上限。请等其中一个完成，"
            "或在“我的作品”中取消一个，然后再试。",
        )
        self.active = active


class DailyQuotaSpent(JobError):
    """The caller has made today's free videos in the standard lane (`--free-videos-per-day`); they
    come back at the server's next local midnight, `resets_at`."""

    status = 429

    def __init__(self, per_day: int, resets_at: float, now: float):
        at = time.strftime("%H:%M", time.localtime(resets_at))  # the server's clock: 00:00 but on odd DST days
        super().__init__(
            f"Today's free videos are used up ({per_day} a day). They come back at {at}.",
            f"今天的免费额度已用完（每天 {per_day} 个）。将在 {at} 重置。",
        )
        self.per_day = per_day
        self.resets_at = resets_at
        # Per refusal (seconds to midnight): shadows the class's default.
        self.retry_after = max(1, math.ceil(resets_at - now))  # type: ignore[misc]


class JobNotFound(JobError):
    """No such job for this user. Another user's job gets the same answer, on purpose."""

    status = 404

    def __init__(self, job_id: str):
        shown = str(job_id)[:64]
        super().__init__(
            f"No job {shown!r} was found in your works. It may have been deleted.",
            f"在你的作品中找不到任务 {shown!r}，它可能已被删除。",
        )


class RequestIdConflict(JobError):
    """An API caller reused its request_id for a different request."""

    status = 409

    def __init__(self, request_id: str):
        shown = str(request_id)[:128]
        super().__init__(
            f"request_id {shown!r} was already used for a different request. Use a new request_id, "
            "or send the same request again to get its job.",
            f"request_id {shown!r} 已用于另一个不同的请求。请换一个新的 request_id，或发送完全相同的请求以取回原任务。",
        )


class DataDirError(JobError):
    """The data folder or its database cannot be used (another studio process serves it, say);
    the server refuses to start."""


class UserError(JobError):
    """A users command with a bad name, lane or password."""

    status = 400


class UnknownUser(UserError):
    """No user of that name."""

    status = 404


class WorkerLost(JobError):
    """The worker rendering a job went away mid-job (its process killed, out of memory, its machine
    lost). The service runs the job once more on any healthy worker, then fails it with this reason."""

    def __init__(self, worker: str, reason_en: str, reason_zh: str | None = None, started: bool = True):
        super().__init__(
            f"The worker {worker} was lost while rendering: {reason_en}.",
            f"渲染中的工作进程 {worker} 已丢失：{reason_zh or reason_en}。",
        )
        self.worker = worker
        self.reason = reason_en
        self.started = started  # False: the worker never began the job (it does not count as a try)


class WorkersUnavailable(JobError):
    """The workers cannot start: Ray cannot start or be reached, or the cluster lacks what they need.
    The app says so at start-up and exits; it never falls back to another kind of worker."""

    status = 503
