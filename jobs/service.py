"""The job service: one line for the GPUs, persisted before anything runs, followed by every face.

    service = JobService(JobStore(data_dir), [LocalWorker(studio)], max_queue=20, max_queue_per_user=3).start()
    job = service.submit(VideoRequest(prompt="a cat"), owner="local")
    service.get(job.id, owner="local")      # status, progress, place in line
    service.cancel(job.id, owner="local")   # queued: at once; running: at the next denoising step

Faces (the Gradio UI, the REST API, the CLI) submit, follow and cancel; only workers call
`Studio.generate`. The database is the truth for the queue, so the operator's CLI (another process)
can cancel or prune while the app runs, and a restart finds every job where it was.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Protocol

from bilingual import Text, both
from cogvideo import VideoRequest
from cogvideo.errors import Cancelled, DiskFull, StudioError
from cogvideo.request import is_unicode

from . import scheduler
from .diskspace import MIN_FREE_BYTES, check_free, disk_full, is_disk_full
from .estimate import Expected, RenderClock, WaitEstimator, waiting_for_model
from .errors import JobNotFound, QueueFull, RequestIdConflict, TooManyJobs, WorkerLost
from .job import CANCELLED, FAILED, LOCAL_OWNER, QUEUED, RUNNING, STANDARD, SUCCEEDED, Job
from .quota import DailyQuota
from .records import from_record, input_folder, to_record
from .store import JobStore, for_models
from .users import Users
from .workers import IDLE, RENDERING, Worker, WorkerState

log = logging.getLogger("cogvideo.jobs")

RESTARTED_TWICE = Text(
    "The server restarted twice while rendering this job, so it was not tried again. Submit it again; "
    "if it keeps failing, the server log has the reason.",
    "渲染该任务期间服务器重启了两次，因此不再重试。请重新提交；如果仍然失败，请查看服务器日志。",
)
UNEXPECTED = Text(
    "The server failed while rendering this job ({name}). The details are in the server log; please "
    "try again or report it.",
    "渲染该任务时服务器出错（{name}）。详细信息已写入服务器日志，请重试或反馈问题。",
)
LOST_TWICE = Text(
    "This job was started twice and both times the worker rendering it was lost, so it was not tried "
    "again. {reason} Submit it again; if it keeps failing, the server log has the reason.",
    "该任务已启动两次，两次渲染它的工作进程都丢失了，因此不再重试。{reason}请重新提交；如果仍然失败，请查看服务器日志。",
)
# Progress reaches the database at most this often (the UI follows live values in memory).
PROGRESS_WRITE_S = 0.5
# A job's end that the store could not take (a full disk) is tried again at most this far apart.
UNWRITTEN_RETRY_MAX_S = 10.0
DAY = 24 * 3600


@dataclasses.dataclass
class _Live:
    progress: float = 0.0
    message: Text = Text("", "")
    preview: str | None = None
    written_at: float = 0.0
    clock: RenderClock = dataclasses.field(default_factory=RenderClock)  # its steps' times, for the estimates


class JobWatcher(Protocol):
    """Told of every job's start and end, in the service's threads (metrics); must return quickly
    and never raises into the service (a failure is logged)."""

    def started(self, job: Job) -> None: ...

    def ended(self, job: Job, status: str, values: dict) -> None: ...


class JobService:
    def __init__(
        self,
        store: JobStore,
        workers: list[Worker],
        max_queue: int = 20,
        max_queue_per_user: int = 0,
        keep_per_user: int = 200,
        max_age_days: float = 30,
        poll_s: float = 1.0,
        min_free_bytes: int = MIN_FREE_BYTES,
        free_videos_per_day: int = 0,
        clock: Callable[[], float] = time.time,
    ):
        if not workers:
            raise ValueError("a job service needs at least one worker")
        self.store = store
        self.users = Users(store)
        self.workers = list(workers)
        self.max_queue = max_queue
        self.max_queue_per_user = max_queue_per_user  # waiting + running jobs per user; 0 = no cap
        self.keep_per_user = keep_per_user
        self.max_age_days = max_age_days
        self.poll_s = poll_s
        self.min_free_bytes = min_free_bytes  # new jobs are refused below this much free on the data disk
        # The standard lane's free videos a day, per user or visitor's address (0 = off); `clock` is
        # what "today" is read against (tests cross midnight with their own).
        self.quota = DailyQuota(store, free_videos_per_day, clock)
        self._cond = threading.Condition(threading.RLock())  # scheduling, live state, cancel flags
        self._streak = 0  # fast-lane jobs started in a row while a standard job waited
        self._live: dict[str, _Live] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._doomed: set[str] = set()  # deleted while running: removed when the worker lets go
        # job id -> quota key, for jobs counted against something other than their owner (anonymous
        # visitors share one owner). In memory: after a restart their resumed jobs count for nobody.
        self._quota_keys: dict[str, str] = {}
        self._busy: dict[int, str] = {}  # id(worker) -> the job it renders
        self._stopping = threading.Event()
        self._started = False
        self._threads: list[threading.Thread] = []
        self._last_prune = 0.0
        # job id -> (the job, its final status, the values) for ends the store could not write (a
        # full disk): shown to every face from memory, written by the housekeeper once it can.
        self._unwritten: dict[str, tuple[Job, str, dict]] = {}
        self._retry_at, self._retry_s = 0.0, 0.0  # the next try to write them, and the wait after a failure
        self._estimator = WaitEstimator(self)
        self._watchers: list[JobWatcher] = []

    def watch(self, watcher: JobWatcher) -> None:
        """Tell `watcher` of every job that starts or ends from now on."""
        self._watchers.append(watcher)

    def _tell(self, event: str, *args) -> None:
        for watcher in self._watchers:
            try:
                getattr(watcher, event)(*args)
            except Exception:  # a watcher's failure must not fail a job
                log.exception("a job watcher failed on %s", event)

    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    # ------------------------------------------------------------ life cycle

    def start(self) -> "JobService":
        self._recover()
        self._started = True
        for worker in self.workers:
            self._start_worker(worker)
        keeper = threading.Thread(target=self._housekeeping, name="job-housekeeping", daemon=True)
        keeper.start()
        self._threads.append(keeper)
        return self

    def add_worker(self, worker: Worker) -> None:
        """Another worker joins the line (a GPU machine joined the Ray cluster)."""
        with self._cond:
            self.workers.append(worker)
            self._reposition()  # jobs for its model, if no worker held it before, get a place in line
        if self._started:
            self._start_worker(worker)

    def _start_worker(self, worker: Worker) -> None:
        thread = threading.Thread(target=self._work, args=(worker,), name=f"job-worker-{worker.name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking jobs. A job still rendering stays `running` in the store and is run again
        at the next start, like after a crash."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for worker in list(self.workers):
            try:
                worker.close()
            except Exception:
                log.exception("worker %s did not close cleanly", worker.name)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _recover(self) -> None:
        """After a crash or restart: the interrupted job runs once more, queued jobs keep their place."""
        for job in self.store.list(status=RUNNING):
            if job.cancel_requested:
                self.store.finish(job.id, CANCELLED)
            elif job.attempts >= 2:
                self.store.finish(job.id, FAILED, error=RESTARTED_TWICE)
                log.warning("job %s: failed after two restarts mid-render", job.id)
            else:
                self.store.requeue(job.id)
                log.info("job %s: interrupted by a restart, queued again", job.id)
        with self._cond:
            self._reposition()

    # ------------------------------------------------------------ what the faces call

    def submit(self, request: VideoRequest, owner: str = LOCAL_OWNER, lane: str | None = None,
               request_id: str | None = None, api_key: str | None = None, quota_key: str | None = None) -> Job:
        """Check the request, copy its files, persist it as queued; its place in line is on the job.

        With `api_key` and `request_id` (API callers) the call is idempotent: the same id returns
        the same job, and the same id with a different request raises `RequestIdConflict`.
        `max_queue_per_user` counts the owner's waiting and running jobs, or, with `quota_key`, the
        jobs submitted with that key (faces whose callers share an owner pass their address). In the
        standard lane each job is one of the payer's free videos of the day (the owner's, or the quota
        key's): `DailyQuotaSpent` once they are used."""
        if request.model is None:  # recorded, so that only a worker holding the model takes it
            request = dataclasses.replace(request, model=self.workers[0].model)
        if request_id is not None and api_key is not None:
            existing = self._same_request(request, request_id, api_key)
            if existing is not None:
                return existing
        self.workers[0].validate(request)  # bad values are refused now, not after waiting in line
        lane = lane or self.users.lane_of(owner)
        payer = (quota_key or owner) if lane == STANDARD else None  # the fast lane is unlimited
        self._check_room(owner, quota_key, payer)
        check_free(self.data_dir, self.min_free_bytes)
        job_id = uuid.uuid4().hex
        try:
            record = to_record(request, self.data_dir, job_id, is_track=_is_track)
            with self._cond:
                self._check_room(owner, quota_key, payer)  # again: others may have filled the line while we copied
                self.store.insert(Job(id=job_id, owner=owner, lane=lane, mode=request.mode, request=record,
                                      status=QUEUED, created_at=time.time(), request_id=request_id,
                                      api_key=api_key, file_token=secrets.token_urlsafe(24)),
                                  payer=payer, paid_at=self.quota.clock())
                if quota_key is not None:
                    self._quota_keys[job_id] = quota_key
                self._reposition()
                self._cond.notify_all()
        except sqlite3.IntegrityError:  # the same request_id raced in from a retry: one job only
            shutil.rmtree(input_folder(self.data_dir, job_id), ignore_errors=True)
            existing = self._same_request(request, request_id, api_key)
            if existing is None:
                raise
            return existing
        except BaseException as exc:
            shutil.rmtree(input_folder(self.data_dir, job_id), ignore_errors=True)
            if isinstance(exc, (OSError, sqlite3.Error)) and is_disk_full(exc):
                raise disk_full(self.data_dir, exc) from None
            raise
        log.info("job %s: queued for %s in the %s lane", job_id, owner, lane)
        return self.get(job_id)

    def _same_request(self, request: VideoRequest, request_id: str, api_key: str) -> Job | None:
        job = self.store.by_request_id(api_key, request_id)
        if job is None or job.id in self._doomed:
            return None
        if comparable(job.request) != comparable(to_record(request, None, job.id, is_track=_is_track, copy=False)):
            raise RequestIdConflict(request_id)
        return self._with_live(job)

    def get(self, job_id: str, owner: str | None = None) -> Job:
        """The job with live progress. `owner=None` is the operator; anyone else sees only their own,
        and another user's job is "not found", exactly like a missing one."""
        # An id that is not Unicode (a lone surrogate from JSON) names no job; SQLite could not even look.
        job = self.store.get(str(job_id)) if isinstance(job_id, str) and is_unicode(job_id) else None
        if job is None or job.id in self._doomed or (owner is not None and job.owner != owner):
            raise JobNotFound(job_id)
        return self._with_live(self._with_unwritten(job))

    def works(self, owner: str, limit: int | None = None, brief: bool = False) -> list[Job]:
        """A user's jobs, newest first (`brief`: for galleries, see `JobStore.list`)."""
        jobs = self.store.list(owner=owner, limit=limit, brief=brief)
        return [self._with_live(self._with_unwritten(j)) for j in jobs if j.id not in self._doomed]

    def unfinished(self, owner: str, quota_key: str | None = None) -> list[Job]:
        """The owner's waiting and rendering jobs, newest first: a page reloaded mid-job finds its
        job here. With `quota_key`, only the jobs submitted with it (visitors sharing an owner)."""
        jobs = self.store.list(owner=owner, status=(QUEUED, RUNNING))
        if quota_key is not None:
            with self._cond:
                jobs = [j for j in jobs if self._quota_keys.get(j.id) == quota_key]
        return [self._with_live(j) for j in jobs if j.id not in self._doomed]

    def cancel(self, job_id: str, owner: str | None = None) -> Job:
        job = self.get(job_id, owner)
        if job.finished:
            return job
        status = self.store.request_cancel(job.id)
        if status == CANCELLED:  # it was waiting: it ends here
            self._tell("ended", job, CANCELLED, {})
        with self._cond:
            if status == RUNNING and job.id in self._cancels:
                self._cancels[job.id].set()
            self._reposition()
            self._cond.notify_all()
        return self.get(job.id)

    def delete(self, job_id: str, owner: str | None = None) -> None:
        """Remove a job and its files; a running one is stopped first, then removed."""
        job = self.get(job_id, owner)
        with self._cond:
            if job.status in (QUEUED, RUNNING):
                self.store.request_cancel(job.id)
            if job.id in self._cancels:  # running here: its worker removes it when it lets go
                self._doomed.add(job.id)
                self._cancels[job.id].set()
                return
            remove_job(self.store, self.store.get(job.id) or job)
            self._reposition()

    def wait(self, job_id: str, timeout: float | None = None, owner: str | None = None) -> Job:
        """Block until the job has finished (tests, the CLI, benchmarks); the UI polls `get`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                job = self.get(job_id, owner)
                if job.finished:
                    return job
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s")
                self._cond.wait(min(left, 0.5) if left is not None else 0.5)

    def expected(self, job: Job) -> Expected:
        """Its place in line and when it should start and finish, from this server's recent
        render times (jobs/estimate.py); unknown parts are None."""
        return self._estimator.expected(job)

    def active_count(self, owner: str, quota_key: str | None = None) -> int:
        """The jobs counted against the caller's share of the line (`max_queue_per_user`): the
        owner's waiting and rendering ones, or those submitted with `quota_key`."""
        with self._cond:
            return self._active(owner, quota_key)

    def free_videos_left(self, owner: str, quota_key: str | None = None) -> int | None:
        """How many more videos the caller may make today (the owner's, or the quota key's, as
        `submit` counts them); None when unlimited: the quota is off, or the owner is in the fast lane."""
        if not self.quota.on or self.users.lane_of(owner) != STANDARD:
            return None
        return self.quota.left(quota_key or owner)

    def counts(self) -> dict[str, int]:
        return {status: self.store.count(status) for status in (QUEUED, RUNNING)}

    def worker_states(self) -> list[WorkerState]:
        """Each worker's name (node, GPU), what it does now and which job: for the status line."""
        with self._cond:
            busy = dict(self._busy)
            workers = list(self.workers)
        states = []
        for worker in workers:
            health = worker.health()
            job_id = busy.get(id(worker))
            state = RENDERING if job_id and health.state == IDLE else health.state
            states.append(WorkerState(worker.name, state, job_id, health.reason, worker.remote))
        return states

    def prune(self, owner: str | None = None) -> int:
        """Apply the service's limits: per user, keep the newest `keep_per_user` finished jobs and
        none older than `max_age_days` (0 turns a limit off)."""
        older = time.time() - self.max_age_days * DAY if self.max_age_days else None
        self.quota.forget_old()
        return prune_jobs(self.store, owner=owner, older_than=older, keep=self.keep_per_user or None)

    # ------------------------------------------------------------ the line

    def _check_room(self, owner: str, quota_key: str | None, payer: str | None = None) -> None:
        """Refuse a new job when the payer has made today's free videos (said first: waiting does not
        help until midnight), the caller has its share of the line, or the line is full."""
        if payer is not None:
            self.quota.check(payer)
        if self.max_queue_per_user > 0:
            active = self._active(owner, quota_key)
            if active >= self.max_queue_per_user:
                raise TooManyJobs(active)
        waiting = self.store.count(QUEUED)
        if waiting >= self.max_queue:
            raise QueueFull(
                f"The queue is full ({waiting} videos are waiting). Please try again in a few minutes.",
                f"排队人数已满（{waiting} 个视频正在等待）。请过几分钟再试。",
            )

    def _active(self, owner: str, quota_key: str | None) -> int:
        """Waiting and running jobs of the owner, or of the quota key (its finished jobs are forgotten
        here, whoever finished them: a worker, a cancel from the CLI, a delete)."""
        if quota_key is None:
            ended = sum(1 for job, _, _ in list(self._unwritten.values()) if job.owner == owner)
            return self.store.count_written((QUEUED, RUNNING), owner) - ended
        with self._cond:
            mine = [job_id for job_id, key in self._quota_keys.items() if key == quota_key]
            active = 0
            for job_id in mine:
                job = self.store.get(job_id)
                if job is None or job.finished or job_id in self._unwritten:
                    del self._quota_keys[job_id]
                else:
                    active += 1
            return active

    def _reposition(self) -> None:
        """Store every queued job's place in line (call with `_cond` held). A job no worker here
        can take has none: it is in nobody's line until a worker with its model joins."""
        queue = self.store.queue()  # one read; a submit or claim with a long line does this each time
        places = scheduler.positions(for_models(queue, self._held_models()), self._streak)
        self.store.set_positions({row.id: places.get(row.id) for row in queue
                                  if places.get(row.id) != row.position})  # only the places that moved

    def _held_models(self) -> frozenset[str]:
        return frozenset().union(*(worker.models for worker in self.workers))

    def _claim_next(self, worker: Worker) -> Job | None:
        with self._cond:
            while not self._stopping.is_set():
                # A job waits for a worker that holds its model (a Ray worker, or this server
                # after a restart with another --model).
                pick = scheduler.pick_next(self.store.queued(worker.models), self._streak)
                if pick is None:
                    self._cond.wait(self.poll_s)
                    return None  # the caller looks at its worker's health again before waiting more
                job = self.store.claim(pick.job_id, worker.name)
                if job is None:  # cancelled from another process between the two statements
                    continue
                self._streak = pick.streak
                self._busy[id(worker)] = job.id
                self._cancels[job.id] = threading.Event()
                self._live[job.id] = _Live()
                self._reposition()
                self._cond.notify_all()
                self._tell("started", job)
                return job
        return None

    def _work(self, worker: Worker) -> None:
        while not self._stopping.is_set():
            if not worker.ready():  # restarting, or parked after failures: the others take the line
                self._stopping.wait(self.poll_s)
                continue
            try:
                job = self._claim_next(worker)
            except (sqlite3.Error, OSError) as exc:  # a full disk, a lock held too long: try again soon
                log.warning("worker %s: could not take the next job (%s); trying again", worker.name, exc)
                self._stopping.wait(self.poll_s)
                continue
            if job is None:
                continue
            try:
                self._run(job, worker)
            except Exception:  # the store itself failed (disk full under the data folder): keep serving
                log.exception("job %s: could not record how it ended", job.id)
            finally:
                with self._cond:
                    self._busy.pop(id(worker), None)
                    self._cancels.pop(job.id, None)
                    self._live.pop(job.id, None)
                    self._quota_keys.pop(job.id, None)
                    if job.id in self._doomed:
                        self._doomed.discard(job.id)
                        remove_job(self.store, self.store.get(job.id) or job)
                    self._cond.notify_all()
            try:
                self.prune(job.owner)
            except Exception:
                log.exception("pruning %s's works failed", job.owner)

    def _run(self, job: Job, worker: Worker) -> None:
        cancel = self._cancels[job.id]
        log.info("job %s: rendering on %s (attempt %d)", job.id, worker.name, job.attempts)
        try:
            request = from_record(job.request, self.data_dir)
            result = worker.run(request, lambda event: self._progress(job.id, event), cancel, job_id=job.id)
        except Cancelled:
            self._finish(job, CANCELLED, message=Text("", ""))
            log.info("job %s: cancelled", job.id)
            return
        except WorkerLost as exc:
            self._lost(job, exc, cancel)
            return
        except StudioError as exc:
            if isinstance(exc, DiskFull):
                log.error("job %s: the disk under %s is full", job.id, exc.folder or self.data_dir)
            self._fail_for_people(job, exc)
            return
        except OSError as exc:
            if is_disk_full(exc):
                error = disk_full(getattr(worker, "output_dir", self.data_dir), exc)
                self._fail(job, error.text)
            else:
                self._unexpected(job, exc)
            return
        except Exception as exc:
            self._unexpected(job, exc)
            return
        self._finish(
            job, SUCCEEDED, progress=1.0, message=Text("", ""), seed=result.seed,
            prompt=result.prompt, video=str(result.path), cover=str(result.cover) if result.cover else None,
            info={**result.info(), **self._clock_info(job)},
        )
        log.info("job %s: done in %.1f s", job.id, sum(result.timings.values()))

    def _clock_info(self, job: Job) -> dict:
        """When the job's denoising began and ended, for the wait estimates (`RenderClock`)."""
        with self._cond:
            live = self._live.get(job.id)
        return live.clock.info(job.started_at, time.time()) if live is not None else {}

    def _lost(self, job: Job, exc: WorkerLost, cancel: threading.Event) -> None:
        """The worker went away mid-job: the job runs once more on any healthy worker (it keeps its
        place at the head of its lane), then fails with the reason. The jobs behind it wait as they were."""
        if self._stopping.is_set():  # we are shutting down: the next start runs it again
            log.info("job %s: interrupted by the shutdown on %s; it runs again at the next start", job.id, exc.worker)
        elif cancel.is_set() or job.cancel_requested:
            self._finish(job, CANCELLED, message=Text("", ""))
            log.info("job %s: cancelled (its worker %s was lost meanwhile)", job.id, exc.worker)
        elif job.attempts < 2 or not exc.started:
            self.store.requeue(job.id, count_attempt=exc.started)
            log.warning("job %s: %s Queued again to run on any healthy worker.", job.id, exc.en)
            with self._cond:
                self._reposition()
                self._cond.notify_all()
        else:
            self._fail(job, Text(LOST_TWICE.en.format(reason=exc.en), LOST_TWICE.zh.format(reason=exc.zh)))
            log.error("job %s: failed, its worker was lost twice (%s)", job.id, exc.reason)

    def _fail(self, job: Job, error: Text) -> None:
        self._finish(job, FAILED, error=error, message=Text("", ""))
        log.info("job %s: failed: %s", job.id, error.en)

    def _fail_for_people(self, job: Job, exc: StudioError) -> None:
        """Fail with the sentence people are shown; the operator's detail (a folder, a setting, how
        to install) goes to the log. Page, 我的作品, REST and MCP all read the job's error."""
        shown = exc.for_people
        if shown is not exc.text:
            log.warning("job %s: %s", job.id, both(exc.text))
        self._fail(job, shown)

    def _unexpected(self, job: Job, exc: Exception) -> None:
        log.error("job %s: unexpected failure", job.id, exc_info=exc)
        name = getattr(exc, "type_name", type(exc).__name__)  # a remote worker's failure names its own type
        self._fail(job, Text(UNEXPECTED.en.format(name=name), UNEXPECTED.zh.format(name=name)))

    def _progress(self, job_id: str, event) -> None:
        now = time.monotonic()
        with self._cond:
            live = self._live.get(job_id)
            if live is None:
                return
            if event.stage == "render" and event.fraction is not None:
                live.progress = float(event.fraction)
                live.clock.step(time.time(), live.progress)
            live.message = event.text
            live.preview = getattr(event, "preview", None) or live.preview
            due = now - live.written_at >= PROGRESS_WRITE_S or event.stage != "render"
            if due:
                live.written_at = now
            snapshot = (live.progress, live.message)
        if due:
            try:
                self.store.set_progress(job_id, *snapshot)
            except (sqlite3.Error, OSError) as exc:  # a full disk or a long lock: the live value serves the faces
                log.warning("job %s: progress not written (%s)", job_id, exc)

    def holds(self, model: str | None) -> bool:
        """Whether a worker of this service takes jobs for `model` (None: a job from before jobs
        recorded their model, which any worker takes)."""
        with self._cond:
            return model is None or str(model).lower() in self._held_models()

    def stranded(self) -> dict[str, int]:
        """Queued jobs per model that no worker here holds (left by a server that ran another model):
        for the operator's log at start."""
        counts: dict[str, int] = {}
        for job in self.store.list(status=QUEUED):
            if not self.holds(job.model):
                counts[job.model] = counts.get(job.model, 0) + 1
        return counts

    def _with_live(self, job: Job) -> Job:
        if job.status == QUEUED and not self.holds(job.model):  # its message says why it does not move
            return dataclasses.replace(job, message=waiting_for_model(job.model))
        live = self._live.get(job.id)
        if live is None or job.status != RUNNING:
            return job
        return dataclasses.replace(job, progress=live.progress, message=live.message, preview=live.preview)

    def _housekeeping(self) -> None:
        """Cancel requests from the CLI reach running jobs; age limits apply hourly."""
        while not self._stopping.wait(self.poll_s):
            self._write_unwritten()
            try:
                flagged = self.store.cancel_requested()
                with self._cond:
                    for job_id in flagged:
                        if job_id in self._cancels:
                            self._cancels[job_id].set()
                    self._cond.notify_all()  # jobs queued or cancelled by another process
                if time.monotonic() - self._last_prune > 3600:
                    self._last_prune = time.monotonic()
                    self.prune()
                    self._forget_finished_quota_keys()
            except Exception:
                log.exception("job housekeeping failed; retrying")


    def _finish(self, job: Job, status: str, **values) -> None:
        """Record a job's end; when the store cannot take it (a full disk), keep it in memory, show it
        from there and let the housekeeper write it once space returns. A job whose end is known never
        stays "running", nor counts against its owner's share of the line."""
        self._tell("ended", job, status, values)
        try:
            self.store.finish(job.id, status, **values)
            return
        except (sqlite3.Error, OSError) as exc:
            log.error("job %s: its end (%s) could not be written (%s); it is written when the database "
                      "takes writes again", job.id, status, exc)
        with self._cond:
            self._unwritten[job.id] = (job, status, {**values, "finished_at": time.time()})
            self._cond.notify_all()

    def _write_unwritten(self) -> None:
        """Try the unwritten ends again, waiting longer after each failure (up to UNWRITTEN_RETRY_MAX_S)."""
        if not self._unwritten or time.monotonic() < self._retry_at:
            return
        for job_id, (job, status, values) in list(self._unwritten.items()):
            try:
                self.store.finish(job_id, status, **values)
            except (sqlite3.Error, OSError) as exc:
                self._retry_s = min(max(2 * self._retry_s, self.poll_s), UNWRITTEN_RETRY_MAX_S)
                self._retry_at = time.monotonic() + self._retry_s
                log.warning("job %s: its end is still not written (%s); next try in %.0f s", job_id, exc,
                            self._retry_s)
                return
            self._retry_s = 0.0
            with self._cond:
                self._unwritten.pop(job_id, None)
                self._cond.notify_all()
            log.info("job %s: its end (%s) is written now", job_id, status)

    def _with_unwritten(self, job: Job) -> Job:
        ended = self._unwritten.get(job.id)
        if ended is None or job.status != RUNNING:
            return job
        _, status, values = ended
        return dataclasses.replace(job, status=status, position=None, preview=None,
                                   **{k: v for k, v in values.items() if k in _JOB_FIELDS})

    def _forget_finished_quota_keys(self) -> None:
        """Jobs cancelled or deleted before they ran never reach a worker's cleanup."""
        with self._cond:
            for job_id in list(self._quota_keys):
                job = self.store.get(job_id)
                if job is None or job.finished:
                    del self._quota_keys[job_id]


_JOB_FIELDS = {f.name for f in dataclasses.fields(Job)}


def remove_job(store: JobStore, job: Job) -> None:
    """Delete a job's row and its files: the video, the cover, the colorized still, its GIFs, its
    inputs."""
    for name in (job.video, job.cover, job.info.get("colorized_image")):
        if name:
            Path(name).unlink(missing_ok=True)
    if job.video:  # its GIFs, made beside it by the API: <video stem>-480w-8fps.gif
        for gif in Path(job.video).parent.glob(f"{Path(job.video).stem}-*w-*fps.gif"):
            gif.unlink(missing_ok=True)
    shutil.rmtree(input_folder(store.data_dir, job.id), ignore_errors=True)
    store.delete(job.id)


def prune_jobs(store: JobStore, owner: str | None = None, older_than: float | None = None,
               keep: int | None = None) -> int:
    """Remove finished jobs (rows and files) created before `older_than` (epoch seconds), and per
    user all but the newest `keep`. Queued and running jobs are never touched. Returns the count."""
    doomed = store.prunable(owner=owner, older_than=older_than, keep=keep)
    for job in doomed:
        remove_job(store, job)
    return len(doomed)


def comparable(record: dict) -> dict:
    """A request record without its stored file names (they differ per job), for idempotency."""
    return {k: (v is not None) if k in ("image", "video", "music_upload") else v for k, v in record.items()}


def _is_track(value) -> bool:
    from cogvideo.media.music import load_tracks

    return isinstance(value, str) and value.strip().lower() in {"none", *load_tracks()}
