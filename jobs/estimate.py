"""How long until a job starts and finishes: from this server's own recent render times.

A finished job's render time (finished - started) depends on what it asked for: the model, the
speed preset, post-processing, and the amount of denoising work, steps x frames (x parts for an
extension, x strength for a restyle, which runs only that share of the steps). The lane changes
only when a job starts. So:

- `Durations` learns seconds per job from recent finished jobs, per (mode, speed, post-processing),
  falling back to coarser groups while a group has too few jobs; within a group a robust line
  (Theil-Sen: seconds = overhead + rate x work) carries the times over to other step and frame counts.
- `time_left` says how long a running job still needs, from its steps done and its elapsed time,
  plus the time after its last step (decoding, post-processing, encoding), learned per frame.
- `RenderClock` is what the service notes while a job renders: when its first and last denoising
  steps were reported. A job's learned time runs from its first step, so the model's loading (and
  compiling) on a fresh server's first job is not taught to every job after it.
- `line` walks the queue in the scheduler's order over the ready workers (each free when its
  current job is expected to end) and says when each job starts and ends.
- `WaitEstimator` gathers those from a `JobService` for the faces; `estimate` does the same from a
  store and an explicit clock (the benchmark replays recorded durations through it).

Nothing here is a promise: with no history the answer is None ("estimating…"), never a guess
dressed as a number.
"""

from __future__ import annotations

import heapq
import json
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from bilingual import Text

from .job import QUEUED, RUNNING, SUCCEEDED, Job
from .store import JobStore

HISTORY = 200  # newest finished jobs read from the store
PER_GROUP = 30  # newest jobs of a group used for its fit: the server's recent speed, not last month's
MIN_GROUP = 2  # jobs a group needs before it answers alone; fewer: the coarser group answers
SPREAD = 1.5  # largest / smallest work in a group before a line (overhead + rate) is fitted
CACHE_S = 2.0  # the history is read again at most this often (pages poll several times a second)
MEASURED = 0.02  # share of a render seen progressing before its own pace says how long it needs
DEFAULT_FRAMES = 49  # frames of a request that left them to the model, when the model is not known


@dataclass(frozen=True)
class Sample:
    """One finished job as the estimator sees it."""

    mode: str
    speed: str  # the request's preset, "" for the server's default
    post: str  # "u" upscale, "i" interpolate, both, or ""
    model: str
    work: float  # steps x frames x parts (x strength for a restyle)
    seconds: float  # from the first denoising step on (`RenderClock`), else finished - started
    tail: float | None = None  # seconds after the last denoising step, per frame (None: not recorded)


@dataclass(frozen=True)
class Expected:
    """When a job should start and finish, in seconds from now (None: not known yet)."""

    position: int | None = None
    start_s: float | None = None
    finish_s: float | None = None
    # The model a queued job is for when no worker of this server holds it (it was submitted
    # before a restart with another --model): it starts only once such a worker joins.
    waits_for: str | None = None

    def fields(self) -> dict:
        """The JSON fields every face adds beside its own (REST, MCP, the named API)."""
        start, finish = _rounded(self.start_s), _rounded(self.finish_s)
        if start is not None and finish is not None and self.finish_s > self.start_s:
            finish = max(finish, start + 1)  # a job that takes any time ends after it starts
        return {"queue_position": self.position, "expected_start_seconds": start,
                "expected_finish_seconds": finish, "waits_for_model": self.waits_for}


def _rounded(seconds: float | None) -> int | None:
    """Whole seconds; a wait that is not over is never shown as 0 (that reads "starting now")."""
    if seconds is None:
        return None
    return max(1, int(round(seconds))) if seconds > 0 else 0


# ---------------------------------------------------------------- what a job asks for

def work_of(record: dict, mode: str, model: str | None) -> float:
    """Denoising work of a request record: steps x frames x parts, x strength for a restyle."""
    steps = _number(record.get("num_inference_steps"), 50)
    frames = _number(record.get("num_frames"), 0) or _default_frames(model)
    work = steps * frames
    if mode == "extend":
        work *= max(1, _number(record.get("extensions"), 1))
    elif mode == "v2v":
        work *= min(1.0, max(0.05, float(_number(record.get("strength"), 0.7))))
    return float(work)


def group_of(record: dict, mode: str) -> tuple[str, str, str]:
    post = ("u" if record.get("upscale") else "") + ("i" if record.get("interpolate") else "")
    return mode, str(record.get("speed") or ""), post


def _number(value, default):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default


def frames_of(record: dict, mode: str, model: str | None) -> float:
    """Frames the job makes (x parts for an extension): what its time after the steps scales with."""
    frames = _number(record.get("num_frames"), 0) or _default_frames(model)
    if mode == "extend":
        frames *= max(1, _number(record.get("extensions"), 1))
    return float(frames)


def _default_frames(model: str | None) -> int:
    from cogvideo.engine.models import VARIANTS

    variant = VARIANTS.get(model or "")
    return variant.num_frames if variant is not None else DEFAULT_FRAMES


# ---------------------------------------------------------------- render times from history

class Durations:
    """Expected render seconds of a request, learned from finished jobs (newest first)."""

    def __init__(self, samples: Iterable[Sample]):
        samples = list(samples)
        # The model each mode renders with now: a restart with another model forgets the old times.
        self.models: dict[str, str] = {}
        for s in samples:
            self.models.setdefault(s.mode, s.model)
        self.samples = [s for s in samples if self.models[s.mode] == s.model]
        self._fits: dict[tuple, Callable[[float], float] | None] = {}
        self._tails: dict[tuple, float | None] = {}

    def __bool__(self) -> bool:
        return bool(self.samples)

    def predict(self, record: dict, mode: str) -> float | None:
        """Seconds from start to finish for a request record, or None with no history at all."""
        if not self.samples:
            return None
        work = work_of(record, mode, self.models.get(mode))
        mode_, speed, post = group_of(record, mode)
        for level in ((mode_, speed, post), (mode_, speed), (mode_,), ()):
            fit = self._fit(level)
            if fit is not None:
                return fit(work)
        return None

    def tail(self, record: dict, mode: str) -> float | None:
        """Seconds a request needs after its last denoising step (decode, post, encode), or None
        while no finished job of its kind recorded it."""
        frames = frames_of(record, mode, self.models.get(mode))
        mode_, speed, post = group_of(record, mode)
        for level in ((mode_, speed, post), (mode_, speed), (mode_,), ()):
            if level not in self._tails:
                group = [s.tail for s in self.samples
                         if (s.mode, s.speed, s.post)[:len(level)] == level and s.tail is not None][:PER_GROUP]
                self._tails[level] = statistics.median(group) if group else None
            if self._tails[level] is not None:
                return self._tails[level] * frames
        return None

    def _fit(self, level: tuple) -> Callable[[float], float] | None:
        if level not in self._fits:
            group = [s for s in self.samples if (s.mode, s.speed, s.post)[:len(level)] == level][:PER_GROUP]
            enough = len(group) >= (1 if not level else MIN_GROUP)
            self._fits[level] = fit_line([(s.work, s.seconds) for s in group]) if enough else None
        return self._fits[level]


def fit_line(points: list[tuple[float, float]]) -> Callable[[float], float]:
    """seconds(work): Theil-Sen overhead + rate x work when the works differ enough, else the
    median seconds per unit of work (robust to a job slowed by a neighbour on the GPU)."""
    works = [w for w, _ in points]
    if len(points) >= 3 and max(works) >= SPREAD * min(works):
        slopes = [(s2 - s1) / (w2 - w1) for i, (w1, s1) in enumerate(points) for (w2, s2) in points[i + 1:]
                  if w2 != w1]
        rate = max(0.0, statistics.median(slopes))
        overhead = max(0.0, statistics.median(s - rate * w for w, s in points))
        if rate > 0:
            return lambda work: overhead + rate * work
    per_unit = statistics.median(s / w for w, s in points)
    return lambda work: per_unit * work


def time_left(duration: float | None, elapsed: float, fraction: float, rate: float | None = None,
              tail: float | None = None) -> float | None:
    """Seconds a running job still needs. From its steps: at `rate` (seconds per whole render,
    measured between two looks at its progress) when known, else elapsed / fraction done, leaning
    on the history's duration early on (elapsed then still holds the model's loading). `tail`: the
    seconds after the last step (decode, post, encode), which the steps' pace does not see: with
    every step done the job still has those ahead of it."""
    fraction = min(1.0, max(0.0, fraction))
    after = tail or 0.0
    if rate is not None and fraction > 0:
        return rate * (1 - fraction) + after
    from_history = None if duration is None else max(0.0, duration - after - elapsed) + after
    if fraction <= 0:
        return from_history
    from_steps = elapsed * (1 - fraction) / fraction + after
    if from_history is None:
        return from_steps
    return fraction * from_steps + (1 - fraction) * from_history


def line(busy_left: list[float | None], idle: int,
         durations: list[float | None]) -> list[tuple[float, float] | None]:
    """(start, finish) in seconds from now of each queued job, in start order, on `idle` free
    workers and one busy worker per entry of `busy_left` (free after that many seconds). A job with
    no known duration makes itself and every job behind it unknown (None); so does a busy worker
    whose end is not known (None), or no worker at all."""
    if None in busy_left or idle + len(busy_left) == 0:
        return [None] * len(durations)
    free = [0.0] * idle + [max(0.0, left) for left in busy_left]
    heapq.heapify(free)
    out: list[tuple[float, float] | None] = []
    for index, duration in enumerate(durations):
        if duration is None:
            out.extend([None] * (len(durations) - index))
            break
        start = heapq.heappop(free)
        heapq.heappush(free, start + duration)
        out.append((start, start + duration))
    return out


# ---------------------------------------------------------------- what the service notes

CLOCK = "render_clock"  # the key of `RenderClock.info` in a finished job's info


class RenderClock:
    """When a rendering job's first and last denoising steps were reported (wall clock, with the
    share of the steps done). The time before the first step is the model's loading on a fresh
    server (minutes), compiling, and reading the inputs: not the job's own render time."""

    def __init__(self) -> None:
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def step(self, now: float, fraction: float) -> None:
        if self.first is None or fraction < self.first[1]:  # the first step, or a render from the start again
            self.first = (now, fraction)
        self.last = (now, fraction)

    def info(self, started: float | None, finished: float) -> dict:
        """{CLOCK: {"render_s", "tail_s", "before_s"}} for the job's info: its time from the start
        of denoising (the first step's share added back at the steps' pace), after its last step,
        and before its denoising began (reading inputs; loading the model on a fresh server); {}
        when the steps said too little (one step, or none)."""
        if self.first is None or self.last is None:
            return {}
        (t1, f1), (t2, f2) = self.first, self.last
        if f2 <= f1 or t2 <= t1:
            return {}
        pace = (t2 - t1) / (f2 - f1)  # seconds per whole denoising
        after = max(0.0, finished - t2)
        clock = {"render_s": round(pace * f2 + after, 3), "tail_s": round(max(0.0, after - pace * (1 - f2)), 3)}
        if started is not None:
            clock["before_s"] = round(max(0.0, t1 - pace * f1 - started), 3)
        return {CLOCK: clock}


# ---------------------------------------------------------------- from the store

def history(store: JobStore, limit: int = HISTORY) -> Durations:
    """The newest finished jobs of the store as samples. Where the service noted the steps
    (`RenderClock`), a job's time is its render plus the usual time before denoising (the median of
    the jobs: a fresh server's minutes of loading are one outlier among them); older records count
    from the start."""
    rows = store.read(
        f"SELECT mode, request, json_extract(info, '$.model'), started_at, finished_at, "
        f"json_extract(info, '$.{CLOCK}.render_s'), json_extract(info, '$.{CLOCK}.tail_s'), "
        f"json_extract(info, '$.{CLOCK}.before_s') FROM jobs "
        "WHERE status = ? AND started_at IS NOT NULL AND finished_at > started_at "
        f"ORDER BY finished_at DESC LIMIT {int(limit)}", (SUCCEEDED,))
    befores = [row[7] for row in rows if isinstance(row[7], (int, float))]
    before = statistics.median(befores) if len(befores) >= MIN_GROUP else 0.0
    samples = []
    for mode, request, model, started, finished, render_s, tail_s, _ in rows:
        record = json.loads(request)
        clocked = isinstance(render_s, (int, float)) and render_s > 0
        seconds = min(render_s + before, finished - started) if clocked else finished - started
        tail = tail_s / frames_of(record, mode, model) if isinstance(tail_s, (int, float)) else None
        samples.append(Sample(*group_of(record, mode), str(model or ""), work_of(record, mode, model),
                              seconds, tail))
    return Durations(samples)


def estimate(store: JobStore, job: Job, workers: list[Job | None], now: float,
             durations: Durations | None = None, rates: dict[str, float] | None = None) -> Expected:
    """When `job` starts and finishes. `workers`: one entry per worker ready to take jobs, the
    job it renders now (with live progress) or None when idle. `now`: the clock of the rows.
    `rates`: seconds per whole render of running jobs, where measured (see `WaitEstimator`)."""
    durations = history(store) if durations is None else durations
    rates = rates or {}

    def left(running: Job) -> float | None:
        return time_left(durations.predict(running.request, running.mode), now - (running.started_at or now),
                         running.progress, rates.get(running.id), durations.tail(running.request, running.mode))

    if job.status == RUNNING:
        return Expected(None, 0.0, left(job))
    if job.status != QUEUED:
        return Expected()
    busy_left = [left(running) for running in workers if running is not None]
    queued = queued_in_order(store)
    ids = [job_id for job_id, _, _ in queued]
    if job.id not in ids:  # started or cancelled since it was read
        return Expected(job.position)
    position = ids.index(job.id) + 1
    times = line(busy_left, sum(w is None for w in workers),
                 [durations.predict(record, mode) for _, mode, record in queued[:position]])
    if times[-1] is None:
        return Expected(position)
    return Expected(position, times[-1][0], times[-1][1])


def queued_in_order(store: JobStore) -> list[tuple[str, str, dict]]:
    """(id, mode, request) of the queued jobs in the order the scheduler will start them: the
    service stores each one's place (`scheduler.positions`: lanes and the fast-lane streak). Read
    on the read connection, whole under its lock: the writer's cursor is shared by every thread."""
    rows = store.read(
        "SELECT id, mode, request FROM jobs WHERE status = ? ORDER BY position IS NULL, position, seq",
        (QUEUED,))
    return [(job_id, mode, json.loads(request)) for job_id, mode, request in rows]


class WaitEstimator:
    """`estimate` for a running service: its ready workers and live progress; the history read
    at most every `cache_s` seconds."""

    def __init__(self, service, cache_s: float = CACHE_S):
        self.service = service
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._durations: Durations | None = None
        self._read_at = 0.0
        self._first_look: dict[str, tuple[float, float]] = {}  # running job -> (clock, fraction) first seen

    def durations(self) -> Durations:
        with self._lock:
            if self._durations is None or time.monotonic() - self._read_at > self.cache_s:
                self._durations = history(self.service.store)
                self._read_at = time.monotonic()
            return self._durations

    def expected(self, job: Job) -> Expected:
        if job.finished:
            return Expected()
        if job.status == QUEUED and not self.service.holds(job.model):
            return Expected(job.position, waits_for=job.model)  # no start time: no worker can take it
        workers: list[Job | None] = []
        for state in self.service.worker_states():
            if state.state not in ("idle", "rendering"):
                continue  # restarting or parked: it takes nothing until it is back
            running = None
            if state.job_id:
                try:
                    running = self.service.get(state.job_id)
                except Exception:  # finished and removed meanwhile: the worker is free
                    running = None
            workers.append(running if running is not None and running.status == RUNNING else None)
        running = [j for j in workers if j is not None] + ([job] if job.status == RUNNING else [])
        return estimate(self.service.store, job, workers, time.time(), self.durations(), self._rates(running))

    def _rates(self, running: list[Job]) -> dict[str, float]:
        """Seconds per whole render of each running job, from its progress since this estimator
        first saw it denoising: unlike its elapsed time, free of the model's loading before step 1."""
        now, rates = time.monotonic(), {}
        with self._lock:
            looks = {j.id: self._first_look.get(j.id) for j in running}
            for j in running:
                first = looks[j.id]
                if first is None or j.progress < first[1]:  # not seen yet, or a retry from the start
                    if 0 < j.progress < 1:
                        looks[j.id] = (now, j.progress)
                elif j.progress - first[1] >= MEASURED and now > first[0]:
                    rates[j.id] = (now - first[0]) / (j.progress - first[1])
            self._first_look = {k: v for k, v in looks.items() if v is not None}
        return rates


# ---------------------------------------------------------------- words

def duration_text(seconds: float, about: bool = True) -> Text:
    """A duration as people say it: "about 40 s" / "约 40 秒", "about 2 min" / "约 2 分钟"
    (`about=False`: "2 min" / "2 分钟"); under ten seconds "a few seconds" / "几秒"."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return Text("a few seconds", "几秒")
    if seconds < 55:
        tens = int(round(seconds / 10)) * 10
        amount = Text(f"{tens} s", f"{tens} 秒")
    elif seconds < 3570:
        minutes = max(1, int(round(seconds / 60)))
        amount = Text(f"{minutes} min", f"{minutes} 分钟")
    else:
        hours, minutes = divmod(int(round(seconds / 60)), 60)
        amount = Text(f"{hours} h" + (f" {minutes} min" if minutes else ""),
                      f"{hours} 小时" + (f" {minutes} 分钟" if minutes else ""))
    return Text(f"about {amount.en}", f"约 {amount.zh}") if about else amount


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def wait_text(job: Job, expected: Expected) -> Text:
    """What a person waiting for `job` wants to know, in a line: the place in line and when it
    starts ("2nd in line · starts in about 2 min" / "排队中：你是第 2 位 · 预计 2 分钟后开始"), or
    while it renders what it does and the time left ("去噪第 12/50 步 · 还剩约 40 秒")."""
    if job.status == QUEUED and expected.waits_for:
        return waiting_for_model(expected.waits_for)
    if job.status == QUEUED and job.message.en:  # the service's reason it does not move (`JobService.get`)
        return job.message
    if job.status == QUEUED:
        place = expected.position or job.position or 1
        where = Text("Next in line", "下一个就轮到你") if place == 1 else \
            Text(f"{ordinal(place)} in line", f"排队中：你是第 {place} 位")
        if expected.start_s is None:
            return _join(where, Text("estimating the wait…", "正在估算等待时间…"))
        if expected.start_s < 10:
            return _join(where, Text("starts in a few seconds", "几秒后开始"))
        when = duration_text(expected.start_s, about=False)
        return _join(where, Text(f"starts in about {when.en}", f"预计 {when.zh}后开始"))
    if job.status == RUNNING:
        doing = job.message if job.message.en else Text("Starting…", "正在开始……")
        if expected.finish_s is None:
            return doing
        if expected.finish_s < 10:
            return _join(doing, Text("almost done", "即将完成"))
        left = duration_text(expected.finish_s)
        return _join(doing, Text(f"{left.en} left", f"还剩{left.zh}"))
    return Text("", "")


def waiting_for_model(model: str) -> Text:
    """Why a queued job does not move: no worker here holds its model."""
    return Text(f"Waiting for a worker with model {model}: this server runs another model now, so the video "
                "starts when one that has it is back.",
                f"等待装有模型 {model} 的工作进程：本服务器当前运行的是其他模型，有该模型的工作进程上线后即开始生成。")


def _join(*parts: Text) -> Text:
    return Text(" · ".join(p.en for p in parts), " · ".join(p.zh for p in parts))
