"""Our Engine.render against the plain diffusers pipeline call, same components and inputs.

Alternates the two in one process, several runs each, and prints the median ratio last.
Target: ours/plain <= 1.05.

    python bench/overhead.py [--runs 9] [--steps 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from cogvideo.engine.render import Engine, RenderJob  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    engine = Engine("tiny")
    pipe = engine.load("t2v")
    prompt = "a little boy sits on a park bench holding a cup of coffee, soft sunlight"
    job = RenderJob(task="t2v", prompt=prompt, negative_prompt="", image=None, num_frames=9,
                    num_inference_steps=args.steps, guidance_scale=6.0, seed=1, height=96, width=144)

    def plain() -> None:
        with torch.inference_mode():
            pipe(prompt=prompt, num_frames=9, height=96, width=144, num_inference_steps=args.steps,
                 guidance_scale=6.0, generator=torch.Generator().manual_seed(1), output_type="np")

    def ours() -> None:
        engine.render(job, on_step=lambda i, n: None, should_cancel=lambda: False)

    plain(), ours()  # warm up both paths
    times = {"plain": [], "ours": []}
    for _ in range(args.runs):
        for name, fn in (("plain", plain), ("ours", ours)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"plain diffusers call: median {med['plain'] * 1000:.1f} ms over {args.runs} runs")
    print(f"Engine.render:        median {med['ours'] * 1000:.1f} ms over {args.runs} runs")
    print(f"ratio ours/plain: {med['ours'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
