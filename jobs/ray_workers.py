"""Video workers on Ray: one `VideoWorker` actor per GPU, each holding its own loaded studio.

    pool = RayWorkers.start(StudioSpec("5b"), head_studio)   # embedded Ray: one actor per GPU
    service = JobService(store, pool.workers, ...).start()
    pool.watch(service.add_worker)                             # GPUs that join later serve too
    ...
    service.close(); pool.shutdown()

The head (the app) keeps the line, the database and every file; actors only render. Nothing travels
through a shared disk: the head sends a job's input files as bytes with the request, the actor
streams back progress, then the MP4 and its cover in chunks (so no result is too large for Ray's
object store), then the result; the head writes the files into its output folder. A machine that
runs workers needs the Python packages and the model weights, never a path of the head.

Imported only with `--workers ray`: the local default never imports Ray.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import ray
from ray.exceptions import ActorDiedError, GetTimeoutError, RayError, RayTaskError

from bilingual import Text
from cogvideo import Studio, VideoRequest, VideoResult
from cogvideo.errors import Cancelled, StudioError
from cogvideo.media.codec import PART_MARK, unique_video_path

from .errors import JobError, WorkerLost, WorkersUnavailable
from .ray_actor import StudioSpec, VideoWorker
from .workers import BROKEN, IDLE, RESTARTING, WorkerHealth

log = logging.getLogger("cogvideo.jobs.ray")

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE_PREFIX = "cogvideo-"  # one Ray namespace per studio (head machine + data folder)
ACTOR_NAME = "VideoWorker-{index}"
AHEAD = 8  # stream items an actor may produce before the head has taken them (Ray's backpressure)
START_TIMEOUT_S = 180.0  # actors start: a worker process, then importing the studio
CONNECT_TIMEOUT_S = 60.0  # ray.init against an address that answers but is not (yet) a Ray cluster
PING_S = 5.0  # how often an idle actor is asked whether it is alive
PING_TIMEOUT_S = 15.0  # unanswered this long: the worker takes no job until it answers again
FIRST_ITEM_TIMEOUT_S = 60.0  # a job the actor has not started by then, while it does not answer, is taken back
BROKEN_RETRY_S = 300.0  # a worker parked after failures tries again (to load the model) after this
LOST_IN_A_ROW = 3  # jobs lost in a row before a worker is parked (a crash loop must not eat the line)
WATCH_S = 15.0  # how often the cluster's GPUs are counted for workers that joined later


class WorkerCannotLoad(JobError):
    """The worker could not load the model (its weights missing on that machine, a bad file, too
    little memory): its job fails with the worker's reason, and the worker is parked so that the
    others take the line."""

    def __init__(self, worker: str, en: str, zh: str):
        # The reason names what is missing where (folders, commands): the log and the workers
        # list keep it; people are told what happened, and whom to ask.
        super().__init__(f"The worker {worker} could not load the model: {en}",
                         f"工作进程 {worker} 无法加载模型：{zh}",
                         Text("A video worker of this server could not load the model; ask whoever runs it.",
                              "这台服务器的一个视频生成进程无法加载模型，请联系管理员。"))


class RemoteFailure(Exception):
    """An unexpected failure inside an actor (a bug): logged with the actor's traceback."""

    def __init__(self, type_name: str, worker: str):
        super().__init__(f"{type_name} on {worker}")
        self.type_name = type_name


# ---------------------------------------------------------------- the head's side of one actor

class RayWorker:
    """The service's worker for one actor: sends it jobs, follows its stream, writes its files."""

    remote = True

    def __init__(self, actor, index: int, identity: dict, head: Studio, output_dir: Path):
        self.actor = actor
        self.index = index
        self.head = head
        self.output_dir = Path(output_dir)
        self.identity = identity
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._ping = None  # an identity call in flight
        self._ping_sent = 0.0
        self._answered = time.monotonic()
        self._lost_in_a_row = 0
        self._parked_until = 0.0
        self._parked_reason = ""
        self._probe = None  # a preload in flight while parked: the worker comes back when it loads
        if identity.get("error"):
            self._park(identity["error"][0])

    @property
    def name(self) -> str:
        """Where it runs: "gpu-node-1/GPU 0", or "host/CPU 2" for a worker without a GPU."""
        gpus = self.identity.get("gpus") or []
        where = f"GPU {','.join(gpus)}" if gpus else f"CPU {self.index}"
        return f"{self.identity.get('host', '?')}/{where}"

    def validate(self, request: VideoRequest) -> None:
        self.head.validate(request)  # the same checks; the head's studio loads no model

    @property
    def model(self) -> str:
        return self.identity.get("model") or self.head.model

    @property
    def models(self) -> frozenset[str]:
        """The models the actor reports holding (its studio's), else the head's."""
        names = self.identity.get("models") or [v.name for v in self.head.variants.values()]
        return frozenset(str(name).lower() for name in names)

    # ------------------------------------------------------------ health

    def ready(self) -> bool:
        return self.health().state == IDLE

    def health(self) -> WorkerHealth:
        with self._lock:
            if self._closing.is_set():
                return WorkerHealth(RESTARTING, "shutting down")
            if self._parked_until:
                return self._check_parked()
            self._check_ping()
            if time.monotonic() - self._answered > PING_TIMEOUT_S:
                return WorkerHealth(RESTARTING, f"not answering for {time.monotonic() - self._answered:.0f} s")
            return WorkerHealth()

    def _check_ping(self) -> None:
        """Ask the actor whether it lives, every PING_S, without waiting for the answer."""
        if self._ping is not None:
            done, _ = ray.wait([self._ping], timeout=0)
            if not done:
                return
            try:
                self.identity = ray.get(self._ping)
                self._answered = time.monotonic()
            except RayError as exc:
                log.warning("worker %s: does not answer (%s)", self.name, _short(exc))
            self._ping = None
        if time.monotonic() - self._ping_sent >= PING_S:
            self._ping, self._ping_sent = self.actor.identity.remote(), time.monotonic()

    def _check_parked(self) -> WorkerHealth:
        if self._probe is not None:
            done, _ = ray.wait([self._probe], timeout=0)
            if done:
                try:
                    error = ray.get(self._probe)
                except RayError as exc:
                    error = [_short(exc)]
                self._probe = None
                if error is None:
                    log.info("worker %s: loads the model now; it takes jobs again", self.name)
                    self._parked_until, self._lost_in_a_row, self._answered = 0.0, 0, time.monotonic()
                    return WorkerHealth()
                self._parked_reason = error[0]
                self._parked_until = time.monotonic() + BROKEN_RETRY_S
        elif time.monotonic() >= self._parked_until:
            self._probe = self.actor.preload.remote()  # try again, with no job at stake
        return WorkerHealth(BROKEN, self._parked_reason)

    def _park(self, reason: str) -> None:
        self._parked_until = time.monotonic() + BROKEN_RETRY_S
        self._parked_reason = reason
        log.error("worker %s: parked (%s); the other workers take the line, it tries again in %.0f min",
                  self.name, reason, BROKEN_RETRY_S / 60)

    def close(self) -> None:
        self._closing.set()

    # ------------------------------------------------------------ one job

    def run(self, request: VideoRequest, progress, cancel: threading.Event, job_id: str | None = None) -> VideoResult:
        job_id = job_id or uuid.uuid4().hex
        files, portable = _portable(request)
        received = _Files(self.output_dir)
        stream = self.actor.run.options(num_returns="streaming", _generator_backpressure_num_objects=AHEAD).remote(
            job_id, portable, files)
        sent_at, started, told_to_stop = time.monotonic(), False, False
        try:
            while True:
                if (cancel.is_set() or self._closing.is_set()) and not told_to_stop:
                    self.actor.cancel.remote(job_id)
                    told_to_stop = True
                if self._closing.is_set():
                    raise WorkerLost(self.name, "the server is shutting down", "服务器正在关闭")
                ready, _ = ray.wait([stream], timeout=0.1)
                if not ready:
                    if not started and time.monotonic() - sent_at > FIRST_ITEM_TIMEOUT_S and not self.ready():
                        ray.cancel(stream)  # still waiting in the actor's queue: it must not run later
                        raise WorkerLost(self.name, "it did not start the job and does not answer",
                                         "它没有开始该任务，也没有响应")
                    continue
                try:
                    item = ray.get(next(stream))
                except StopIteration:
                    raise WorkerLost(self.name, "its stream ended without a result", "结果流意外结束") from None
                kind = item[0]
                self._answered = time.monotonic()  # it speaks: alive
                if kind == "started":
                    started, self.identity = True, item[1]
                elif kind == "event":
                    event, preview = item[1], item[2]
                    if preview is not None:
                        event = dataclasses.replace(event, preview=str(received.still(preview)))
                    progress(event)
                elif kind == "chunk":
                    received.write(item[1], item[2])
                elif kind == "result":
                    paths = received.finish()
                    self._lost_in_a_row = 0
                    return dataclasses.replace(item[1], path=paths["video"], cover=paths.get("cover"),
                                               colorized_image=received.still_path)
                elif kind == "cancelled":
                    raise Cancelled()
                elif kind == "error":
                    _, en, zh, load_failed, shown = (*item, None)[:5]
                    if load_failed:
                        with self._lock:
                            self._park(en)
                        raise WorkerCannotLoad(self.name, en, zh)
                    raise StudioError(en, zh, Text(*shown) if shown else None)
                elif kind == "crash":
                    log.error("job %s: failed on worker %s:\n%s", job_id, self.name, item[2])
                    raise RemoteFailure(item[1], self.name)
        except RayTaskError as exc:  # our actor code itself raised: a bug, not a lost worker
            log.error("job %s: worker %s failed: %s", job_id, self.name, exc)
            raise RemoteFailure(type(exc.cause).__name__ if exc.cause else "RayTaskError", self.name) from None
        except RayError as exc:
            with self._lock:
                self._lost_in_a_row += 1
                # Not ready until it answers a question asked from now on (an answer sent before it
                # died proves nothing): Ray refuses calls while it restarts the actor.
                self._answered, self._ping, self._ping_sent = 0.0, None, 0.0
                if self._lost_in_a_row >= LOST_IN_A_ROW:
                    self._park(f"{self._lost_in_a_row} jobs in a row were lost on it; the last: {_short(exc)}")
            log.warning("worker %s lost job %s: %s", self.name, job_id, _short(exc))
            raise WorkerLost(self.name, _lost_reason(exc), _lost_reason_zh(exc), started=started) from None
        except BaseException as exc:
            if not isinstance(exc, (Cancelled, StudioError, WorkerLost, RemoteFailure)):
                # Our own side failed (the head's disk): stop the actor's stream, so it is free again.
                self.actor.cancel.remote(job_id)
                _drain(stream)
            raise
        finally:
            received.discard()


def _portable(request: VideoRequest) -> tuple[dict, VideoRequest]:
    """The request without the head's paths, and its input files as (suffix, bytes)."""
    files: dict[str, tuple[str, bytes]] = {}
    image = request.image
    if image is not None:
        if hasattr(image, "save"):  # a PIL picture handed over in memory
            import io

            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            files["image"] = (".png", buffer.getvalue())
        else:
            files["image"] = (Path(image).suffix.lower()[:12] or ".png", Path(image).read_bytes())
    music = request.music
    if isinstance(music, Path) and music.is_file():  # an upload (text is a track id, never a path)
        files["music"] = (music.suffix.lower()[:12] or ".bin", music.read_bytes())
    video = request.video
    if video is not None and Path(str(video)).is_file():
        files["video"] = (Path(str(video)).suffix.lower()[:12] or ".mp4", Path(str(video)).read_bytes())
    portable = dataclasses.replace(request, image=None if "image" in files else image,
                                   music=None if "music" in files else music,
                                   video=None if "video" in files else video)
    return files, portable


class _Files:
    """One job's files as they arrive: written under temporary names (`*.part.*`, swept after a
    crash) in the head's output folder, renamed when the result arrives, removed otherwise."""

    def __init__(self, output_dir: Path):
        self.output_dir = output_dir
        self.video = unique_video_path(output_dir)
        self.targets = {"video": self.video, "cover": self.video.with_suffix(".jpg")}
        self.parts: dict[str, tuple[Path, object]] = {}
        self.still_path: Path | None = None
        self.done = False

    def write(self, kind: str, chunk: bytes) -> None:
        if kind not in self.parts:
            target = self.targets[kind]
            part = target.with_name(f"{target.stem}.{uuid.uuid4().hex[:8]}{PART_MARK}{target.suffix}")
            self.parts[kind] = (part, open(part, "wb"))
        self.parts[kind][1].write(chunk)

    def still(self, data: bytes) -> Path:
        """The colorized still of an old photo, shown before the video."""
        if self.still_path is None:
            self.still_path = unique_video_path(self.output_dir, "-colorized.png")
        part = self.still_path.with_name(f"{self.still_path.stem}.{uuid.uuid4().hex[:8]}{PART_MARK}.png")
        part.write_bytes(data)
        os.replace(part, self.still_path)
        return self.still_path

    def finish(self) -> dict[str, Path]:
        paths = {}
        for kind, (part, handle) in self.parts.items():
            handle.close()
            os.replace(part, self.targets[kind])
            paths[kind] = self.targets[kind]
        if "video" not in paths:
            raise OSError(errno.EIO, "the worker sent no video")
        self.done = True
        return paths

    def discard(self) -> None:
        if self.done:
            return
        for part, handle in self.parts.values():
            handle.close()
            part.unlink(missing_ok=True)
        if self.still_path is not None:
            self.still_path.unlink(missing_ok=True)


def _drain(stream, timeout: float = 60.0) -> None:
    """Read a stream to its end, dropping what comes (the actor must not block on a full stream)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _ = ray.wait([stream], timeout=0.5)
            if ready:
                ray.get(next(stream))
    except (StopIteration, RayError):
        pass


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _lost_reason(exc: RayError) -> str:
    if isinstance(exc, ActorDiedError) or "died" in str(exc).lower() or "unavailable" in str(exc).lower():
        return "its process died or its machine was lost (killed, out of memory, or the node went away)"
    return f"Ray reported {type(exc).__name__}"


def _lost_reason_zh(exc: RayError) -> str:
    if isinstance(exc, ActorDiedError) or "died" in str(exc).lower() or "unavailable" in str(exc).lower():
        return "其进程已退出或所在机器已失联（被终止、内存不足或节点离线）"
    return f"Ray 报告 {type(exc).__name__}"


# ---------------------------------------------------------------- the pool: connect, start, watch, stop

def namespace_for(label: str) -> str:
    """The studio's own Ray namespace: two studios on one cluster never share workers."""
    return NAMESPACE_PREFIX + hashlib.sha1(label.encode()).hexdigest()[:10]


class RayWorkers:
    """The Ray connection, the `VideoWorker` actors and their `RayWorker`s for the service."""

    def __init__(self, workers: list[RayWorker], spec: StudioSpec, head: Studio, output_dir: Path,
                 namespace: str, label: str, owns_ray: bool, per_gpu: bool):
        self.workers = workers
        self.spec = spec
        self.head = head
        self.output_dir = output_dir
        self.namespace = namespace
        self.label = label
        self.owns_ray = owns_ray  # this pool connected (or started) Ray, so it disconnects (or stops) it
        self.per_gpu = per_gpu  # one actor per GPU: GPUs that join later get theirs (see `watch`)
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @classmethod
    def start(cls, spec: StudioSpec, head: Studio, output_dir: str | Path, *, address: str | None = None,
              count: int | None = None, object_store: int | None = None, dashboard: bool = False,
              label: str = "", data_dir: str | Path | None = None,
              say: Callable[[str], None] = log.info) -> "RayWorkers":
        """Connect (or start an embedded Ray), start the actors, wait until each answers.
        Raises `WorkersUnavailable` with what to do; never falls back to local work. Where this
        process is already connected to Ray, the workers start there (and `shutdown` leaves Ray up)."""
        namespace = namespace_for(label or f"{socket.gethostname()}:{output_dir}")
        owns_ray = not ray.is_initialized()
        embedded = address is None
        if owns_ray:
            connect(address, namespace=namespace, object_store=object_store, dashboard=dashboard,
                    excludes=_excludes(output_dir, data_dir))
        try:
            resources = ray.cluster_resources()
            gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
            where = "an embedded Ray on this machine" if embedded else f"the Ray cluster at {address}"
            say(f"Ray: {where} ({ray.get_runtime_context().gcs_address}), {gpus} GPU(s), {cpus} CPU(s), "
                f"namespace {namespace}")
            per_gpu = count is None
            count, num_gpus = _plan(count, gpus, cpus, where)
            actors = [_new_actor(spec, i, namespace, label, num_gpus) for i in range(1, count + 1)]
            identities = _identities(actors, where)
        except BaseException:
            if owns_ray:
                ray.shutdown()
            raise
        workers = [RayWorker(a, i, ident, head, Path(output_dir)) for i, (a, ident) in
                   enumerate(zip(actors, identities), start=1)]
        broken = [w for w in workers if w.identity.get("error")]
        if len(broken) == len(workers):
            for worker in workers:
                ray.kill(worker.actor, no_restart=True)
            if owns_ray:
                ray.shutdown()
            raise WorkersUnavailable(
                f"No worker could build the studio: {broken[0].identity['error'][0]}",
                f"没有工作进程能构建生成器：{broken[0].identity['error'][1]}",
            )
        for worker in workers:
            say(f"worker {worker.name}: pid {worker.identity['pid']}"
                + (f", parked: {worker.identity['error'][0]}" if worker.identity.get("error") else ", ready"))
        return cls(workers, spec, head, Path(output_dir), namespace, label, owns_ray, per_gpu and num_gpus == 1)

    def preload(self, say: Callable[[str], None] = log.info) -> None:
        """Every worker loads the model now (in parallel), instead of at its first job."""
        calls = {w.actor.preload.remote(): w for w in self.workers if not w.identity.get("error")}
        started = time.monotonic()
        for ref, worker in calls.items():
            error = ray.get(ref)
            if error:
                with worker._lock:
                    worker._park(error[0])
            else:
                say(f"worker {worker.name}: model loaded ({time.monotonic() - started:.0f} s)")

    def watch(self, add_worker: Callable[[RayWorker], None]) -> None:
        """With one worker per GPU: when GPU machines join the cluster, start workers on them and
        hand them to the service (`JobService.add_worker`)."""
        if not self.per_gpu:
            return

        def loop() -> None:
            while not self._stop.wait(WATCH_S):
                try:
                    gpus = int(ray.cluster_resources().get("GPU", 0))
                    for index in range(len(self.workers) + 1, gpus + 1):
                        actor = _new_actor(self.spec, index, self.namespace, self.label, 1)
                        identity = _identities([actor], "the cluster")[0]
                        worker = RayWorker(actor, index, identity, self.head, self.output_dir)
                        self.workers.append(worker)
                        log.info("worker %s joined (a GPU was added to the cluster)", worker.name)
                        add_worker(worker)
                except Exception:
                    log.exception("counting the cluster's GPUs failed; trying again")

        self._watcher = threading.Thread(target=loop, name="ray-gpu-watch", daemon=True)
        self._watcher.start()

    def shutdown(self) -> None:
        """Stop every actor; an embedded Ray stops with its processes, a cluster just loses us."""
        self._stop.set()
        for worker in self.workers:
            worker.close()
        try:  # each removes its scratch folder; one that does not answer in time is killed all the same
            ray.wait([w.actor.leave.remote() for w in self.workers], num_returns=len(self.workers), timeout=5)
        except RayError:
            pass
        for worker in self.workers:
            try:
                ray.kill(worker.actor, no_restart=True)
            except Exception:
                pass
        if self.owns_ray:
            ray.shutdown()


def _plan(count: int | None, gpus: int, cpus: int, where: str) -> tuple[int, int]:
    """How many actors, and GPUs per actor: one per GPU, or `count` (on CPUs where there is no GPU)."""
    if count is not None and count < 1:
        raise WorkersUnavailable(f"--worker-count {count}: give 1 or more.", f"--worker-count {count}：至少为 1。")
    if count is None:
        if gpus == 0:
            raise WorkersUnavailable(
                f"{where} has no GPU. Add GPU machines (ray start --address ...), or pass --worker-count N "
                "to run N workers on CPUs (very slow: for trying it out).",
                f"{where} 没有 GPU。请加入 GPU 机器（ray start --address ...），或用 --worker-count N 在 CPU 上运行 N 个"
                "工作进程（非常慢，仅供试用）。",
            )
        return gpus, 1
    if gpus and count > gpus:
        raise WorkersUnavailable(
            f"--worker-count {count} needs {count} GPUs (one each), but {where} has {gpus}.",
            f"--worker-count {count} 需要 {count} 块 GPU（每个工作进程一块），但 {where} 只有 {gpus} 块。",
        )
    if count > max(cpus, 1):
        raise WorkersUnavailable(
            f"--worker-count {count} needs a CPU each, but {where} has {cpus}.",
            f"--worker-count {count} 每个工作进程需要一个 CPU，但 {where} 只有 {cpus} 个。",
        )
    return count, 1 if gpus else 0


def _new_actor(spec: StudioSpec, index: int, namespace: str, label: str, num_gpus: int):
    remote = ray.remote(concurrency_groups={"control": 4})(VideoWorker)
    try:
        return remote.options(
            name=ACTOR_NAME.format(index=index), namespace=namespace, num_gpus=num_gpus, num_cpus=1,
            # Ray restarts a worker whose process died; the service, not Ray, runs its job again
            # (once, on any healthy worker), so Ray never repeats a task by itself.
            max_restarts=-1, max_task_retries=0,
        ).remote(spec, index, namespace, label)
    except ValueError as exc:  # the name is taken: another studio with our namespace is on the cluster
        raise WorkersUnavailable(
            f"Workers named {ACTOR_NAME.format(index=index)} already run in namespace {namespace} on this "
            f"cluster ({exc}). Another studio with the same data folder is serving there.",
            f"该集群的命名空间 {namespace} 中已有名为 {ACTOR_NAME.format(index=index)} 的工作进程。"
            "另一个使用相同数据目录的实例正在那里运行。",
        ) from None


def _identities(actors: list, where: str) -> list[dict]:
    try:
        return ray.get([a.identity.remote() for a in actors], timeout=START_TIMEOUT_S)
    except GetTimeoutError:
        raise WorkersUnavailable(
            f"The workers did not start within {START_TIMEOUT_S:.0f} s on {where}. Its machines may lack "
            "the resources (free GPUs, CPUs) or the Python packages; `ray status` shows what is free.",
            f"工作进程未能在 {START_TIMEOUT_S:.0f} 秒内在 {where} 上启动。机器可能缺少资源（空闲 GPU、CPU）或 "
            "Python 依赖；`ray status` 可查看空闲资源。",
        ) from None
    except RayError as exc:
        raise WorkersUnavailable(
            f"The workers could not start on {where}: {_short(exc)}",
            f"工作进程无法在 {where} 上启动：{_short(exc)}",
        ) from None


# ---------------------------------------------------------------- connecting

def connect(address: str | None, namespace: str = "cogvideo-cli", object_store: int | None = None,
            dashboard: bool = False, excludes: list[str] | None = None, workers: bool = True) -> bool:
    """`ray.init()` for an embedded Ray (address None; True is returned) or to join a cluster
    (`auto`, `HOST:PORT`; `RAY_ADDRESS` is read by the caller). A cluster that cannot be reached is
    refused quickly and clearly (ray.init alone can wait for minutes)."""
    if address:
        _check_reachable(_resolve(address), address)
    if address:
        # Ray turns token auth on for a cluster found with `auto` only; a token we were given
        # (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token) is meant for the address we were
        # given too, and a client with a token also joins a cluster without auth.
        _use_token_if_any()
    options: dict = dict(namespace=namespace, log_to_driver=workers,
                         logging_level=logging.WARNING if workers else logging.ERROR)
    from ray.job_config import JobConfig

    if address and workers:  # the workers run the head's own code, shipped to each node (no install path needed)
        options["runtime_env"] = {"working_dir": str(ROOT), "excludes": [".git", *(excludes or [])]}
    else:
        # Actor classes come from this code where it runs (an embedded Ray on this machine; the
        # operator's `workers` command, which only talks to actors another process started).
        options["job_config"] = JobConfig(code_search_path=[str(ROOT)])
    if not address:
        options.update(include_dashboard=dashboard, object_store_memory=object_store)
    if not address:
        # In this thread: Ray ties the processes it starts (GCS, raylet) to the life of the thread
        # that started them (Linux's parent-death signal follows the thread), so not in a helper thread.
        try:
            # "local": a new Ray of our own, even where another one runs on this machine.
            ray.init(address="local", **options)
            return True
        except Exception as exc:  # ray.init raises ConnectionError, RuntimeError, ValueError...
            error: BaseException | None = exc
    else:
        outcome: dict = {}

        def init() -> None:
            try:
                ray.init(address=address, **options)
                outcome["ok"] = True
            except BaseException as exc:  # ConnectionError, or SystemExit from Ray's own give-up
                outcome["error"] = exc

        # Joining starts no process here, so a helper thread may wait on it: ray.init alone can
        # wait for minutes on an address that answers but is not a Ray cluster.
        thread = threading.Thread(target=init, name="ray-init", daemon=True)
        thread.start()
        thread.join(CONNECT_TIMEOUT_S)
        if outcome.get("ok"):
            return False
        error = outcome.get("error")
        detail = _short(error) if error is not None else f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
        raise WorkersUnavailable(
            f"Could not join the Ray cluster at {address}: {detail}. Check that `ray start --head` runs there "
            "and the address; if the cluster uses token auth (Ray's default), set RAY_AUTH_TOKEN (or copy its "
            "~/.ray/auth_token here).",
            f"无法加入 {address} 的 Ray 集群：{detail}。请确认那里已运行 `ray start --head`、地址无误；"
            "如果集群启用了令牌认证（Ray 默认启用），请设置 RAY_AUTH_TOKEN（或把其 ~/.ray/auth_token 复制到本机）。",
        )
    raise WorkersUnavailable(
        f"Ray could not start on this machine: {_short(error)}. Run with --workers local, or see Ray's log under "
        "/tmp/ray/session_latest/logs.",
        f"无法在本机启动 Ray：{_short(error)}。请改用 --workers local，或查看 /tmp/ray/session_latest/logs 下的 Ray 日志。",
    )


def _resolve(address: str) -> str:
    """HOST:PORT for `auto`: the cluster `ray start` last recorded on this machine, else a running one."""
    if address != "auto":
        return address
    from ray._private.services import canonicalize_bootstrap_address

    try:
        found = canonicalize_bootstrap_address("auto")
    except (ConnectionError, ValueError):
        found = None
    if not found:
        raise WorkersUnavailable(
            "--ray-address auto: no Ray cluster runs on this machine. Start one with `ray start --head`, or "
            "give the head's HOST:PORT.",
            "--ray-address auto：本机没有运行中的 Ray 集群。请先运行 `ray start --head`，或给出头节点的 主机:端口。",
        )
    return found


def _check_reachable(address: str, given: str | None = None, timeout: float = 5.0) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise WorkersUnavailable(
            f"--ray-address {address!r} is not auto or HOST:PORT (the head's `ray start --head` prints it, "
            "e.g. 10.0.0.5:6379).",
            f"--ray-address {address!r} 不是 auto 或 主机:端口（头节点的 `ray start --head` 会打印，例如 10.0.0.5:6379）。",
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, socket.timeout):
            reason = f"no answer within {timeout:.0f} s"
        found = f" (found by {given})" if given and given != address else ""
        raise WorkersUnavailable(
            f"Could not reach the Ray cluster at {address}{found}: {reason}. Start it there with `ray start --head`, "
            "or check the address and the firewall.",
            f"无法连接 {address}{found} 的 Ray 集群：{reason}。请在那台机器上运行 `ray start --head`，或检查地址和防火墙。",
        ) from None


def _use_token_if_any() -> None:
    """Token auth on for this process where a token is at hand and RAY_AUTH_MODE does not say otherwise
    (Ray caches its configuration: setting the variable alone is not enough once Ray is imported)."""
    from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def _excludes(*folders) -> list[str]:
    """Folders under the code's root that must not travel to the workers (results, the data)."""
    found = []
    for folder in folders:
        if folder is None:
            continue
        try:
            found.append(Path(folder).resolve().relative_to(ROOT).as_posix())
        except ValueError:
            pass
    return found


# ---------------------------------------------------------------- the operator's view

def list_workers(address: str | None, timeout: float = 5.0) -> list[dict]:
    """Every studio's `VideoWorker` on the cluster, with its state and the job it runs; a worker
    that does not answer within `timeout` is listed as such (restarting, or its machine is lost)."""
    connect(address or "auto", workers=False)
    try:
        named = [a for a in ray.util.list_named_actors(all_namespaces=True)
                 if a["namespace"].startswith(NAMESPACE_PREFIX) and a["name"].startswith("VideoWorker-")]
        calls = []
        for actor in named:
            try:
                handle = ray.get_actor(actor["name"], namespace=actor["namespace"])
                calls.append((actor, handle.identity.remote()))
            except ValueError:  # gone between the listing and now
                continue
        ready, _ = ray.wait([ref for _, ref in calls], num_returns=len(calls), timeout=timeout) if calls else ([], [])
        rows = []
        for actor, ref in calls:
            row = {"actor": actor["name"], "namespace": actor["namespace"], "state": "not answering"}
            if ref in ready:
                try:
                    row.update(ray.get(ref))
                except RayError as exc:
                    row["state"] = f"not answering ({type(exc).__name__})"
            rows.append(row)
        return sorted(rows, key=lambda r: (r["namespace"], r.get("index", 0), r["actor"]))
    finally:
        ray.shutdown()
