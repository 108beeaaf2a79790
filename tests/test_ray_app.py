"""`python app.py --model tiny --workers ray --worker-count 2` for real: an embedded Ray, two
`ray::VideoWorker` processes, jobs through the named API, a worker killed mid-job, a cancel, Ctrl-C.
Also the refusals at start-up and joining a cluster that `ray start --head` runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cogvideo.media import codec
from jobs import JobStore
from jobs.job import CANCELLED, RUNNING, SUCCEEDED
from tests.conftest import APP_START_S, ROOT, free_port
from tests.ray_support import GCS_ADDRESS, ray_processes, require_ray, unavailable, wait_gone

FAST = dict(num_inference_steps=2, num_frames=9)
LONG = dict(num_inference_steps=150, num_frames=33)  # a minute or more on one CPU core
HOST = socket.gethostname()


class RayApp:
    """The app with Ray workers, in its own process group (a terminal's Ctrl-C reaches the group)."""

    def __init__(self, tmp: Path, *args: str, count: str = "2"):
        tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.output_dir, self.data_dir = tmp / "outputs", tmp / "data"
        self.log_path = tmp / "app.log"
        env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
        env.pop("RAY_ADDRESS", None)
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "app.py", "--model", "tiny", "--port", str(self.port), "--output-dir",
                 str(self.output_dir), "--data-dir", str(self.data_dir), "--max-queue", "8", "--max-queue-per-user",
                 "0", "--workers", "ray", "--worker-count", count, "--ray-object-store", "100mb", *args],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + APP_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = self.log()
                if "Ray could not start on this machine" in text:
                    unavailable("Ray cannot start here:\n" + text[-1500:])
                raise RuntimeError("app exited early:\n" + text[-3000:])
            try:
                import urllib.request

                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            self.close()
            raise RuntimeError(f"app did not answer in {APP_START_S} s:\n" + self.log()[-3000:])
        self.gcs = GCS_ADDRESS.search(self.log()).group(1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ctrl_c(self, timeout: float = 90) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ctrl_c()
            except Exception:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def workers_cli(address: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "cogvideo", "workers", "--ray-address", address, "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def wait_for(condition, timeout: float = 240, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
    return value


def jobs_named(store: JobStore, prompt: str):
    return [job for job in store.list() if job.user_prompt == prompt]


@pytest.fixture(scope="module")
def ray_app(tmp_path_factory):
    require_ray()
    app = RayApp(tmp_path_factory.mktemp("ray-app"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def client(ray_app):
    from gradio_client import Client

    return Client(ray_app.url, verbose=False)


@pytest.fixture(scope="module")
def store(ray_app):
    opened = JobStore(ray_app.data_dir)
    yield opened
    opened.close()


# ---------------------------------------------------------------- two workers, one line

def test_four_jobs_at_once_finish_two_at_a_time_each_on_a_named_worker(ray_app, client, store):
    calls = [client.submit(prompt=f"four {i}", seed=100 + i, api_name="/text_to_video", **FAST) for i in range(4)]
    for call in calls:
        call.result(timeout=400)
    jobs = [jobs_named(store, f"four {i}")[0] for i in range(4)]
    assert all(job.status == SUCCEEDED and job.attempts == 1 for job in jobs)
    videos = [Path(job.video) for job in jobs]
    assert len({hashlib.sha256(v.read_bytes()).hexdigest() for v in videos}) == 4  # distinct files
    for video in videos:
        assert video.parent == ray_app.output_dir.resolve() and codec.probe(video).video_codec == "h264"
    # Two at a time: some moment has two running, none has three.
    windows = [(job.started_at, job.finished_at) for job in jobs]
    overlap = max(sum(1 for start, end in windows if start <= moment < end) for moment, _ in windows)
    assert overlap == 2, windows
    names = {job.worker for job in jobs}
    assert names == {f"{HOST}/CPU 1", f"{HOST}/CPU 2"}
    # /job_status says which worker (node, core or GPU) ran it.
    status = client.predict(job_id=jobs[0].id, api_name="/job_status")
    assert status["worker"] == jobs[0].worker and status["status"] == SUCCEEDED


def test_cancel_reaches_the_worker_running_the_job(ray_app, client, store):
    client.submit(prompt="cancel me", seed=5, api_name="/text_to_video", **LONG)
    job = wait_for(lambda: next((j for j in jobs_named(store, "cancel me") if j.status == RUNNING and j.progress > 0),
                                None), what="the job to render")
    cancelled_at = time.monotonic()
    assert client.predict(job_id=job.id, api_name="/cancel_job")["job_id"] == job.id
    done = wait_for(lambda: (j := store.get(job.id)).finished and j, timeout=60, what="the cancel")
    assert time.monotonic() - cancelled_at < 30
    assert done.status == CANCELLED and done.video is None and done.progress < 1


def test_a_worker_killed_mid_job_restarts_and_the_job_runs_again_once(ray_app, client, store):
    client.submit(prompt="survivor", seed=9, api_name="/text_to_video", **LONG)
    behind = [client.submit(prompt=f"behind {i}", seed=20 + i, api_name="/text_to_video", **FAST) for i in range(2)]
    job = wait_for(lambda: next((j for j in jobs_named(store, "survivor") if j.status == RUNNING and j.progress > 0),
                                None), what="the job to render")
    # The operator's view: every worker, its process and the job it runs.
    rows = workers_cli(ray_app.gcs)
    assert len(rows) == 2 and {r["state"] for r in rows} <= {"idle", "rendering", "loading"}
    running = next((r for r in rows if r.get("job_id") == job.id), None)
    assert running is not None, (job.id, store.get(job.id).status, rows)
    assert running["state"] == "rendering" and f"{running['host']}/CPU {running['index']}" == job.worker
    os.kill(running["pid"], signal.SIGKILL)

    done = wait_for(lambda: (j := store.get(job.id)).finished and j, timeout=300, what="the job to finish")
    assert done.status == SUCCEEDED and done.attempts == 2, done.error
    for call in behind:
        call.result(timeout=300)
    assert all(j.status == SUCCEEDED and j.attempts == 1 for i in range(2) for j in jobs_named(store, f"behind {i}"))
    # No job ran twice to completion: one video per finished job, nothing half-written.
    finished = [j for j in store.list() if j.status == SUCCEEDED]
    assert sorted(p.name for p in ray_app.output_dir.glob("*.mp4")) == sorted(Path(j.video).name for j in finished)
    assert not list(ray_app.output_dir.glob("*.part.*"))
    assert "queued again to run on any healthy worker" in ray_app.log().lower()
    # Ray restarted the killed worker: a new process answers under the same name.
    rows = wait_for(lambda: (r := workers_cli(ray_app.gcs)) and all(x["state"] == "idle" for x in r) and r,
                    timeout=120, what="both workers idle")
    assert len(rows) == 2 and running["pid"] not in {r["pid"] for r in rows}
    # As a person reads it: each worker with the models it holds (a job goes to one that has its model).
    table = subprocess.run([sys.executable, "-m", "cogvideo", "workers", "--ray-address", ray_app.gcs], cwd=ROOT,
                           capture_output=True, text=True, timeout=180).stdout.splitlines()
    assert "models" in table[0].split() and sum("tiny,tiny-i2v" in line.split() for line in table) == 2


def test_ctrl_c_stops_ray_and_leaves_no_process_of_ours(ray_app):
    ours = ray_processes(ray_app.proc.pid)
    assert sum("VideoWorker" in " ".join(p.cmdline() + [p.name()]) for p in ours) == 2
    assert any(p.name() == "raylet" for p in ours)
    assert ray_app.ctrl_c() == 0
    assert wait_gone(ours) == []


# ---------------------------------------------------------------- refusals at start-up

def start_refused(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "app.py", "--model", "tiny", "--port", "1", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)


def test_a_bad_ray_address_stops_the_app_with_the_reason(tmp_path):
    require_ray()
    started = time.monotonic()
    done = start_refused("--data-dir", str(tmp_path), "--workers", "ray", "--ray-address", "127.0.0.1:1")
    assert done.returncode != 0 and "Could not reach the Ray cluster at 127.0.0.1:1" in done.stderr
    assert "无法连接" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 120  # refused, not left waiting on Ray's own retries


def test_a_worker_count_of_zero_is_refused(tmp_path):
    done = start_refused("--data-dir", str(tmp_path), "--workers", "ray", "--worker-count", "0")
    assert done.returncode == 2 and "give 1 or more" in done.stderr
    done = start_refused("--data-dir", str(tmp_path), "--worker-count", "2")
    assert done.returncode == 2 and "--worker-count and --ray-address need --workers ray" in done.stderr


def test_ray_with_no_gpu_and_no_count_says_what_to_do_and_stops_ray(tmp_path):
    require_ray()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "app.py", "--model", "tiny", "--port", "1", "--data-dir", str(tmp_path),
                             "--workers", "ray", "--ray-object-store", "100mb"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    while proc.poll() is None:
        seen = ray_processes(proc.pid) or seen
        time.sleep(0.2)
    stderr = proc.stderr.read()
    if "Ray could not start on this machine" in stderr:
        unavailable("Ray cannot start here:\n" + stderr[-1500:])
    assert proc.returncode != 0 and "has no GPU" in stderr and "--worker-count N" in stderr, stderr[-2000:]
    assert "Traceback" not in stderr
    assert wait_gone(seen) == []  # the embedded Ray it started is gone with it


def test_local_workers_never_import_ray(tmp_path):
    code = ("import sys, app; args = app.parse_args(['--model', 'tiny', '--data-dir', sys.argv[1], '--output-dir', "
            "sys.argv[1]]); demo, studio, service, agent, pool = app.build(args); service.start(); service.close(); "
            "print(pool, sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "None []"


# ---------------------------------------------------------------- a cluster started with `ray start`

def test_joining_a_cluster_ships_the_code_and_lists_the_workers(tmp_path):
    require_ray()
    port = free_port()
    head = subprocess.Popen(
        # `ray start` through the interpreter running the tests (its workers then run on it too),
        # not whichever `ray` comes first on PATH.
        [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--port", str(port), "--num-cpus", "1",
         "--object-store-memory", str(100 * 2**20), "--include-dashboard=false", "--disable-usage-stats", "--block"],
        stdout=(tmp_path / "head.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    )
    app = None
    try:
        wait_for(lambda: "--block" in (tmp_path / "head.log").read_text() or head.poll() is not None, timeout=120,
                 what="ray start --head")
        if head.poll() is not None:
            unavailable("`ray start --head` failed here:\n" + (tmp_path / "head.log").read_text()[-1500:])
        app = RayApp(tmp_path / "app", "--ray-address", f"127.0.0.1:{port}", count="1")
        assert f"the Ray cluster at 127.0.0.1:{port}" in app.log()
        from gradio_client import Client

        Client(app.url, verbose=False).predict(prompt="joined", seed=3, api_name="/text_to_video", **FAST)
        store = JobStore(app.data_dir)
        job = jobs_named(store, "joined")[0]
        store.close()
        assert job.status == SUCCEEDED and job.worker == f"{HOST}/CPU 1" and Path(job.video).is_file()
        rows = workers_cli(f"127.0.0.1:{port}")
        assert len(rows) == 1 and rows[0]["state"] == "idle" and rows[0]["jobs_done"] == 1
        assert str(app.data_dir) in rows[0]["studio"]
        assert app.ctrl_c() == 0
        # The cluster lives on without the studio's workers (they belonged to the app's Ray job).
        assert head.poll() is None
        wait_for(lambda: workers_cli(f"127.0.0.1:{port}") == [], timeout=60, what="the workers to go")
    finally:
        if app is not None:
            app.close()
        cluster = ray_processes(head.pid)
        os.killpg(head.pid, signal.SIGTERM)  # `ray start --block` stops its cluster on SIGTERM
        head.wait(60)
    assert wait_gone(cluster) == []
