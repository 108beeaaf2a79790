"""Faults done for real on `python app.py --model tiny`: kill -9 mid-render, a second server on the
same data folder, data folders that cannot be used."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from gradio_client import Client, handle_file

from jobs import JobStore
from jobs.job import QUEUED, RUNNING, SUCCEEDED
from cogvideo.media import codec
from tests.conftest import ROOT, InProcessApp, RunningApp
from tests.test_creative import make_clip

FAST = dict(num_inference_steps=2, num_frames=9)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def start_refused(*args: str) -> subprocess.CompletedProcess:
    """Run the app where it must refuse to start; it should exit by itself, quickly."""
    return subprocess.run([sys.executable, "app.py", "--model", "tiny", "--port", "1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_kill_9_mid_render_then_restart_finishes_every_job(tmp_path):
    data = tmp_path / "data"
    # Four jobs from one address: over the default per-user cap of 3, so the cap is lifted here.
    # The long one's steps are paced (a second each) so it is still rendering when the server is
    # killed: unpaced, an unloaded machine finished it while the others were being queued.
    first = RunningApp(tmp_path / "first", data_dir=data, extra_args=("--max-queue-per-user", "0"),
                       env={"STUDIO_TINY_STEP_S": "1"})
    try:
        client = Client(first.url, verbose=False)
        client.submit(prompt="the long one", num_inference_steps=100, num_frames=9, seed=1, api_name="/text_to_video")
        store = JobStore(data)
        wait_for(lambda: store.count(RUNNING) == 1 and store.list(status=RUNNING)[0].progress > 0, 120,
                 "the first job did not start rendering")
        for i in range(2):
            client.submit(prompt=f"queued {i}", seed=10 + i, api_name="/text_to_video", **FAST)
        # A clip to extend: its copy in the data folder is what the restarted server renders from.
        clip = make_clip(tmp_path / "clip.mp4", frames=17)
        client.submit(video=handle_file(str(clip)), prompt="queued extend", extensions=1, seed=3,
                      api_name="/extend_video", **FAST)
        wait_for(lambda: store.count(QUEUED) == 3, 30, "the three jobs were not queued")

        # A second server on the same data folder is refused, naming the first one's PID.
        refused = start_refused("--data-dir", str(data), "--output-dir", str(tmp_path / "out2"))
        assert refused.returncode != 0 and f"PID {first.proc.pid}" in refused.stderr
        assert "another --data-dir" in refused.stderr and "Traceback" not in refused.stderr

        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=30)
    finally:
        first.close()
    assert store.count(RUNNING) == 1 and store.count(QUEUED) == 3  # as the crash left them
    clip.unlink()  # the upload is gone too: the job has its own copy

    second = RunningApp(tmp_path / "second", data_dir=data)
    try:
        jobs = wait_for(lambda: (lambda all_jobs: all_jobs if all(j.status == SUCCEEDED for j in all_jobs) else None)(
            store.list()), 240, "the jobs did not all finish after the restart")
        assert sorted(j.user_prompt for j in jobs) == ["queued 0", "queued 1", "queued extend", "the long one"]
        extended = next(j for j in jobs if j.user_prompt == "queued extend")
        assert codec.read_frames(extended.video).shape[0] == 17 + 9 - 1
        long_one = next(j for j in jobs if j.user_prompt == "the long one")
        assert long_one.attempts == 2 and long_one.seed == 1
        for job in jobs:
            assert Path(job.video).is_file() and Path(job.cover).is_file()
        works = Client(second.url, verbose=False).predict(api_name="/my_works")
        assert {w["job_id"] for w in works} == {j.id for j in jobs}
    finally:
        second.close()
        store.close()


def test_kill_9_with_wan_jobs_then_a_cogvideox_restart_leaves_them_waiting_for_their_model(tmp_path):
    data = tmp_path / "data"
    # As above, the long job's steps are paced so that it is still rendering at the kill.
    first = RunningApp(tmp_path / "first", data_dir=data, extra_args=("--model", "tiny-wan"),
                       env={"STUDIO_TINY_STEP_S": "1"})
    try:
        client = Client(first.url, verbose=False)
        client.submit(prompt="一只猫慢慢走过雨中的街道", num_inference_steps=100, num_frames=9, seed=1,
                      api_name="/text_to_video")
        store = JobStore(data)
        wait_for(lambda: store.count(RUNNING) == 1 and store.list(status=RUNNING)[0].progress > 0, 120,
                 "the Wan job did not start rendering")
        client.submit(prompt="一艘纸船漂在河上", seed=2, api_name="/text_to_video", **FAST)
        wait_for(lambda: store.count(QUEUED) == 1, 30, "the second Wan job was not queued")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=30)
    finally:
        first.close()
    wan_ids = {j.id for j in store.list()}
    assert store.count(RUNNING) == 1 and store.count(QUEUED) == 1
    assert {j.request["model"] for j in store.list()} == {"tiny-wan"}

    # Restarted with CogVideoX's tiny model: the Wan jobs are neither failed nor rendered by it; a
    # CogVideoX job runs past them, and they say what they wait for.
    second = InProcessApp(tmp_path / "second", data_dir=data)
    try:
        client = Client(second.url, verbose=False)
        client.submit(prompt="a boat", seed=3, api_name="/text_to_video", **FAST)
        cogvideox = wait_for(lambda: store.list(status=SUCCEEDED), 120, "the CogVideoX job did not finish")
        assert [j.model for j in cogvideox] == ["tiny"]
        assert {j.id for j in store.list(status=QUEUED)} == wan_ids
        status = client.predict(next(iter(wan_ids)), api_name="/job_status")
        assert status["status"] == "queued" and status["model"] == "tiny-wan" and status["queue_position"] is None
        assert status["waits_for_model"] == "tiny-wan" and "模型 tiny-wan" in status["message"]["zh"]
        assert "model tiny-wan" in status["message"]["en"]
        assert "jobs: 2 queued for model tiny-wan, which this server does not run" in second.log()
    finally:
        second.close()

    # Back on Wan: the interrupted job runs a second time, the other once, both at Wan's 16 fps.
    third = InProcessApp(tmp_path / "third", data_dir=data, extra_args=("--model", "tiny-wan"))
    try:
        wait_for(lambda: all(store.get(i).status == SUCCEEDED for i in wan_ids), 240, "the Wan jobs did not finish")
        for job in (store.get(i) for i in wan_ids):
            assert job.model == "tiny-wan" and codec.probe(job.video).fps == 16.0
            assert job.attempts == (2 if job.request["num_inference_steps"] == 100 else 1)
    finally:
        third.close()
        store.close()


def test_unusable_data_folders_stop_the_app_with_the_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    done = start_refused("--data-dir", str(blocker / "data"))
    assert done.returncode != 0 and str(blocker / "data") in done.stderr and "not writable" in done.stderr

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "studio.db").write_text("not a database " * 300)
    done = start_refused("--data-dir", str(folder))
    assert done.returncode != 0 and str(folder / "studio.db") in done.stderr
    assert "不是本工具的数据库" in done.stderr and "Traceback" not in done.stderr
