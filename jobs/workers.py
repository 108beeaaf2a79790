"""Workers turn a request into a video. The service owns the line; a worker only renders.

`LocalWorker` renders in this process (the embedded default). `jobs.ray_workers.RayWorker` renders
in a Ray actor on any machine of a cluster and has the same shape, so the service, its lanes, its
cancel and its fault handling are the same for both: one thread of the service per worker claims
the next job when that worker is ready, so N workers render N jobs at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Protocol

from cogvideo import ProgressEvent, Studio, VideoRequest, VideoResult

IDLE, RENDERING, RESTARTING, BROKEN = "idle", "rendering", "restarting", "broken"


@dataclass(frozen=True)
class WorkerHealth:
    """Whether a worker takes jobs now, and if not why (for the status line and the operator)."""

    state: str = IDLE  # IDLE (ready), RESTARTING (lost, coming back) or BROKEN (parked for a while)
    reason: str = ""


@dataclass(frozen=True)
class WorkerState:
    """One worker as the status line shows it: its name (node, GPU), what it does, which job."""

    name: str
    state: str  # IDLE, RENDERING, RESTARTING, BROKEN
    job_id: str | None = None
    reason: str = ""
    remote: bool = False  # runs elsewhere (Ray): the status line names it instead of this server's device


class Worker(Protocol):
    name: str  # shown in job rows and status lines ("local", "gpu-node-1/GPU 0")
    remote: bool  # renders outside this process
    model: str  # the model it serves ("5b", "wan2.2-5b"): a new job is recorded for it
    models: frozenset[str]  # every name of it (lower case; "wan2.2-5b", "wan2.2-5b-i2v"): jobs it takes

    def validate(self, request: VideoRequest) -> None:
        """Raise the studio's `InvalidRequest` for a request this worker could never run."""

    def run(
        self, request: VideoRequest, progress: Callable[[ProgressEvent], None], cancel: threading.Event,
        job_id: str | None = None,
    ) -> VideoResult:
        """Render; raise `Cancelled` soon after `cancel` is set, `StudioError` for the user's faults,
        `WorkerLost` when the worker itself went away mid-job (the service runs the job again)."""

    def ready(self) -> bool:
        """False while the worker cannot take a job (restarting, parked after failures)."""

    def health(self) -> WorkerHealth:
        """What `ready` decided, with the reason."""

    def close(self) -> None:
        """The service is stopping: end a running `run` soon (its job stays for the next start)."""


class LocalWorker:
    remote = False

    def __init__(self, studio: Studio, name: str = "local"):
        self.studio = studio
        self.name = name

    @property
    def output_dir(self):
        return self.studio.output_dir

    @property
    def model(self) -> str:
        return self.studio.model

    @property
    def models(self) -> frozenset[str]:
        return self.studio.model_names

    def validate(self, request: VideoRequest) -> None:
        self.studio.validate(request)

    def run(self, request, progress, cancel, job_id=None) -> VideoResult:
        return self.studio.generate(request, progress=progress, cancel=cancel)

    def ready(self) -> bool:
        return True

    def health(self) -> WorkerHealth:
        return WorkerHealth()

    def close(self) -> None:
        """A render in this process cannot be interrupted from outside; the service stops waiting."""
