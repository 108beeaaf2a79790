"""Renders inside a GPU call: a worker for Hugging Face ZeroGPU Spaces.

On ZeroGPU a GPU exists only while a function wrapped by `spaces.GPU(duration=...)` runs. The job
service keeps the line, the history and cancel as everywhere; only the render itself goes through
that wrapper, which the app passes in (this package never imports `spaces` or gradio).

What `spaces` 0.51.3 does with the wrapped function (spaces/zero/wrappers.py), and why this module
has its shape:
- It can be called from any thread. It reads the Gradio request from a context variable; in our
  worker thread there is none, so the call is scheduled without a visitor's token (the Space's own
  allowance, as for cached examples) instead of failing.
- The function runs in a forked process; its arguments and results cross by pickle. So the
  service's progress callback and cancel event cannot be passed in: the wrapped function is a
  generator that yields each `ProgressEvent` and then the outcome, and cancel closes the generator
  (spaces then closes ours in the child at its next yield, and we stop the render there).
- An exception from the child arrives as "ZeroGPU worker error" with only its class name: the
  outcome is therefore always a yielded value, our bilingual errors included.
- `duration` may be a callable of the same arguments: `gpu_seconds` estimates it from the request.
"""

from __future__ import annotations

import logging
import pickle
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from cogvideo import ProgressEvent, Studio, VideoRequest, VideoResult
from cogvideo.errors import Cancelled, StudioError

from .estimate import frames_of, work_of
from .workers import LocalWorker

log = logging.getLogger("cogvideo.jobs.zerogpu")

# The longest call ZeroGPU grants. `spaces` has no constant for it (the server refuses a longer one:
# "The requested GPU duration (Ns) is larger than the maximum allowed"); ZeroGPU's maintainers gave
# 5 minutes (huggingface.co/spaces/zero-gpu-explorers/README/discussions/7) and say it may change,
# so the app lets the operator set another (STUDIO_GPU_MAX_SECONDS).
MAX_SECONDS = 300
# Seconds per denoising step and frame of a 5B model at 720×480 on a ZeroGPU slice (an H200 MIG
# 3g.71gb, `spaces`' configs.json: 60 of the H200's 132 SMs): measured 92.8 s for 50 steps × 49
# frames on a whole H200 (docs/architecture.md), × 132/60.
STEP_FRAME_S = 92.8 / (50 * 49) * 132 / 60
# Per step and frame, against the 5B model: 2B about half (CogVideo's published A100 times, 90 s vs
# 180 s), 1.5 about 3.3 times (1360×768, ~1000 s for 81 frames vs 180 s for 49). The tiny model is
# nothing next to the overhead.
# Wan: estimates until `bench/gpu.py` measures it. Wan2.1-1.3B makes 81 frames of 832×480 in ~4 min
# on an RTX 4090 (its README), a card slower than the H200 these factors are measured on; Wan2.2-5B
# makes 121 frames of 1280×704 with a VAE that compresses twice as much per side.
FAMILY_FACTOR = {"cogvideox-2b": 0.5, "cogvideox-5b": 1.0, "cogvideox1.5-5b": 3.3, "tiny": 0.0,
                 "wan2.1-1.3b": 0.7, "wan2.2-5b": 1.5, "tiny-wan": 0.0}
# Render time against Quality: Balanced and Fast as measured on the H200 (71.2 and 56.0 s vs 92.8),
# Lean as its authors publish (1.3× faster).
SPEED_FACTOR = {"quality": 1.0, "balanced": 0.77, "fast": 0.6, "lean": 0.77}
# Moving the packed weights onto the GPU at the call's start, decoding and encoding.
OVERHEAD_S = 30.0
UPSCALE_FRAME_S = 0.5  # Real-ESRGAN 2× on the GPU, per output frame
COLORIZE_S = 10.0  # DDColor on the old photo
MARGIN = 1.25  # a call that runs past its duration may be aborted: ask a little more than expected

GpuDecorator = Callable[..., Callable]  # spaces.GPU's shape: decorator(fn, duration=callable)


def gpu_seconds(request: VideoRequest, studio: Studio, default_speed: str = "quality",
                most: int = MAX_SECONDS) -> int:
    """Seconds to ask for one request: steps × frames × model × preset, plus overhead, capped."""
    variant = studio.variant(request.task)  # extend and old photos: image to video; restyle: text to video
    record = {"num_inference_steps": request.num_inference_steps, "num_frames": request.num_frames,
              "extensions": request.extensions, "strength": request.strength}
    work = work_of(record, request.mode, variant.name)  # steps × frames (× parts, × strength)
    family = FAMILY_FACTOR.get(variant.family, 1.0)  # a local folder: priced as a 5B
    speed = SPEED_FACTOR.get(request.speed or default_speed, 1.0)
    seconds = work * STEP_FRAME_S * family * speed + OVERHEAD_S
    if request.upscale:
        seconds += UPSCALE_FRAME_S * frames_of(record, request.mode, variant.name)
    if request.mode == "old_photo" and request.colorize:
        seconds += COLORIZE_S
    return max(1, min(most, round(seconds * MARGIN)))


@dataclass(frozen=True)
class _Done:
    """The end of a GPU call: its result, or the error to raise (a value: see the module's note)."""

    result: VideoResult | None = None
    error: BaseException | None = None
    cancelled: bool = False


class ZeroGpuWorker(LocalWorker):
    """Renders in this process like `LocalWorker`, each job inside one call of the given GPU
    decorator (`spaces.GPU`), asking for `gpu_seconds` of the request."""

    def __init__(self, studio: Studio, gpu: GpuDecorator, name: str = "zerogpu", most: int = MAX_SECONDS,
                 default_speed: str = "quality") -> None:
        super().__init__(studio, name)
        self.most = most
        self.default_speed = default_speed
        # Wrapped once, now: spaces packs the weights and reports the Space's GPU functions at launch,
        # and counts only functions wrapped before it.
        self._render_on_gpu = gpu(self._render, duration=self.duration)

    def duration(self, request: VideoRequest) -> int:
        """spaces calls this with the wrapped function's arguments."""
        expected = gpu_seconds(request, self.studio, self.default_speed, most=2**31)
        if expected > self.most:  # ZeroGPU may stop the call before the video is done: the operator should know
            log.warning("a video expected to need %d s of GPU asks for the most a call may have, %d s",
                        expected, self.most)
        return min(expected, self.most)

    def run(self, request: VideoRequest, progress: Callable[[ProgressEvent], None], cancel: threading.Event,
            job_id: str | None = None) -> VideoResult:
        calls = self._render_on_gpu(request)
        done = _Done(cancelled=True)
        try:
            for item in calls:  # to its end, so spaces releases the GPU as after any call
                if isinstance(item, _Done):
                    done = item
                    continue
                progress(item)
                if cancel.is_set():
                    break  # closing the call stops the render at its next step (below, and in spaces)
        finally:
            calls.close()
        return _outcome(done)

    def _render(self, request: VideoRequest) -> Iterator[ProgressEvent | _Done]:
        """The GPU call: the studio renders in a thread of its own while this yields its progress."""
        events: queue.Queue = queue.Queue()
        stop = threading.Event()

        def render() -> None:
            try:
                done = _Done(result=self.studio.generate(request, progress=events.put, cancel=stop))
            except Cancelled:
                done = _Done(cancelled=True)
            except Exception as exc:  # every error goes back as a value: spaces would keep only its name
                if not isinstance(exc, StudioError):  # ours carry their message; the others' trace is in this process
                    log.exception("render failed inside the GPU call")
                done = _Done(error=_portable(exc))
            events.put(done)

        thread = threading.Thread(target=render, name="zerogpu-render", daemon=True)
        thread.start()
        try:
            while True:
                item = events.get()
                yield item
                if isinstance(item, _Done):
                    return
        finally:
            stop.set()  # closed early (cancel, service closing): the studio stops at its next step
            thread.join()


def _outcome(done: _Done) -> VideoResult:
    if done.cancelled:
        raise Cancelled()
    if done.error is not None:
        raise done.error
    return done.result


def _portable(exc: Exception) -> BaseException:
    """The error itself where it survives pickling (the trip from spaces' forked process), else
    one that does with the same message."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        pass
    if isinstance(exc, StudioError):
        return StudioError(exc.text.en, exc.text.zh, exc.shown)
    return RuntimeError(f"{type(exc).__name__}: {exc}")
