"""Prometheus metrics at /metrics, for the monitoring an operator already runs (issue 24, item 6).

What is in line and which workers do what is read from the job store and the service when the
scraper asks, so it is the same with local or Ray workers and after a restart. Waits, render times
and ends are observed as jobs start and end (`JobService.watch`): counters and histograms count
from this process's start, as Prometheus expects of them.

Never public by default: answered to this machine (a loopback caller whose request came through no
proxy and no share link) without a token; from anywhere else only with the operator's token
(`--metrics-token`, better env STUDIO_METRICS_TOKEN) as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import sys
import time
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bilingual import Text, lang_of, pick
from jobs.job import LANES, QUEUED, RUNNING, SUCCEEDED, Job
from jobs.workers import BROKEN, IDLE, RENDERING, RESTARTING

if TYPE_CHECKING:
    from cogvideo import Studio
    from jobs import JobService

# Seconds. Waits: the fast lane's promise is measured in seconds, the standard lane's in minutes.
WAIT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
# Seconds. Renders: a tiny model's test run to a 1.5 model's 1360×768 with offload.
RENDER_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600)
WORKER_STATES = (IDLE, RENDERING, RESTARTING, BROKEN)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# A request that passed through a proxy names its real caller in one of these: not this machine.
FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")

REFUSED = Text(
    "The metrics are answered to this machine only. From elsewhere, send the operator's metrics token "
    "as `Authorization: Bearer <token>`.",
    "监控指标只回答本机的请求。从其他机器访问时，请以 `Authorization: Bearer <令牌>` 发送运营者设置的监控令牌。",
)


class StudioMetrics:
    """The studio's metrics in a registry of their own (nothing of the process's default one)."""

    def __init__(self, service: JobService, studio: Studio):
        self.registry = CollectorRegistry(auto_describe=True)
        self.finished = Counter("studio_jobs_finished", "Jobs that ended, by how they ended and their lane.",
                                ["status", "lane"], registry=self.registry)
        self.wait = Histogram("studio_job_wait_seconds", "Time from submission to the start of rendering.",
                              ["lane"], buckets=WAIT_BUCKETS, registry=self.registry)
        self.render = Histogram("studio_job_render_seconds", "Time from the start of rendering to a finished video.",
                                ["lane", "model", "preset"], buckets=RENDER_BUCKETS, registry=self.registry)
        self.registry.register(_LineCollector(service))
        self.default_speed = studio.default_speed
        service.watch(self)

    def started(self, job: Job) -> None:
        if job.started_at is not None:
            self.wait.labels(job.lane).observe(max(0.0, job.started_at - job.created_at))

    def ended(self, job: Job, status: str, values: dict) -> None:
        self.finished.labels(status, job.lane).inc()
        if status == SUCCEEDED and job.started_at is not None:
            info = values.get("info") or {}
            preset = info.get("speed") or job.request.get("speed") or self.default_speed
            took = time.time() - job.started_at
            self.render.labels(job.lane, str(info.get("model") or "unknown"), str(preset)).observe(max(0.0, took))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _LineCollector:
    """Read when scraped: the line by lane, the workers by state, the GPU memory in use here."""

    def __init__(self, service: JobService):
        self.service = service

    def describe(self) -> list[Metric]:
        return []  # no fixed description: the GPU family exists only where a GPU does

    def collect(self) -> Iterator[Metric]:
        store = self.service.store
        for status, name, about in ((QUEUED, "studio_jobs_waiting", "Jobs waiting in line, by lane."),
                                    (RUNNING, "studio_jobs_rendering", "Jobs rendering now, by lane.")):
            family = GaugeMetricFamily(name, about, labels=["lane"])
            counts = store.count_by_lane(status)
            for lane in LANES:
                family.add_metric([lane], counts.get(lane, 0))
            yield family
        workers = GaugeMetricFamily("studio_workers", "Workers by what they do now.", labels=["state"])
        states = [w.state for w in self.service.worker_states()]
        for state in WORKER_STATES:
            workers.add_metric([state], states.count(state))
        yield workers
        gpu = _gpu_memory()
        if gpu:
            family = GaugeMetricFamily("studio_gpu_memory_used_bytes",
                                       "GPU memory in use on this machine's GPUs (all processes).", labels=["gpu"])
            for index, used in gpu:
                family.add_metric([str(index)], used)
            yield family


def _gpu_memory() -> list[tuple[int, int]]:
    """(GPU index, bytes in use) for each CUDA device this process sees; none without a GPU, and
    never the first CUDA call of the process (that would take a GPU context for a scrape)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return []
    used = []
    for index in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(index)
        used.append((index, int(total - free)))
    return used


def may_see(request: Request, token: str | None, shared: bool) -> bool:
    """The operator's token, or a caller on this machine: loopback, through no proxy, and not over
    a share link (Gradio's tunnel connects from loopback too)."""
    sent = request.headers.get("authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    client = request.client.host if request.client else ""
    proxied = any(request.headers.get(name) for name in FORWARDED)
    return client in LOOPBACK and not proxied and not shared


def metrics_route(metrics: StudioMetrics, token: str | None, shared: bool) -> Route:
    def endpoint(request: Request) -> Response:  # Starlette runs it in a thread: the store is read
        if not may_see(request, token, shared):
            return PlainTextResponse(pick(REFUSED, lang_of(request.headers.get("accept-language"))) + "\n",
                                     status_code=403)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", endpoint, methods=["GET"])
