"""`python -m cogvideo users ...` and `jobs ...` as an operator types them, on a real data folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from jobs import JobService, JobStore, LocalWorker, Users
from jobs.job import CANCELLED, RUNNING, SUCCEEDED

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(num_inference_steps=2, num_frames=9)


def cli(capsys, *words: str) -> tuple[int, str, str]:
    code = main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


def test_users_commands(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert cli(capsys, "users", "list", "--data-dir", data)[1].startswith("no users")
    code, out, _ = cli(capsys, "users", "add", "alice", "--password", "s3cret-pw", "--lane", "vip", "--data-dir", data)
    assert code == 0 and "added alice (vip lane)" in out
    assert cli(capsys, "users", "add", "robot", "--no-password", "--data-dir", data)[0] == 0
    code, out, _ = cli(capsys, "users", "list", "--data-dir", data)
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["alice", "vip", "yes"] and lines[2].split()[:3] == ["robot", "standard", "no"]
    assert cli(capsys, "users", "set-lane", "robot", "vip", "--data-dir", data)[0] == 0
    code, _, err = cli(capsys, "users", "add", "alice", "--password", "another-pw", "--data-dir", data)
    assert code == 2 and "already exists" in err
    code, _, err = cli(capsys, "--lang", "zh", "users", "set-lane", "nobody", "vip", "--data-dir", data)
    assert code == 2 and "没有名为 'nobody' 的用户" in err
    assert cli(capsys, "users", "remove", "robot", "--data-dir", data)[0] == 0

    store = JobStore(data)
    users = Users(store)
    assert [u.name for u in users.list()] == ["alice"] and users.check("alice", "s3cret-pw")
    store.close()


def test_password_from_stdin_and_no_terminal(tmp_path):
    data = str(tmp_path / "data")
    run = lambda *words, stdin="": subprocess.run(  # noqa: E731
        [sys.executable, "-m", "cogvideo", *words, "--data-dir", data], input=stdin, cwd=ROOT,
        capture_output=True, text=True, timeout=60)
    assert run("users", "add", "carol", "--password-stdin", stdin="piped-password\n").returncode == 0
    refused = run("users", "add", "dave")  # no terminal to prompt on, no password given
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
    store = JobStore(data)
    assert Users(store).check("carol", "piped-password") and Users(store).get("dave") is None
    store.close()


@pytest.fixture()
def finished_jobs(studio, tmp_path):
    from cogvideo import VideoRequest

    store = JobStore(tmp_path / "data")
    service = JobService(store, [LocalWorker(studio)], poll_s=0.1).start()
    jobs = [service.wait(service.submit(VideoRequest(prompt=f"job {i}", **FAST), owner=owner).id, timeout=120)
            for i, owner in enumerate(["alice", "alice", "bob"])]
    service.close()
    yield store, jobs
    store.close()


def test_jobs_list_show_and_prune(finished_jobs, capsys):
    store, jobs = finished_jobs
    data = str(store.data_dir)
    code, out, _ = cli(capsys, "jobs", "list", "--user", "alice", "--json", "--data-dir", data)
    listed = json.loads(out)
    assert [j["job_id"] for j in listed] == [jobs[1].id, jobs[0].id] and listed[0]["status"] == SUCCEEDED
    code, out, _ = cli(capsys, "jobs", "list", "--data-dir", data)
    assert len(out.splitlines()) == 4 and "job 2" in out.splitlines()[1]
    assert out.splitlines()[0].split()[3] == "model" and out.splitlines()[1].split()[3] == "tiny"
    code, out, _ = cli(capsys, "jobs", "show", jobs[2].id, "--data-dir", data)
    shown = json.loads(out)
    assert shown["owner"] == "bob" and shown["request"]["prompt"] == "job 2" and shown["attempts"] == 1
    code, _, err = cli(capsys, "jobs", "show", "f" * 32, "--data-dir", data)
    assert code == 2 and "No job" in err

    store.execute("UPDATE jobs SET created_at = created_at - 40 * 86400 WHERE id = ?", (jobs[0].id,))
    code, out, _ = cli(capsys, "jobs", "prune", "--older-than", "30d", "--data-dir", data)
    assert "removed 1" in out and not Path(jobs[0].video).exists() and Path(jobs[1].video).exists()
    assert store.get(jobs[0].id) is None
    with pytest.raises(SystemExit):
        main(["jobs", "prune", "--older-than", "soon", "--data-dir", data])


def test_jobs_cancel_reaches_the_running_app(studio, tmp_path, capsys):
    """The CLI is another process in real use: it can only reach the app through the database."""
    from cogvideo import VideoRequest

    store = JobStore(tmp_path / "data")
    service = JobService(store, [LocalWorker(studio)], poll_s=0.1).start()
    try:
        running = service.submit(VideoRequest(prompt="long", num_inference_steps=150, num_frames=9), owner="a")
        queued = service.submit(VideoRequest(prompt="waiting", **FAST), owner="a")
        deadline = time.monotonic() + 60
        while service.get(running.id).status != RUNNING or service.get(running.id).progress == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        code, out, _ = cli(capsys, "jobs", "cancel", queued.id, "--data-dir", str(store.data_dir))
        assert "cancelled" in out and store.get(queued.id).status == CANCELLED
        code, out, _ = cli(capsys, "jobs", "cancel", running.id, "--data-dir", str(store.data_dir))
        assert "next step" in out
        stopped = service.wait(running.id, timeout=30)
        assert stopped.status == CANCELLED and stopped.progress < 1
    finally:
        service.close()
        store.close()
