"""How far off is the expected wait? A replay through the real estimator (jobs/estimate.py).

A recorded day of jobs (synthetic but shaped like the measured ones: 5B at 92.8 s for 50 steps x
49 frames on an H200, Balanced 0.77x and Fast 0.60x of that, image-to-video a little slower,
upscaling +15 s, the model's load on the first job, lognormal noise and a few jobs slowed by 1.5x)
arrives in order at a server with `--workers` workers, on a real SQLite store in a temporary
folder. At each arrival the job's expected start and finish are asked of `jobs.estimate.estimate`
exactly as the service asks them (the store's finished jobs as history, the scheduler's positions
with lanes and the fast-lane streak, the running jobs' progress); the replay then runs on and the
real start and finish are compared with the estimates. Each finished job's info holds what the
service notes while it renders (`RenderClock`: when its first and last denoising steps were
reported), so the first job's loading is seen as the service sees it.

    python bench/estimate.py [--jobs 300] [--workers 1] [--load 0.85] [--seed 0]

Prints the median absolute error of the start and finish estimates in seconds and in per cent of
the real time from arrival, over the whole day and over the first jobs (a fresh server, where the
history still holds the model's load); the last line is the median per cent error of the finish
estimate.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs import JobStore  # noqa: E402
from jobs.estimate import RenderClock, estimate, history  # noqa: E402
from jobs.job import QUEUED, RUNNING, STANDARD, SUCCEEDED, VIP, Job  # noqa: E402
from jobs.scheduler import pick_next, positions  # noqa: E402

SECONDS_PER_UNIT = 92.8 / (50 * 49)  # 5B Quality on an H200, 720x480x49, 50 steps
SPEEDS = {"quality": 1.0, "balanced": 71.2 / 92.8, "fast": 56.0 / 92.8}
MODES = {"t2v": ("5b", 1.0), "i2v": ("5b-i2v", 1.05)}
PREPARE_S, ENCODE_S, UPSCALE_S, LOAD_S = 2.0, 3.0, 15.0, 60.0
FIRST = 20  # the fresh server's first jobs, reported on their own


@dataclass
class Recorded:
    id: str
    arrival: float
    lane: str
    mode: str
    request: dict
    seconds: float  # the real render time
    prepare: float  # before the first step (the model's load on the first job)
    expected: tuple[float | None, float | None] = (None, None)
    started: float | None = None
    finished: float | None = None
    extra: dict = field(default_factory=dict)


def recorded_day(count: int, workers: int, load: float, rng: random.Random) -> list[Recorded]:
    jobs, now = [], 0.0
    for index in range(count):
        mode = rng.choices(list(MODES), weights=[0.7, 0.3])[0]
        speed = rng.choices(list(SPEEDS), weights=[0.6, 0.25, 0.15])[0]
        steps = rng.choices([50, 30, 20, 75], weights=[0.7, 0.15, 0.1, 0.05])[0]
        frames = rng.choices([49, 25, 33], weights=[0.8, 0.1, 0.1])[0]
        upscale = rng.random() < 0.1
        render = SECONDS_PER_UNIT * steps * frames * SPEEDS[speed] * MODES[mode][1]
        render *= rng.lognormvariate(0, 0.08) * (1.5 if rng.random() < 0.03 else 1.0)
        prepare = PREPARE_S + (LOAD_S if index == 0 else 0.0)
        seconds = prepare + render + ENCODE_S + (UPSCALE_S if upscale else 0.0)
        request = {"prompt": f"job {index}", "num_inference_steps": steps, "num_frames": frames,
                   "speed": speed, "upscale": upscale}
        jobs.append(Recorded(f"{index:06d}", now, VIP if rng.random() < 0.2 else STANDARD, mode, request, seconds,
                             prepare, extra={"render": render}))
        # Arrivals keep the workers `load` busy on average (a line forms, then drains).
        now += rng.expovariate(load * workers / 95.0)
    return jobs


def replay(jobs: list[Recorded], workers: int, store: JobStore) -> None:
    by_id = {j.id: j for j in jobs}
    busy: list[Recorded | None] = [None] * workers
    streak, arrivals = 0, list(jobs)
    while arrivals or any(busy):
        ends = [(w.started + w.seconds, i) for i, w in enumerate(busy) if w is not None]
        next_end = min(ends, default=(float("inf"), -1))
        if arrivals and arrivals[0].arrival <= next_end[0]:
            job = arrivals.pop(0)
            now = job.arrival
            store.insert(Job(id=job.id, owner="a", lane=job.lane, mode=job.mode, request=job.request, status=QUEUED,
                             created_at=now))
            store.set_positions(positions(store.queued(), streak))
            running = [_progress(store, w, now) for w in busy if w is not None]
            expected = estimate(store, store.get(job.id), running + [None] * busy.count(None), now,
                                history(store))
            job.expected = (None if expected.start_s is None else now + expected.start_s,
                            None if expected.finish_s is None else now + expected.finish_s)
        else:
            now, index = next_end
            done = busy[index]
            done.finished = now
            store.finish(done.id, SUCCEEDED, info={"model": MODES[done.mode][0], **_clock(done).info(done.started, now)})
            store.execute("UPDATE jobs SET started_at = ?, finished_at = ? WHERE id = ?",
                          (done.started, done.finished, done.id))
            busy[index] = None
        for index, worker in enumerate(busy):  # idle workers take the next job at once, by the lane rule
            if worker is None:
                pick = pick_next(store.queued(), streak)
                if pick is None:
                    break
                streak = pick.streak
                store.execute("UPDATE jobs SET status = ?, started_at = ?, position = NULL WHERE id = ?",
                              (RUNNING, now, pick.job_id))
                busy[index] = by_id[pick.job_id]
                busy[index].started = now
        store.set_positions(positions(store.queued(), streak))


def _clock(job: Recorded) -> RenderClock:
    """What the service noted while the job rendered: its first and last denoising steps."""
    clock, steps = RenderClock(), job.request["num_inference_steps"]
    denoised = job.started + job.prepare
    clock.step(denoised + job.extra["render"] / steps, 1 / steps)
    clock.step(denoised + job.extra["render"], 1.0)
    return clock


def _progress(store: JobStore, job: Recorded, now: float) -> Job:
    """The running job as the service shows it: the share of its denoising steps done by now."""
    fraction = min(1.0, max(0.0, (now - job.started - job.prepare) / job.extra["render"]))
    store.execute("UPDATE jobs SET progress = ? WHERE id = ?", (fraction, job.id))
    return store.get(job.id)


def errors(jobs: list[Recorded], which: int) -> tuple[list[float], list[float], int]:
    seconds, percent, unknown = [], [], 0
    for job in jobs:
        guess = job.expected[which]
        real = job.started if which == 0 else job.finished
        if guess is None:
            unknown += 1
            continue
        seconds.append(abs(guess - real))
        span = real - job.arrival
        if span >= 1.0:  # a job that started at once has no wait to be wrong about in per cent
            percent.append(100 * abs(guess - real) / span)
    return seconds, percent, unknown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--load", type=float, default=0.85, help="average share of the workers kept busy")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    jobs = recorded_day(args.jobs, args.workers, args.load, random.Random(args.seed))
    with tempfile.TemporaryDirectory() as folder:
        store = JobStore(folder)
        replay(jobs, args.workers, store)
        store.close()
    waits = [j.started - j.arrival for j in jobs]
    print(f"{len(jobs)} jobs, {args.workers} worker(s), load {args.load}: median wait {statistics.median(waits):.0f} s, "
          f"longest {max(waits):.0f} s, median render {statistics.median(j.seconds for j in jobs):.0f} s")
    results = {}
    for which, name in ((0, "start"), (1, "finish")):
        seconds, percent, unknown = errors(jobs, which)
        results[name] = statistics.median(percent)
        print(f"{name:>6}: median abs error {statistics.median(seconds):6.1f} s, {statistics.median(percent):5.1f} % "
              f"of the real time from arrival (p90 {statistics.quantiles(percent, n=10)[-1]:.1f} %); "
              f"no estimate for {unknown} (no history yet)")
    for which, name in ((0, "start"), (1, "finish")):
        seconds, percent, _ = errors(jobs[:FIRST], which)
        print(f"{name:>6}, first {FIRST} jobs: median abs error {statistics.median(seconds):6.1f} s, "
              f"{statistics.median(percent):5.1f} %, worst {max(seconds):.0f} s")
    print(json.dumps({"median_abs_error_finish_pct": round(results["finish"], 1),
                      "median_abs_error_start_pct": round(results["start"], 1)}))
    print(f"{results['finish']:.1f}")


if __name__ == "__main__":
    main()
