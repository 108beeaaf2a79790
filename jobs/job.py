"""One job as it crosses every boundary: the store's row, the service's answer, the faces' view."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bilingual import Text

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)

VIP, STANDARD = "vip", "standard"
LANES = (VIP, STANDARD)

# The owner of every job when the studio has no users: the single-user app of the first release.
LOCAL_OWNER = "local"

LANE_NAMES = {VIP: Text("fast lane", "VIP 快速通道"), STANDARD: Text("standard lane", "普通通道")}
STATUS_NAMES = {
    QUEUED: Text("queued", "排队中"),
    RUNNING: Text("rendering", "生成中"),
    SUCCEEDED: Text("done", "已完成"),
    FAILED: Text("failed", "失败"),
    CANCELLED: Text("cancelled", "已取消"),
}


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    lane: str
    mode: str
    request: dict  # the VideoRequest as JSON values; input files as paths inside the data folder
    status: str
    created_at: float
    seq: int = 0  # submission order: jobs run in this order within a lane
    progress: float = 0.0  # 0..1 while rendering
    message: Text = Text("", "")  # what is happening now ("Denoising step 3/50")
    position: int | None = None  # 1 = starts next; None when not queued
    attempts: int = 0  # times a worker started it (a restart mid-render re-runs it once)
    cancel_requested: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    seed: int | None = None
    prompt: str | None = None  # the final prompt sent to the model
    video: str | None = None  # absolute path of the MP4 in the output folder
    cover: str | None = None  # absolute path of the first frame as JPEG
    info: dict = field(default_factory=dict)  # the studio's result summary
    error: Text | None = None
    worker: str | None = None
    request_id: str | None = None  # the API caller's idempotency key (same key + id = same job)
    api_key: str | None = None  # id of the API key that submitted it
    file_token: str | None = None  # long random path part of the job's file URLs (works without a key)
    preview: str | None = None  # live only: a file to show before the video (old photo's colorized still)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def user_prompt(self) -> str:
        return self.request.get("prompt", "")

    @property
    def model(self) -> str | None:
        """The model that rendered it (the variant, e.g. "tiny-wan-i2v"), else the one it waits for
        (None: a job from before jobs recorded their model)."""
        return (self.info or {}).get("model") or self.request.get("model")

    def summary(self) -> dict:
        """A JSON-able view for API callers and the works gallery. No key is named "path":
        gradio_client would take the dict for a file."""
        return {
            "job_id": self.id,
            "status": self.status,
            "lane": self.lane,
            "mode": self.mode,
            "model": self.model,
            "prompt": self.user_prompt,
            "final_prompt": self.prompt,
            "negative_prompt": self.request.get("negative_prompt", ""),
            "style": self.request.get("style", "none"),
            "music": self.request.get("music"),
            "seed": self.seed if self.seed is not None else self.request.get("seed"),
            "num_inference_steps": self.request.get("num_inference_steps"),
            "guidance_scale": self.request.get("guidance_scale"),
            "num_frames": self.request.get("num_frames"),
            "speed": (self.info or {}).get("speed") or self.request.get("speed"),
            "strength": self.request.get("strength") if self.mode == "v2v" else None,
            "extensions": self.request.get("extensions") if self.mode == "extend" else None,
            "progress": round(self.progress, 4),
            "position": self.position,
            "message": {"en": self.message.en, "zh": self.message.zh},
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "video": self.video,
            "cover": self.cover,
            "error": None if self.error is None else {"en": self.error.en, "zh": self.error.zh},
            "worker": self.worker,
        }


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stamp)) + f"{time.strftime('%z', time.localtime(stamp))}"
