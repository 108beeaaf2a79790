"""Workers turn a request into a video. The service owns the line; a worker only renders.

`LocalWorker` renders in this process (the embedded default). A worker elsewhere (Ray) has the
same `run` shape, so the service, its lanes and its faults handling are the same for both.
"""

from __future__ import annotations

import threading
from typing import Callable, Protocol

from cogvideo import ProgressEvent, Studio, VideoRequest, VideoResult


class Worker(Protocol):
    name: str  # shown in job rows and status lines ("local", "node-1/GPU 0")

    def validate(self, request: VideoRequest) -> None:
        """Raise the studio's `InvalidRequest` for a request this worker could never run."""

    def run(
        self, request: VideoRequest, progress: Callable[[ProgressEvent], None], cancel: threading.Event
    ) -> VideoResult:
        """Render; raise `Cancelled` soon after `cancel` is set, `StudioError` for the user's faults."""


class LocalWorker:
    def __init__(self, studio: Studio, name: str = "local"):
        self.studio = studio
        self.name = name

    @property
    def output_dir(self):
        return self.studio.output_dir

    def validate(self, request: VideoRequest) -> None:
        self.studio.validate(request)

    def run(self, request, progress, cancel) -> VideoResult:
        return self.studio.generate(request, progress=progress, cancel=cancel)
