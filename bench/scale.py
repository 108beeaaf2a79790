"""Ray workers: throughput with 1 and 2 workers, Ray's added latency per job, and Ray's memory.

1. Throughput: 8 tiny jobs submitted at once to the job service, with 1 and with 2 CPU workers
   (`--worker-count`), warmed up first (each worker has loaded the model and rendered once); the
   rounds alternate 1 and 2 workers. Goal: 2/1 >= 1.7 where the machine has the cores (each CPU
   worker uses one core: Ray gives an actor with num_cpus=1 one OpenMP thread).
2. Latency: one job at a time on 1 Ray worker against the in-process local worker with the same
   single torch thread; per job, the service's time (claimed -> finished) minus the studio's own
   time (the result's stage timings) is what the worker path adds around the render; Ray's
   added latency is that overhead's median on Ray minus the local one. Goal <= 150 ms.
3. Memory: the proportional set size (PSS, shared pages split) of Ray's own processes (GCS, raylet,
   agents, the idle workers Ray keeps ready), of each VideoWorker with the tiny model loaded, and
   what `ray.init` adds to this process. `--dashboard` starts Ray's dashboard too.

Prints the 2/1 throughput ratio last.

    python bench/scale.py [--jobs 8] [--rounds 3] [--steps 8] [--latency-runs 9] [--dashboard]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from cogvideo import Studio, VideoRequest  # noqa: E402
from cogvideo.engine.render import Engine  # noqa: E402
from jobs import JobService, JobStore, LocalWorker  # noqa: E402

MiB = 2**20


def request(i: int, steps: int) -> VideoRequest:
    return VideoRequest(prompt=f"a paper boat on a pond, take {i}", seed=i, num_inference_steps=steps, num_frames=9)


def run_batch(service: JobService, jobs: int, steps: int) -> float:
    """Seconds from submitting `jobs` at once to the last one finished."""
    start = time.perf_counter()
    ids = [service.submit(request(i, steps), owner="bench").id for i in range(jobs)]
    for job_id in ids:
        job = service.wait(job_id, timeout=1800)
        assert job.status == "succeeded", job.error
    return time.perf_counter() - start


def overheads(service: JobService, runs: int, steps: int) -> tuple[list[float], list[float]]:
    """Per job, one at a time: (service time - studio time, submit -> finished), in seconds."""
    around, whole = [], []
    for i in range(runs):
        start = time.perf_counter()
        job = service.wait(service.submit(request(100 + i, steps), owner="bench").id, timeout=600)
        whole.append(time.perf_counter() - start)
        assert job.status == "succeeded", job.error
        around.append((job.finished_at - job.started_at) - sum(job.info["timings"].values()))
    return around, whole


def pss_mib(process: psutil.Process) -> float:
    try:
        return process.memory_full_info().pss / MiB
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


def memory() -> dict[str, float]:
    """PSS of Ray's own processes (GCS, raylet, agents, the idle workers it keeps ready: everything
    under this process but the VideoWorkers), and of one VideoWorker on average."""
    video, system, idle = [], [], []
    for process in psutil.Process().children(recursive=True):
        try:
            title = " ".join(process.cmdline())
        except psutil.NoSuchProcess:
            continue
        size = pss_mib(process)
        (video if "VideoWorker" in title else system).append(size)
        if "ray::IDLE" in title:
            idle.append(size)
    return {"ray": sum(system), "worker": statistics.mean(video) if video else 0.0, "workers": len(video),
            "idle": statistics.mean(idle) if idle else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--latency-runs", type=int, default=9)
    parser.add_argument("--dashboard", action="store_true")
    args = parser.parse_args()
    import ray
    import torch

    from ray.job_config import JobConfig

    from jobs.ray_workers import ROOT, RayWorkers, StudioSpec

    cores = os.cpu_count()
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f}; {args.jobs} jobs of {args.steps} "
          f"steps (tiny model, 9 frames)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        head = Studio(Engine("tiny"), tmp / "outputs")
        before = psutil.Process().memory_info().rss / MiB
        started = time.perf_counter()
        # As the app's embedded Ray, with one more logical CPU than the machine: both pools stay up
        # (one idle while the other is measured) so that the rounds can alternate.
        ray.init(address="local", namespace="cogvideo-bench", num_cpus=3, object_store_memory=100 * MiB,
                 include_dashboard=args.dashboard, job_config=JobConfig(code_search_path=[str(ROOT)]),
                 logging_level="WARNING")
        init_s = time.perf_counter() - started
        driver = psutil.Process().memory_info().rss / MiB - before
        services = {}
        for count in (1, 2):
            pool = RayWorkers.start(StudioSpec("tiny"), head, tmp / "outputs", count=count, label=f"bench-{count}",
                                    say=lambda text: None)
            pool.preload()
            service = JobService(JobStore(tmp / f"data-{count}"), pool.workers, max_queue=100, keep_per_user=0,
                                 max_age_days=0, poll_s=0.05).start()
            run_batch(service, count, args.steps)  # warm: every worker renders once
            services[count] = (service, pool)

        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for count in (1, 2):
                times[count].append(run_batch(services[count][0], args.jobs, args.steps))
        mem = memory()

        ray_around, ray_whole = overheads(services[1][0], args.latency_runs, args.steps)
        for service, pool in services.values():
            service.close()
            pool.shutdown()
        ray.shutdown()

        torch.set_num_threads(1)  # as a Ray CPU worker renders (one core)
        local = JobService(JobStore(tmp / "data-local"), [LocalWorker(Studio(Engine("tiny"), tmp / "local"))],
                           max_queue=100, keep_per_user=0, max_age_days=0, poll_s=0.05).start()
        run_batch(local, 1, args.steps)
        local_around, local_whole = overheads(local, args.latency_runs, args.steps)
        local.close()

    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"ray.init (embedded{', dashboard' if args.dashboard else ''}): {init_s:.1f} s; this process grew "
          f"{driver:.0f} MiB")
    idle = f" (of which {mem['idle']:.0f} MiB per idle Ray worker process)" if mem["idle"] else ""
    print(f"Ray's own processes: {mem['ray']:.0f} MiB PSS{idle}; a VideoWorker with tiny loaded: "
          f"{mem['worker']:.0f} MiB PSS ({mem['workers']} running)")
    print(f"1 worker:  {args.jobs} jobs in {one:.2f} s median ({', '.join(f'{t:.2f}' for t in times[1])}); "
          f"{args.jobs / one:.2f} jobs/s")
    print(f"2 workers: {args.jobs} jobs in {two:.2f} s median ({', '.join(f'{t:.2f}' for t in times[2])}); "
          f"{args.jobs / two:.2f} jobs/s")
    ms = lambda values: statistics.median(values) * 1000  # noqa: E731
    print(f"around the render, per job (median of {args.latency_runs}): Ray {ms(ray_around):.0f} ms, "
          f"local {ms(local_around):.0f} ms -> Ray adds {ms(ray_around) - ms(local_around):.0f} ms")
    print(f"submit -> finished, one job at a time: Ray {ms(ray_whole):.0f} ms, local {ms(local_whole):.0f} ms "
          f"(both one torch thread) -> {ms(ray_whole) - ms(local_whole):+.0f} ms")
    print(f"throughput 2 workers / 1 worker: {one / two:.2f}")


if __name__ == "__main__":
    main()
