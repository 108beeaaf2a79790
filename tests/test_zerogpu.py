"""A ZeroGPU Space: every render runs inside one `spaces.GPU` call that asks for a duration computed
from the request, while the job service keeps the line, history and cancel; elsewhere nothing changes.

The real `spaces` package is imported (its `GPU` is what app.py hands the worker); only its decorator
is replaced by a stand-in, since the real one needs Hugging Face's device API. The stand-in keeps the
contract `spaces` 0.51.3 has (spaces/zero/wrappers.py): the duration is a callable of the function's
own arguments, the arguments and every yielded value cross by pickle (the real call runs in a forked
process), and a closed call closes the function's generator before it returns.
"""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import pytest

from cogvideo import VideoRequest
from jobs.job import CANCELLED, SUCCEEDED

SPACES_MISSING = ("the `spaces` package (PyPI spaces==0.51.3, in requirements-dev.txt) is not installed: "
                  "pip install -r requirements-dev.txt")


class StandInGPU:
    """`spaces.GPU` without a Space: records each call's duration and whether a call is running."""

    def __init__(self) -> None:
        self.durations: list[int] = []
        self.requests: list = []  # the first argument of each call, as the call received it
        self.active = 0  # calls in progress (their generator not yet closed)
        self.decorated: list = []

    def __call__(self, task=None, *, duration=None, size=None):
        if task is None:
            return lambda fn: self(fn, duration=duration, size=size)
        self.decorated.append(task)

        def call(*args, **kwargs):
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))  # spaces sends them to its forked process
            self.requests.append(args[0])
            self.durations.append(duration(*args, **kwargs) if callable(duration) else duration)
            self.active += 1
            inner = task(*args, **kwargs)
            try:
                for item in inner:
                    yield pickle.loads(pickle.dumps(item))  # as the parent process receives it
            finally:
                inner.close()  # spaces waits for its process to end the function
                self.active -= 1

        return call


@pytest.fixture()
def stand_in(monkeypatch):
    spaces = pytest.importorskip("spaces", reason=SPACES_MISSING)  # imported before SPACES_ZERO_GPU is set:
    gpu = StandInGPU()                                              # its own settings stay off-Space
    monkeypatch.setattr(spaces, "GPU", gpu)
    return gpu


@pytest.fixture()
def forwards(stand_in):
    """For every torch module run: whether a GPU call was in progress."""
    import torch

    seen: list[bool] = []
    handle = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, args: seen.append(stand_in.active > 0))
    yield seen
    handle.remove()


def built(tmp_path, monkeypatch, zero_gpu: bool):
    """The app as app.py's `build` composes it (flags, engine, studio, worker, service, page), not served."""
    import app

    if zero_gpu:
        monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # what a ZeroGPU Space sets
    else:
        monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setenv("PROMPT_AGENT_BACKEND", "templates")  # no prompt model to look for
    args = app.parse_args(["--model", "tiny", "--data-dir", str(tmp_path / "data"),
                           "--output-dir", str(tmp_path / "outputs"), "--max-queue", "8"])
    _demo, studio, service, _agent, _pool = app.build(args)
    service.poll_s = 0.1
    (worker,) = service.workers
    return args, studio, worker, service


def wait_until(condition, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_on_zero_gpu_every_render_runs_inside_the_gpu_call(tmp_path, monkeypatch, stand_in, forwards):
    args, studio, worker, service = built(tmp_path, monkeypatch, zero_gpu=True)
    # Models at start, all on "cuda" (spaces keeps them on the CPU until a call moves them in).
    assert args.preload and args.offload == "none"
    assert len(stand_in.decorated) == 1  # wrapped when built: spaces counts wrapped functions at launch
    studio.preload()
    service.start()
    try:
        # Two jobs through the line: latent frames (9 - 1) / 4 + 1 = 3, then (17 - 1) / 4 + 1 = 5.
        first = service.submit(VideoRequest("a lighthouse", num_inference_steps=4, num_frames=9, seed=1))
        second = service.submit(VideoRequest("a harbour", num_inference_steps=2, num_frames=17, seed=2))
        done = [service.wait(job.id, timeout=300) for job in (first, second)]
    finally:
        service.close()
    assert [job.status for job in done] == [SUCCEEDED, SUCCEEDED]
    assert all(job.video and Path(job.video).exists() for job in done)
    assert forwards and all(forwards)  # every module ran while a GPU call was in progress
    assert stand_in.active == 0
    assert [(r.prompt, r.num_inference_steps, r.num_frames) for r in stand_in.requests] == \
        [("a lighthouse", 4, 9), ("a harbour", 2, 17)]  # one call per job, in the line's order
    assert stand_in.durations == [worker.duration(r) for r in stand_in.requests]


def test_cancel_reaches_the_render_inside_the_gpu_call(tmp_path, monkeypatch, stand_in, forwards):
    _args, studio, _worker, service = built(tmp_path, monkeypatch, zero_gpu=True)
    studio.preload()
    service.start()
    try:
        job = service.submit(VideoRequest("a long night", num_inference_steps=150, num_frames=9))
        wait_until(lambda: len(forwards) >= 20)  # rendering, inside the call
        service.cancel(job.id)
        done = service.wait(job.id, timeout=120)
    finally:
        service.close()
    assert done.status == CANCELLED and done.video is None
    assert stand_in.active == 0  # the call ended with the render
    assert all(forwards)
    assert not [t for t in threading.enumerate() if t.name == "zerogpu-render"]


def test_the_duration_follows_the_request_and_is_capped(tmp_path):
    from cogvideo import Studio
    from cogvideo.engine.render import Engine
    from jobs.zerogpu import MAX_SECONDS, gpu_seconds

    studio = Studio(Engine("5b"), tmp_path)  # nothing loaded: the duration reads the variant only

    def seconds(most: int = 10_000, **fields) -> int:
        return gpu_seconds(VideoRequest("a fox", **fields), studio, most=most)

    assert seconds(num_inference_steps=10) < seconds(num_inference_steps=20) < seconds(num_inference_steps=40)
    assert seconds(num_frames=9) < seconds(num_frames=25) < seconds(num_frames=49)
    assert seconds(speed="fast") < seconds(speed="balanced") < seconds(speed="quality")
    assert seconds(mode="extend", video="clip.mp4", extensions=2) > seconds(mode="t2v")
    assert seconds(upscale=True) > seconds()
    assert seconds(most=MAX_SECONDS, num_inference_steps=150) == MAX_SECONDS
    assert seconds(most=120, num_inference_steps=150) == 120
    bigger = Studio(Engine("1.5-5b"), tmp_path)
    smaller = Studio(Engine("2b"), tmp_path)
    request = VideoRequest("a fox", num_inference_steps=20, num_frames=49)
    assert gpu_seconds(request, smaller, most=10_000) < seconds(num_inference_steps=20) \
        < gpu_seconds(request, bigger, most=10_000)


def test_outside_a_space_nothing_is_wrapped(tmp_path, monkeypatch, stand_in, forwards):
    from jobs import LocalWorker

    args, studio, worker, service = built(tmp_path, monkeypatch, zero_gpu=False)
    assert type(worker) is LocalWorker and not args.preload and args.offload == "auto"
    service.start()
    try:
        job = service.submit(VideoRequest("a lighthouse", num_inference_steps=2, num_frames=9))
        done = service.wait(job.id, timeout=300)
    finally:
        service.close()
    assert done.status == SUCCEEDED
    assert stand_in.decorated == [] and stand_in.durations == []
    assert forwards and not any(forwards)  # rendered, and never inside a GPU call


def test_an_error_inside_the_gpu_call_comes_back_with_its_message(tmp_path, monkeypatch, stand_in):
    _args, studio, worker, _service = built(tmp_path, monkeypatch, zero_gpu=True)
    from cogvideo.errors import StudioError

    # A music track that does not exist: the studio's own bilingual error, raised inside the call.
    with pytest.raises(StudioError) as raised:
        worker.run(VideoRequest("a fox", num_inference_steps=1, num_frames=9, music="no-such-track"),
                   progress=lambda event: None, cancel=threading.Event())
    assert raised.value.text.zh and "no-such-track" in raised.value.text.en
    assert len(stand_in.durations) == 1 and stand_in.active == 0  # raised inside the call, and it ended


def test_on_zero_gpu_the_flags_follow_what_zerogpu_allows(monkeypatch):
    import app

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("STUDIO_GPU_MAX_SECONDS", "120")
    args = app.parse_args(["--model", "tiny", "--offload", "model"])
    assert args.gpu_max_seconds == 120 and args.preload
    assert args.offload == "model"  # an operator's explicit choice stays; only auto becomes none
    with pytest.raises(SystemExit):  # its GPU exists only inside a call: no Ray actor can hold one
        app.parse_args(["--model", "tiny", "--workers", "ray"])
