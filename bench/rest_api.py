"""The REST API's cost: 20 tiny jobs through HTTP (the caller's wall time against the job's own
time in the server, and against the same jobs submitted in-process), the delay from submit to
running, and 200 concurrent status polls while a job renders.

Targets: REST overhead <= 50 ms per job; poll p99 <= 100 ms. Prints the overhead last.

    python bench/rest_api.py [--jobs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from cogvideo import Studio, VideoRequest  # noqa: E402
from cogvideo.engine.render import Engine  # noqa: E402
from jobs import JobService, JobStore, LocalWorker  # noqa: E402
from jobs.keys import ApiKeys  # noqa: E402
from tests.conftest import RunningApp  # noqa: E402

BODY = {"model": "tiny", "prompt": "a lighthouse at dawn", "duration": 1, "num_inference_steps": 2, "seed": 1}
POLL_S = 0.02


def in_process(jobs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(Engine("tiny"), Path(tmp) / "outputs")
        service = JobService(JobStore(Path(tmp) / "data"), [LocalWorker(studio)], max_queue=100).start()
        request = VideoRequest(prompt=BODY["prompt"], num_frames=9, num_inference_steps=2, seed=1)
        service.wait(service.submit(request).id, timeout=300)  # warm up
        times = []
        for _ in range(jobs):
            start = time.perf_counter()
            service.wait(service.submit(request).id, timeout=300)
            times.append(time.perf_counter() - start)
        service.close()
        return times


def through_rest(client: httpx.Client, base: str, jobs: int, data_dir: Path) -> tuple[list[float], list[float], list[float]]:
    """Wall time per job as the caller sees it, time to running, and the server's own time for the
    job (created -> finished, from its row): the difference is what REST and polling add."""
    store = JobStore(data_dir)

    def one() -> tuple[float, float, float]:
        start = time.perf_counter()
        task = client.post(f"{base}/videos/generations", json=BODY).json()["id"]
        running_at = None
        while True:
            state = client.get(f"{base}/async-result/{task}").json()
            if running_at is None and state["status"] != "queued":
                running_at = time.perf_counter()
            if state["task_status"] != "PROCESSING":
                wall = time.perf_counter() - start
                row = store.get(task)
                return wall, running_at - start, row.finished_at - row.created_at
            time.sleep(POLL_S)

    one()  # warm up
    runs = [one() for _ in range(jobs)]
    store.close()
    return [r[0] for r in runs], [r[1] for r in runs], [r[2] for r in runs]


def polls_while_rendering(client: httpx.Client, base: str, count: int = 200) -> list[float]:
    task = client.post(f"{base}/videos/generations", json={**BODY, "num_inference_steps": 100}).json()["id"]
    while client.get(f"{base}/async-result/{task}").json()["status"] != "running":
        time.sleep(0.01)
    latencies: list[float] = []
    gate = threading.Barrier(count)

    def poll() -> None:
        with httpx.Client(headers=client.headers, timeout=30) as own:
            gate.wait()
            start = time.perf_counter()
            own.get(f"{base}/async-result/{task}").raise_for_status()
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=poll) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.delete(f"{base}/async-result/{task}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()

    direct = in_process(args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store = JobStore(tmp / "data")
        key = ApiKeys(store).add("bench")[1]
        store.close()
        app = RunningApp(tmp, data_dir=tmp / "data", extra_args=("--api-rate-limit", "0", "--max-queue", "300"))
        try:
            base = app.url + "api/paas/v4"
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
                rest, to_running, server_side = through_rest(client, base, args.jobs, tmp / "data")
                polls = polls_while_rendering(client, base)
        finally:
            app.close()

    med_direct, med_rest = statistics.median(direct), statistics.median(rest)
    overhead = statistics.median(w - s for w, s in zip(rest, server_side))
    p99 = sorted(polls)[max(0, round(len(polls) * 0.99) - 1)]
    print(f"in-process submit+wait: median {med_direct * 1000:.1f} ms over {args.jobs} jobs")
    print(f"REST submit+poll:       median {med_rest * 1000:.1f} ms over {args.jobs} jobs (polling every {POLL_S * 1000:g} ms); "
          f"ratio {med_rest / med_direct:.2f} (two processes on the same cores)")
    print(f"the same jobs' own time in the server (created -> finished): median {statistics.median(server_side) * 1000:.1f} ms")
    print(f"submit to running (REST): median {statistics.median(to_running) * 1000:.1f} ms")
    print(f"200 concurrent status polls while rendering: median {statistics.median(polls) * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms (target <= 100 ms)")
    print(f"REST overhead per job (caller's wall time - the job's time in the server): {overhead * 1000:.1f} ms "
          "(target <= 50 ms)")


if __name__ == "__main__":
    main()
