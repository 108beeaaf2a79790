"""Ray workers in this process: a real embedded Ray (small object store), real `VideoWorker` actors
with the tiny model, the real job service. The app as a whole is in test_ray_app.py.

Specs below change what one worker builds, the way a machine of a fleet can differ (weights missing
there); they live in this module so the actors import them like any other code."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from cogvideo import VideoRequest
from cogvideo.engine.render import Engine
from cogvideo.media import codec
from cogvideo.studio import Studio
from jobs import JobService, JobStore, LocalWorker
from jobs.errors import WorkersUnavailable
from jobs.job import FAILED, QUEUED, RUNNING, SUCCEEDED
from tests.conftest import make_photo, make_tiny_ddcolor
from tests.ray_support import OBJECT_STORE, require_ray, unavailable

FAST = dict(num_inference_steps=2, num_frames=9)
BIG = 250 * 2**20  # a "video" 2.5 times the object store


def request(prompt: str = "a cat", **values) -> VideoRequest:
    return VideoRequest(prompt=prompt, **{**FAST, **values})


try:
    from jobs.ray_workers import StudioSpec
except ImportError:  # no Ray: the fixture below skips (or fails under STUDIO_REQUIRE_RAY=1)
    StudioSpec = object


@dataclasses.dataclass(frozen=True)
class WeightsMissingOnWorker1(StudioSpec):
    """Worker 1 runs on a machine without the model's weights (offline): the same model (a worker
    takes only jobs for a model it holds), its weights on the Hub only, so loading fails there."""

    def build(self, output_dir, index):
        studio = StudioSpec(model=self.model).build(output_dir, index)
        if index == 1:
            engine = studio.engine
            engine.variants = {task: dataclasses.replace(variant, repo_id="THUDM/CogVideoX-2b")
                               for task, variant in engine.variants.items()}
        return studio


class HugeStudio(Studio):
    """A real render whose MP4 is then replaced by BIG bytes of seeded noise (known to the test)."""

    def generate(self, request, progress=None, cancel=None):
        result = super().generate(request, progress, cancel)
        Path(result.path).write_bytes(huge_bytes())
        return result


@dataclasses.dataclass(frozen=True)
class HugeResults(StudioSpec):
    def build(self, output_dir, index):
        return HugeStudio(Engine(self.model), output_dir)


def huge_bytes() -> bytes:
    return np.random.default_rng(7).bytes(BIG)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ray_here(tmp_path_factory):
    """One embedded Ray for the module, as small as the app's tests run it. Its workers inherit this
    environment: offline, and a tiny DDColor for old photos."""
    require_ray()
    import ray

    from jobs.ray_workers import connect

    before = os.environ.get("DDCOLOR_WEIGHTS")
    os.environ["DDCOLOR_WEIGHTS"] = str(make_tiny_ddcolor(tmp_path_factory.mktemp("ddcolor") / "ddcolor.pth"))
    try:
        connect(None, namespace="cogvideo-tests", object_store=OBJECT_STORE)
    except WorkersUnavailable as exc:
        unavailable(f"Ray cannot start here: {exc.en}")
    finally:  # Ray's processes have it now; the other test modules of this session must not
        if before is None:
            del os.environ["DDCOLOR_WEIGHTS"]
        else:
            os.environ["DDCOLOR_WEIGHTS"] = before
    yield
    ray.shutdown()


@pytest.fixture()
def pools(ray_here, tmp_path):
    """`make(spec, count)` -> (service, pool): workers in their own namespace, closed after the test."""
    from jobs.ray_workers import RayWorkers

    made = []

    def make(spec, count: int = 2):
        from cogvideo.engine.lora import parse_loras

        # Validates (with the same LoRAs as the workers, as app.py builds it); loads nothing.
        head = Studio(Engine("tiny", loras=parse_loras(list(spec.loras))), tmp_path / "outputs")
        pool = RayWorkers.start(spec, head, tmp_path / "outputs", count=count, label=f"test:{tmp_path}:{len(made)}")
        service = JobService(JobStore(tmp_path / "data"), pool.workers, max_queue=8, poll_s=0.1).start()
        made.append((service, pool))
        return service, pool

    yield make
    for service, pool in made:
        service.close()
        pool.shutdown()


def wait_until(condition, timeout: float = 180.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met in {timeout} s")
        time.sleep(0.05)
    return value


def worker_of(pool, job):
    return next(w for w in pool.workers if w.name == job.worker)


def write_tone(path: Path, seconds: float = 2.0) -> Path:
    import wave

    samples = (0.3 * 32767 * np.sin(2 * np.pi * 330 * np.arange(int(48_000 * seconds)) / 48_000)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(48_000)
        wav.writeframes(samples.tobytes())
    return path


# ---------------------------------------------------------------- files travel through Ray

def test_the_picture_the_music_and_the_colorized_still_travel_as_bytes(pools, tmp_path):
    from jobs.ray_workers import _portable

    photo, song = tmp_path / "grandma.png", write_tone(tmp_path / "song.wav")
    make_photo(160, 96, mode="L").save(photo)
    # What goes to the worker: the request without the head's paths, the files' bytes beside it.
    files, portable = _portable(VideoRequest(prompt="x", mode="old_photo", image=photo, music=song))
    assert portable.image is None and portable.music is None
    assert files == {"image": (".png", photo.read_bytes()), "music": (".wav", song.read_bytes())}

    service, pool = pools(StudioSpec("tiny"), count=1)
    job = service.wait(service.submit(request("she smiles", mode="old_photo", image=str(photo), music=song),
                                      owner="a").id, timeout=300)
    assert job.status == SUCCEEDED, job.error
    out = service.workers[0].output_dir
    assert Path(job.video).parent == out and codec.probe(job.video).audio_codec == "aac"  # the music arrived
    still = Path(job.info["colorized_image"])  # sent as bytes with a progress event, written here
    assert still.parent == out and still.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The worker keeps nothing: its scratch folder is emptied once the result has gone out (right
    # after the head has it, so a busy machine may show the head the result first).
    scratch = Path(tempfile.gettempdir()) / f"{pool.namespace}-worker-1"
    wait_until(lambda: not list((scratch / "inputs").iterdir()) and not list((scratch / "outputs").glob("*.*")), 60,
               "an empty scratch folder")
    service.close()
    pool.shutdown()
    assert not scratch.exists()  # and a worker that leaves takes its folder with it


def test_a_clip_to_extend_travels_as_bytes_and_a_lora_loads_on_the_worker(pools, tmp_path):
    from cogvideo.engine import tiny
    from jobs.ray_workers import _portable
    from tests.test_creative import make_clip
    from tests.test_lora import make_lora

    clip = make_clip(tmp_path / "clip.mp4", frames=17)
    files, portable = _portable(VideoRequest(prompt="x", mode="extend", video=clip))
    assert portable.video is None and files == {"video": (".mp4", clip.read_bytes())}

    # The LoRA fits the tiny text-to-video transformer; the extend job runs image-to-video, so the
    # worker loads it and leaves it out there (a LoRA for the partner pipeline).
    lora = make_lora(tiny.build_pipeline("t2v").transformer, tmp_path / "ink")
    service, pool = pools(StudioSpec("tiny", loras=(f"{lora}:0.5",)), count=1)
    job = service.wait(service.submit(request("onward", mode="extend", video=str(clip), extensions=1),
                                      owner="a").id, timeout=300)
    assert job.status == SUCCEEDED, job.error
    assert codec.read_frames(job.video).shape[0] == 17 + 9 - 1 and job.info["parts"] == [17, 9]
    restyled = service.wait(service.submit(request("in ink", mode="v2v", video=str(clip), strength=0.5,
                                                   lora_scales={"ink": 1.0}), owner="a").id, timeout=300)
    assert restyled.status == SUCCEEDED, restyled.error
    service.close()
    pool.shutdown()


# ---------------------------------------------------------------- faults

def test_a_worker_that_cannot_load_the_model_fails_its_job_and_the_others_go_on(pools, caplog):
    from tests.test_shown_errors import assert_plain
    from ui.handlers import workers_text

    caplog.set_level("WARNING", logger="cogvideo.jobs")

    service, pool = pools(WeightsMissingOnWorker1("tiny"))
    first = service.submit(request("first"), owner="a")
    wait_until(lambda: service.get(first.id).status == RUNNING, what="the first job to start")
    # The first job keeps one worker busy (loading takes seconds), so the second goes to the other:
    # one of the two lands on worker 1, whose model cannot load.
    rest = [service.submit(request(f"job {i}"), owner="a") for i in range(3)]
    done = [service.wait(job.id, timeout=300) for job in (first, *rest)]

    failed = [job for job in done if job.status == FAILED]
    assert len(failed) == 1, [(j.status, j.worker, j.error) for j in done]
    broken = pool.workers[0]
    assert failed[0].worker == broken.name
    # People are told what happened and whom to ask; the worker's own reason (the command that
    # installs the weights) is the operator's: in the log and in the workers list below.
    assert failed[0].error.en == "A video worker of this server could not load the model; ask whoever runs it."
    assert failed[0].error.zh == "这台服务器的一个视频生成进程无法加载模型，请联系管理员。"
    assert_plain(failed[0].error.en, failed[0].error.zh)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"The worker {broken.name} could not load the model" in logged
    assert "python -m cogvideo download tiny" in logged
    # The other worker rendered the rest; the broken one was given nothing more.
    good = [job for job in done if job.status == SUCCEEDED]
    assert len(good) == 3 and {job.worker for job in good} == {pool.workers[1].name}
    assert all(Path(job.video).is_file() for job in good)
    states = {s.name: s for s in service.worker_states()}
    assert states[broken.name].state == "broken" and "download tiny" in states[broken.name].reason
    line = workers_text(service.worker_states(), "en")
    assert f"{broken.name}: parked" in line and f"{pool.workers[1].name}: idle" in line
    # The status line names the workers, not the head's own device (it loads no model).
    from agent import PromptAgent
    from ui.handlers import Handlers

    status = Handlers(service.workers[0].head, PromptAgent.from_env({}), service).status_line(None)
    assert "**workers** 2 (" in status and "**device**" not in status


def test_a_result_larger_than_the_object_store_arrives_whole_in_pieces(pools):
    service, pool = pools(HugeResults("tiny"), count=1)
    job = service.wait(service.submit(request("huge"), owner="a").id, timeout=300)
    assert job.status == SUCCEEDED, job.error
    video = Path(job.video)
    assert video.parent == service.workers[0].output_dir  # written by the head, in its own folder
    assert video.stat().st_size == BIG > 2 * OBJECT_STORE
    assert hashlib.sha256(video.read_bytes()).digest() == hashlib.sha256(huge_bytes()).digest()
    assert Path(job.cover).read_bytes()[:2] == b"\xff\xd8"
    assert not list(video.parent.glob("*.part.*"))  # no temporary file left beside it


def test_a_job_whose_worker_is_lost_twice_fails_and_the_line_behind_it_goes_on(pools):
    from ui.handlers import workers_text

    service, pool = pools(StudioSpec("tiny"))
    long = service.submit(request("the long one", num_inference_steps=150), owner="a")
    behind = [service.submit(request(f"behind {i}"), owner="b") for i in range(2)]

    def rendering(attempt: int):
        job = service.get(long.id)
        return job if job.status == RUNNING and job.attempts == attempt and job.progress > 0 else None

    pids = []
    for attempt in (1, 2):
        job = wait_until(lambda: rendering(attempt), what=f"attempt {attempt} to render")
        assert f"{job.worker}: rendering {long.id[:8]}" in workers_text(service.worker_states(), "en")
        pid = worker_of(pool, job).identity["pid"]
        pids.append(pid)
        os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
    failed = service.wait(long.id, timeout=120)
    assert failed.status == FAILED and failed.attempts == 2 and failed.video is None
    assert "both times the worker rendering it was lost" in failed.error.en
    assert "its process died or its machine was lost" in failed.error.en
    assert "两次渲染它的工作进程都丢失了" in failed.error.zh
    for job in behind:  # neither lost nor run twice
        done = service.wait(job.id, timeout=300)
        assert done.status == SUCCEEDED and done.attempts == 1
    videos = sorted(p.name for p in service.workers[0].output_dir.glob("*.mp4"))
    assert len(videos) == 2  # one per finished job: the killed attempts left nothing
    # Ray restarted both killed actors (new processes); both take jobs again.
    wait_until(lambda: all(w.ready() for w in pool.workers), timeout=120, what="the workers to come back")
    after = service.wait(service.submit(request("after"), owner="a").id, timeout=300)
    assert after.status == SUCCEEDED and codec.probe(after.video).video_codec == "h264"
    assert not set(pids) & {w.identity["pid"] for w in pool.workers}


# ---------------------------------------------------------------- start-up rules

def test_the_worker_count_follows_the_gpus_or_says_what_to_do():
    require_ray()
    from jobs.ray_workers import _plan

    assert _plan(None, gpus=4, cpus=32, where="x") == (4, 1)  # one worker per GPU
    assert _plan(2, gpus=4, cpus=32, where="x") == (2, 1)
    assert _plan(2, gpus=0, cpus=2, where="x") == (2, 0)  # CPU workers where there is no GPU
    for count, gpus, cpus, words in [(None, 0, 8, "has no GPU"), (5, 4, 32, "needs 5 GPUs"),
                                     (0, 0, 2, "give 1 or more"), (3, 0, 2, "needs a CPU each")]:
        with pytest.raises(WorkersUnavailable) as err:
            _plan(count, gpus=gpus, cpus=cpus, where="the Ray cluster at h:1")
        assert words in err.value.en and err.value.zh


def test_an_unreachable_cluster_is_refused_at_once_with_what_to_do():
    require_ray()
    from jobs.ray_workers import connect

    started = time.monotonic()
    for address, words in [("127.0.0.1:1", "Could not reach the Ray cluster at 127.0.0.1:1"),
                           ("nowhere", "is not auto or HOST:PORT")]:
        with pytest.raises(WorkersUnavailable) as err:
            connect(address)
        assert words in err.value.en
    assert time.monotonic() - started < 15  # ray.init alone waits minutes on a refused port


def test_a_job_waits_for_a_worker_that_holds_its_model(pools, tmp_path):
    """The workers hold CogVideoX's tiny; a tiny-wan job in the same line (a server that ran Wan left
    it) is not taken, while the job behind it for the held model runs."""
    service, pool = pools(StudioSpec(model="tiny"), count=1)
    assert pool.workers[0].identity["models"] == ["tiny", "tiny-i2v"]  # as the actor reports them
    # Submitted through a studio that holds tiny-wan (its checks), into the same store; never started.
    wan = JobService(service.store, [LocalWorker(Studio(Engine("tiny-wan"), tmp_path / "wan"))]).submit(
        request("一只猫在雨中散步"))
    mine = service.submit(request("a boat"))
    assert service.wait(mine.id, timeout=180).status == SUCCEEDED and service.get(mine.id).model == "tiny"
    waiting = service.get(wan.id)
    assert waiting.status == QUEUED and waiting.worker is None and waiting.position is None
    assert "model tiny-wan" in waiting.message.en and service.expected(waiting).waits_for == "tiny-wan"
