"""The job service's cost around `Studio.generate`, and how fast a user's works list.

1. A tiny job submitted to the service and waited for, against `Studio.generate` called directly
   with the same request; alternating, several runs each, median ratio (target <= 1.05). The
   service's extra work: validation, copying inputs, SQLite writes, the hand-over to the worker
   thread, progress bookkeeping, pruning.
2. Listing 10,000 jobs of one user among 20,000 (target <= 50 ms with the owner index), and the
   200 newest (what the works tab shows).
3. A submit while 1,000 jobs wait (a busy studio's line): every submit stores each job's place in
   line, so its cost grows with the line.

    python bench/job_service.py [--runs 9] [--steps 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogvideo import Studio, VideoRequest  # noqa: E402
from cogvideo.engine.render import Engine  # noqa: E402
from jobs import JobService, JobStore, LocalWorker  # noqa: E402


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(Engine("tiny"), Path(tmp) / "outputs")
        store = JobStore(Path(tmp) / "data")
        service = JobService(store, [LocalWorker(studio)], max_queue=100, keep_per_user=0, max_age_days=0).start()
        request = VideoRequest(prompt="a little boy sits on a park bench with a cup of coffee", seed=1,
                               num_inference_steps=args.steps, num_frames=9)

        def direct() -> None:
            studio.generate(request)

        def through_service() -> None:
            job = service.wait(service.submit(request, owner="bench").id, timeout=300)
            assert job.status == "succeeded", job.error

        direct(), through_service()  # warm up both paths
        times = {"direct": [], "service": []}
        for _ in range(args.runs):
            for name, fn in (("direct", direct), ("service", through_service)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
        med = {k: statistics.median(v) for k, v in times.items()}
        service.close()

        rows = [(f"{i:032x}", "busy" if i % 2 else f"user{i % 50}", "standard", "t2v",
                 '{"prompt": "a cat walks in the park", "seed": 1}', "succeeded", 1.7e9 + i) for i in range(20_000)]
        with store.transaction() as db:
            db.executemany("INSERT INTO jobs (id, owner, lane, mode, request, status, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        store.execute("ANALYZE")
        all_ms = median_ms(lambda: store.list(owner="busy"), 7)
        brief_ms = median_ms(lambda: store.list(owner="busy", brief=True), 7)
        page_ms = median_ms(lambda: store.list(owner="busy", limit=200, brief=True), 21)
        count = len(store.list(owner="busy"))
        store.close()

        # A line of 1,000: a service with no worker started, so every job stays queued.
        line_store = JobStore(Path(tmp) / "line")
        line = JobService(line_store, [LocalWorker(studio)], max_queue=100_000, max_queue_per_user=100_000,
                          keep_per_user=0, max_age_days=0)
        for i in range(1_000):
            line.submit(request, owner=f"user{i % 40}")
        submit_ms = median_ms(lambda: line.submit(request, owner="late"), 21)
        line_store.close()

    print(f"Studio.generate directly:  median {med['direct'] * 1000:.1f} ms over {args.runs} runs")
    print(f"through the job service:   median {med['service'] * 1000:.1f} ms over {args.runs} runs "
          f"(+{(med['service'] - med['direct']) * 1000:.1f} ms)")
    print(f"list all {count} jobs of one user (of 20,000), brief:     median {brief_ms:.1f} ms (target <= 50 ms)")
    print(f"list all {count} jobs of one user, full rows (JSON parsed): median {all_ms:.1f} ms")
    print(f"list the newest 200, brief (the works tab):                 median {page_ms:.2f} ms")
    print(f"submit while 1,000 jobs wait:                               median {submit_ms:.1f} ms")
    print(f"overhead ratio service/direct: {med['service'] / med['direct']:.3f}")


if __name__ == "__main__":
    main()
