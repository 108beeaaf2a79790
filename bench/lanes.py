"""The fast lane's promise, measured: how long a VIP job waits to start against a standard one.

Steady load on the tiny model: N jobs (60) arrive at random (Poisson) a little faster than one
worker renders them (`--load` 1.2: the line grows), a share of them (5 %) in the fast lane. Each
job's wait is its start minus its submission, read from the job store. Printed last: the fast
lane's p95 wait over the standard lane's (goal <= 0.2).

Then the guarantee the fast lane must not break: a burst of fast-lane jobs while standard ones
wait; from the store's start times, no standard job waited behind more than MAX_VIP_STREAK
fast-lane starts in a row (jobs/scheduler.py). Both runs check it.

The tiny model renders in well under a second on a CPU; STUDIO_TINY_STEP_S (here `--step-s`)
paces each step like a GPU's so the line, not the machine's noise, decides the waits.

    python bench/lanes.py [--jobs 60] [--vip-share 0.05] [--load 1.2] [--steps 4] [--step-s 0.15]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cogvideo import Studio, VideoRequest  # noqa: E402
from cogvideo.engine.render import Engine  # noqa: E402
from cogvideo.engine.tiny import STEP_S_ENV  # noqa: E402
from jobs import JobService, JobStore, LocalWorker  # noqa: E402
from jobs.job import STANDARD, VIP, Job  # noqa: E402
from jobs.scheduler import MAX_VIP_STREAK  # noqa: E402


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def longest_streak(jobs: list[Job]) -> int:
    """The most fast-lane jobs that started in a row while some standard job was waiting."""
    started = sorted((j for j in jobs if j.started_at is not None), key=lambda j: j.started_at)
    longest = streak = 0
    for job in started:
        waiting = any(s.lane == STANDARD and s.created_at < job.started_at and s.started_at > job.started_at
                      for s in started)
        streak = streak + 1 if job.lane == VIP and waiting else 0
        longest = max(longest, streak)
    return longest


def run(service: JobService, lanes: list[str], gaps: list[float], request: VideoRequest) -> list[Job]:
    """Submit one job per lane, `gaps[i]` seconds apart, and wait for all of them."""
    ids = []
    for lane, gap in zip(lanes, gaps):
        time.sleep(gap)  # the arrivals themselves: this is the load, not a wait for a result
        ids.append(service.submit(request, owner=f"{lane}-user", lane=lane).id)
    return [service.wait(job_id, timeout=3600) for job_id in ids]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--vip-share", type=float, default=0.05)
    parser.add_argument("--load", type=float, default=1.2, help="arrival rate over the worker's render rate")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--step-s", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ[STEP_S_ENV] = str(args.step_s)
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        studio = Studio(Engine("tiny"), Path(tmp) / "outputs")
        service = JobService(JobStore(Path(tmp) / "data"), [LocalWorker(studio)], max_queue=args.jobs + 10,
                             keep_per_user=0, max_age_days=0).start()
        request = VideoRequest(prompt="a paper boat drifts on a pond", seed=1, num_inference_steps=args.steps,
                               num_frames=9)
        service.wait(service.submit(request).id, timeout=600)  # loads the model
        warm = service.wait(service.submit(request).id, timeout=600)  # times one render of a loaded model
        render_s = warm.finished_at - warm.started_at

        vip_count = max(1, round(args.jobs * args.vip_share))
        vip_at = set(rng.sample(range(args.jobs), vip_count))
        lanes = [VIP if i in vip_at else STANDARD for i in range(args.jobs)]
        gaps = [rng.expovariate(args.load / render_s) for _ in lanes]
        steady = run(service, lanes, gaps, request)

        # A burst: standard jobs in line, then more fast-lane jobs than the streak allows at once.
        burst = run(service, [STANDARD] * 3 + [VIP] * (2 * MAX_VIP_STREAK), [0.0] * (3 + 2 * MAX_VIP_STREAK), request)
        service.close()

    waits = {lane: [j.started_at - j.created_at for j in steady if j.lane == lane] for lane in (VIP, STANDARD)}
    failed = [j.id for j in steady + burst if j.status != "succeeded"]
    print(f"tiny model, {args.steps} steps at >= {args.step_s} s: one render {render_s:.2f} s; "
          f"{args.jobs} jobs at load {args.load} ({vip_count} fast lane), seed {args.seed}")
    for lane in (VIP, STANDARD):
        print(f"  {lane:8}  waits: median {statistics.median(waits[lane]):6.1f} s, p95 {p95(waits[lane]):6.1f} s, "
              f"max {max(waits[lane]):6.1f} s over {len(waits[lane])} jobs")
    steady_streak, burst_streak = longest_streak(steady), longest_streak(burst)
    print(f"  longest fast-lane run while a standard job waited: steady {steady_streak}, burst {burst_streak} "
          f"(guarantee: <= {MAX_VIP_STREAK}) -> {'held' if max(steady_streak, burst_streak) <= MAX_VIP_STREAK else 'BROKEN'}")
    if failed:
        print(f"  failed jobs: {failed}")
    print(f"fast-lane p95 wait / standard p95 wait: {p95(waits[VIP]) / p95(waits[STANDARD]):.3f} (goal <= 0.2)")


if __name__ == "__main__":
    main()
