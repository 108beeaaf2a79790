"""What runs on a worker machine: the `VideoWorker` Ray actor and the `StudioSpec` it builds from.

Each actor builds its own `Studio` once and keeps it (its pipelines stay loaded between jobs); it
renders one job at a time and streams progress, then the files in pieces, back to the head
(`jobs.ray_workers`, which owns the line, the database and every file).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

import ray

from cogvideo import Studio, VideoRequest, VideoResult
from cogvideo.errors import Cancelled, InvalidRequest, StudioError
from cogvideo.request import DEFAULT_SPEED

from .workers import BROKEN, IDLE

CHUNK_BYTES = 8 * 2**20  # a result file travels in pieces of this size


# ---------------------------------------------------------------- what a worker builds

@dataclasses.dataclass(frozen=True)
class StudioSpec:
    """What every worker loads: the app's model and speed flags. Sent to the actors, which build
    their own `Studio` from it once and keep it (its pipelines stay loaded between jobs)."""

    model: str = "5b"
    offload: str = "auto"
    compile: bool = False
    fp8: bool = False
    attention: str = "native"
    speed: str = DEFAULT_SPEED
    loras: tuple[str, ...] = ()  # --lora values: each worker machine finds the files at these paths (or the Hub)
    vram_gib: float | None = None  # --vram-gib: each worker sizes its card as if it had this much

    def build(self, output_dir: Path, index: int) -> Studio:
        """The worker's studio; nothing is loaded yet (the first job, or `preload`, loads it)."""
        from cogvideo.engine.lora import parse_loras
        from cogvideo.engine.render import Engine

        engine = Engine(self.model, offload=self.offload, compile=self.compile, fp8=self.fp8,
                        attention=self.attention, loras=parse_loras(list(self.loras)), speed=self.speed,
                        vram_gib=self.vram_gib)
        return Studio(engine, output_dir, default_speed=self.speed)


# ---------------------------------------------------------------- the actor (runs on the workers)

class VideoWorker:
    """One render slot on one GPU (or CPU): its studio is built once and kept between jobs.

    `run` renders one job at a time (Ray's default concurrency group holds one); `identity` and
    `cancel` answer from the "control" group while a job renders."""

    def __init__(self, spec: StudioSpec, index: int, namespace: str, studio_label: str):
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        self.index = index
        self.studio_label = studio_label
        # This node's scratch folder for inputs and results; a restarted actor clears what its
        # killed predecessor left (nothing else writes here: the name carries the studio's namespace).
        self.workdir = Path(tempfile.gettempdir()) / f"{namespace}-worker-{index}"
        shutil.rmtree(self.workdir, ignore_errors=True)
        (self.workdir / "inputs").mkdir(parents=True, exist_ok=True)
        self.state = "starting"
        self.job_id: str | None = None
        self.since = time.time()
        self.jobs_done = 0
        self.error: tuple[str, str] | None = None  # why this worker cannot render (en, zh)
        self.loaded: list[str] = []  # the tasks whose pipelines are in memory ("t2v", "i2v")
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        try:
            self.studio: Studio | None = spec.build(self.workdir / "outputs", index)
            self.state = IDLE
        except StudioError as exc:  # a model name or folder this machine does not have
            self.studio = None
            self.error = (exc.en, exc.zh)
            self.state = BROKEN
        except Exception as exc:
            logging.getLogger("cogvideo.worker").exception("the studio could not be built")
            self.studio = None
            self.error = (f"the studio could not be built ({type(exc).__name__}: {exc})",
                          f"无法构建生成器（{type(exc).__name__}：{exc}）")
            self.state = BROKEN

    # ------------------------------------------------------------ control (answers while rendering)

    @ray.method(concurrency_group="control")
    def identity(self) -> dict:
        """Where this worker runs and what it does: the head names it after this, and
        `python -m cogvideo workers` lists it."""
        gpus = [str(g) for g in ray.get_gpu_ids()]
        return {
            "index": self.index, "host": socket.gethostname(), "ip": ray.util.get_node_ip_address(),
            "node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "gpus": gpus,
            "state": self.state, "job_id": self.job_id, "since": self.since, "jobs_done": self.jobs_done,
            "loaded": self.loaded, "error": list(self.error) if self.error else None, "studio": self.studio_label,
            **self.models_held(),
        }

    def models_held(self) -> dict:
        """The model this worker's studio serves and all its names (none while it cannot build)."""
        if self.studio is None:
            return {}
        return {"model": self.studio.model, "models": [v.name for v in self.studio.variants.values()]}

    @ray.method(concurrency_group="control")
    def cancel(self, job_id: str) -> None:
        """Stop `job_id` at its next denoising step (or before it starts)."""
        with self._lock:
            self._cancelled.add(job_id)

    @ray.method(concurrency_group="control")
    def leave(self) -> None:
        """The studio is shutting down: remove this worker's scratch folder (it is killed next)."""
        with self._lock:
            self._cancelled.add(self.job_id or "")
        shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ work (one at a time)

    def preload(self) -> list[str] | None:
        """Load every pipeline now; None when loaded, else the reason [en, zh] (the worker stays broken)."""
        if self.studio is None:
            return list(self.error)
        self.state = "loading"
        try:
            self.studio.preload()
        except StudioError as exc:
            self.error, self.state = (exc.en, exc.zh), BROKEN
            return list(self.error)
        except Exception as exc:
            logging.getLogger("cogvideo.worker").exception("loading the model failed")
            self.error, self.state = (f"{type(exc).__name__}: {exc}", f"{type(exc).__name__}：{exc}"), BROKEN
            return list(self.error)
        self.error, self.state = None, IDLE
        self.loaded = list(self.studio.status().loaded)
        return None

    def run(self, job_id: str, request: VideoRequest, files: dict):
        """Render one job, as a stream of items the head reads in order:

            ("started", identity) · ("event", ProgressEvent, preview bytes | None)* ·
            then ("chunk", "video" | "cover", bytes)* and ("result", VideoResult),
            or ("cancelled",), or ("error", en, zh, load_failed, shown (en, zh) | None), or ("crash", type name, traceback).
        """
        self.job_id, self.since = job_id, time.time()
        folder = self.workdir / "inputs" / job_id
        result: VideoResult | None = None
        thread: threading.Thread | None = None
        try:
            yield ("started", self.identity())
            if self.studio is None:
                yield ("error", *self.error, True)
                return
            request = self._with_inputs(request, files, folder)
            self.state = "rendering"
            events: queue.Queue = queue.Queue()
            cancelled = lambda: job_id in self._cancelled  # noqa: E731
            thread = threading.Thread(target=self._render, args=(request, events, cancelled), daemon=True)
            thread.start()
            while True:
                item = events.get()
                if item[0] != "event":
                    break
                # Steps queued while the head was slow: only the newest render step matters.
                while item[1].stage == "render" and not events.empty() and events.queue[0][0] == "event" \
                        and events.queue[0][1].stage == "render":
                    item = events.get()
                self.state = "loading" if item[1].stage == "load" else "rendering"
                yield ("event", item[1], _read(item[1].preview))
            if item[0] != "result":
                yield item
                return
            result = item[1]
            for kind, path in (("video", result.path), ("cover", result.cover)):
                if path is None:
                    continue
                with open(path, "rb") as source:
                    while chunk := source.read(CHUNK_BYTES):
                        if cancelled():  # the head gave up on this job (its own disk, a shutdown)
                            return
                        yield ("chunk", kind, chunk)
            self.jobs_done += 1
            yield ("result", result)
        finally:
            for path in (result.path, result.cover, result.colorized_image) if result else ():
                if path:
                    Path(path).unlink(missing_ok=True)
            with self._lock:
                if thread is not None and thread.is_alive():
                    self._cancelled.add(job_id)  # the head left mid-render: stop it (it forgets the flag)
                else:
                    self._cancelled.discard(job_id)
                    shutil.rmtree(folder, ignore_errors=True)
            self.job_id, self.since = None, time.time()
            if self.state in ("rendering", "loading"):
                self.state = IDLE

    def _with_inputs(self, request: VideoRequest, files: dict, folder: Path) -> VideoRequest:
        """The head's input files, written on this machine, in place of the head's paths."""
        values = {}
        for field, (suffix, data) in files.items():
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{field}{suffix}"
            path.write_bytes(data)
            values[field] = path
        return dataclasses.replace(request, **values)

    def _render(self, request: VideoRequest, events: queue.Queue, cancelled: Callable[[], bool]) -> None:
        job_id, result = self.job_id, None
        try:
            result = self.studio.generate(request, progress=lambda event: events.put(("event", event)),
                                          cancel=cancelled)
            self.loaded = list(self.studio.status().loaded)
            events.put(("result", result))
        except Cancelled:
            events.put(("cancelled",))
        except StudioError as exc:
            # Not loaded after a failure that is not about the request: the model itself failed to load.
            self.loaded = list(self.studio.status().loaded)
            load_failed = request.task not in self.loaded and not isinstance(exc, InvalidRequest)
            if load_failed:
                self.error, self.state = (exc.en, exc.zh), BROKEN
            shown = exc.shown and (exc.shown.en, exc.shown.zh)  # what people see, where `text` is the operator's
            events.put(("error", exc.en, exc.zh, load_failed, shown))
        except BaseException as exc:  # a bug: the head logs the traceback and fails the job
            events.put(("crash", type(exc).__name__, traceback.format_exc()))
        finally:
            if self.job_id != job_id:  # its stream was closed while it rendered: clean up here
                with self._lock:
                    self._cancelled.discard(job_id)
                shutil.rmtree(self.workdir / "inputs" / job_id, ignore_errors=True)
                for path in (result.path, result.cover, result.colorized_image) if result else ():
                    if path:
                        Path(path).unlink(missing_ok=True)


def _read(path) -> bytes | None:
    try:
        return Path(path).read_bytes() if path else None
    except OSError:
        return None
