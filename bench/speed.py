"""Each speed preset against Quality: wall time and transformer work, on a CPU-sized random model.

The pipeline is diffusers' real CogVideoXPipeline with the tiny text encoder, VAE and tokenizer of
cogvideo/engine/tiny.py and a transformer large enough that its blocks are most of the time (8 blocks,
8 heads × 64 = 512 wide), random weights: the caches decide by schedule (PAB, FasterCache), not
by the picture, so the work they skip does not depend on weight values. It runs through our Engine
(`Engine("tiny")` + `adopt`), so each preset is enabled exactly as the app enables it. The
scheduler is the Hub's CogVideoX DDIM config (1000 train steps, trailing spacing), so the presets'
timestep windows (e.g. 100 < t < 800) cover the steps they cover on the real models.

Presets alternate within each round; medians over the rounds. Also what each keeps alive between
steps (its cache), beyond Quality. The ratios print last, fast last. Goals: lean/quality and
balanced/quality <= 0.8, fast/quality <= 0.6.

    python bench/speed.py [--runs 3] [--steps 20] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from cogvideo.engine import speed  # noqa: E402
from cogvideo.engine import tiny  # noqa: E402
from cogvideo.engine.render import Engine, RenderJob  # noqa: E402

RESULTS = Path(__file__).with_name("results.md")

HEADS, HEAD_DIM, LAYERS = 8, 64, 8
# 17 frames of 160×240: latents 5 × 20 × 30 (VAE ÷4 in time, ÷8 in space), patches of 2×2 ->
# 5 × 10 × 15 = 750 video tokens, plus 226 text tokens (the tiny variant's max_tokens).
FRAMES, HEIGHT, WIDTH = 17, 160, 240
# The CogVideoX-2B scheduler as the Hub ships it (bench/gpu.py has the same dict).
SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                 num_train_timesteps=1000, prediction_type="v_prediction", rescale_betas_zero_snr=True,
                 set_alpha_to_one=True, steps_offset=0, timestep_spacing="trailing", snr_shift_scale=3.0)


def build_pipeline():
    from diffusers import CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    shared = tiny.shared_components()
    torch.manual_seed(tiny.SEED)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, num_layers=LAYERS,
        in_channels=4, out_channels=4,  # the tiny VAE's latent channels
        text_embed_dim=32,  # the tiny T5's d_model
        time_embed_dim=512, patch_size=2, temporal_compression_ratio=4, max_text_seq_length=226,
        sample_frames=FRAMES, sample_height=HEIGHT // 8, sample_width=WIDTH // 8,
    ).eval()
    shared["scheduler"] = CogVideoXDDIMScheduler(**SCHEDULER)
    return CogVideoXPipeline(transformer=transformer, **shared)


class WorkCounter:
    """Transformer work actually computed, per sample: a block whose output a cache reuses never
    reaches its feed-forward, and reused attention never reaches `attn1.to_q` (hooks on the
    modules the caches replace would fire either way). A step whose unconditional half is reused
    runs on half the CFG batch, hence counting batch rows rather than calls. Also times the
    denoising loop alone (first transformer call to last step), without text encoding and decoding."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        self.blocks = 0
        self.attention = 0
        self.first_call: float | None = None
        self.last_step = 0.0
        self._handles = [transformer.register_forward_pre_hook(self._on_transformer)]
        for block in transformer.transformer_blocks:
            self._handles.append(block.ff.register_forward_hook(self._on_ff))
            self._handles.append(block.attn1.to_q.register_forward_hook(self._on_attention))

    def _on_ff(self, _module, args, _output) -> None:
        self.blocks += args[0].shape[0]

    def _on_attention(self, _module, args, _output) -> None:
        self.attention += args[0].shape[0]

    def _on_transformer(self, _module, _args) -> None:
        if self.first_call is None:
            self.first_call = time.perf_counter()

    def on_step(self, _index: int, _total: int) -> None:
        self.last_step = time.perf_counter()

    def reset(self) -> None:
        self.blocks = self.attention = 0
        self.first_call = None


def _job(preset: str, steps: int) -> RenderJob:
    return RenderJob(task="t2v", prompt="a boat on a calm lake at sunset, the camera slowly pans",
                     negative_prompt="", image=None, num_frames=FRAMES, num_inference_steps=steps,
                     guidance_scale=6.0, seed=1, height=HEIGHT, width=WIDTH, speed=preset)


def render(engine: Engine, preset: str, steps: int, counter: WorkCounter) -> dict:
    job = _job(preset, steps)
    notices: list[str] = []
    counter.reset()
    start, cpu_start = time.perf_counter(), time.process_time()
    engine.render(job, on_step=counter.on_step, on_notice=lambda text: notices.append(text.en))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if notices:
        # A fallback would time another preset under this one's name.
        raise SystemExit(f"{preset} fell back: {notices[0]}")
    # CPU seconds of this process (all its threads) as well: on a shared machine the wall time
    # also counts other people's work, the CPU time much less so.
    return {"s": elapsed, "cpu_s": cpu, "loop_s": counter.last_step - counter.first_call, "blocks": counter.blocks,
            "attention": counter.attention}


def _live_tensor_bytes() -> int:
    """Bytes of every tensor storage alive now, parameters and buffers included (each storage once)."""
    import gc

    storages = {}
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and obj.device.type == "cpu":
            try:
                storage = obj.untyped_storage()
            except RuntimeError:  # a tensor without storage (meta, sparse)
                continue
            storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def kept_between_steps(engine: Engine, preset: str, steps: int) -> int:
    """What a preset keeps alive between denoising steps (its cache), in bytes: the live tensors at
    the middle step's end minus those before the render. On a GPU this is the memory a cache adds
    to the peak (the CPU has no peak counter for the torch allocator); not a timed run."""
    before = _live_tensor_bytes()
    seen: list[int] = []

    def on_step(index: int, total: int) -> None:
        if index == total // 2 and not seen:
            seen.append(_live_tensor_bytes())

    engine.render(_job(preset, steps), on_step=on_step)
    return seen[0] - before


def measure(steps: int, runs: int, presets: list[str]) -> dict[str, list[dict]]:
    engine = Engine("tiny")
    pipe = build_pipeline()
    engine.adopt("t2v", pipe)
    counter = WorkCounter(pipe.transformer)
    for preset in presets:
        render(engine, preset, 2, counter)  # first-use costs (allocator, kernels): not timed
    kept = {preset: kept_between_steps(engine, preset, steps) for preset in presets}
    results: dict[str, list[dict]] = {p: [] for p in presets}
    for round_ in range(runs):
        # Rotating the order spreads the machine's drift over all presets.
        for preset in presets[round_ % len(presets):] + presets[:round_ % len(presets)]:
            results[preset].append({**render(engine, preset, steps, counter), "kept": kept[preset]})
            last = results[preset][-1]
            print(f"round {round_ + 1}: {preset:<9} {last['s']:6.1f} s wall, {last['cpu_s']:6.1f} s CPU", flush=True)
    return results


def summarize(results: dict[str, list[dict]]) -> list[dict]:
    """Per preset: medians (and the wall time's best run) of each measure, and their ratio to
    Quality's. On a shared machine the best run is the one least disturbed by others' work."""
    def stat(preset: str, key: str, how=statistics.median) -> float:
        return how(r[key] for r in results[preset])

    rows = []
    for preset, runs in results.items():
        row = {"preset": preset, "method": speed.PRESETS[preset].method or "none", "runs_s": [r["s"] for r in runs],
               # Schedule-driven caches skip the same work every run.
               "blocks": runs[0]["blocks"], "attention": runs[0]["attention"], "kept": runs[0]["kept"]}
        for key, how in (("s", statistics.median), ("s", min), ("loop_s", statistics.median),
                         ("cpu_s", statistics.median)):
            name = key if how is statistics.median else f"{key}_best"
            row[name] = stat(preset, key, how)
            row[f"{name}_ratio"] = row[name] / stat("quality", key, how)
        rows.append(row)
    return rows


def table(rows: list[dict]) -> list[str]:
    quality = next(r for r in rows if r["preset"] == "quality")
    lines = ["| preset | method | total, median (s) | runs (s) | vs quality | best run vs quality | "
             "denoising loop (s) | vs quality | CPU time (s) | vs quality | block passes | attention passes | "
             "kept between steps vs quality (MiB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        runs = ", ".join(f"{s:.1f}" for s in r["runs_s"])
        lines.append(f"| {r['preset']} | {r['method']} | {r['s']:.1f} | {runs} | {r['s_ratio']:.2f} | "
                     f"{r['s_best_ratio']:.2f} | {r['loop_s']:.1f} | {r['loop_s_ratio']:.2f} | "
                     f"{r['cpu_s']:.1f} | {r['cpu_s_ratio']:.2f} | "
                     f"{r['blocks']} ({r['blocks'] / quality['blocks']:.2f}) | "
                     f"{r['attention']} ({r['attention'] / quality['attention']:.2f}) | "
                     f"{(r['kept'] - quality['kept']) / 2**20:+.1f} |")
    return lines


def append_results(lines: list[str], steps: int, runs: int, path: Path = RESULTS) -> None:
    about = (
        f"Random CogVideoX transformer, {LAYERS} blocks × {HEADS * HEAD_DIM} wide ({HEADS} heads × {HEAD_DIM}), "
        f"tiny T5 and VAE; {FRAMES} frames at {WIDTH}×{HEIGHT} (750 video + 226 text tokens), {steps} DDIM "
        "steps (trailing, 1000 train steps), CFG 6 (batch 2); through `Engine.render`. Median of "
        f"{runs} rounds, presets alternating (and the best run, least disturbed by other work); the "
        "denoising loop runs from the first transformer call to the last step; CPU time is this "
        "process's, all threads. Passes are per "
        "sample, summed over blocks and steps (Quality: steps × blocks × 2); in brackets, against Quality. "
        "Kept between steps: the tensors alive at the middle step's end (the cache), beyond Quality's."
    )
    head = ["", f"## CPU, bench/speed.py, {dt.date.today().isoformat()}, {os.cpu_count()}-core development "
            f"machine (no GPU, torch threads {torch.get_num_threads()}; noisy: other work shares it)", "",
            textwrap.fill(about, width=100), ""]
    with path.open("a") as fh:
        fh.write("\n".join(head + lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="rounds; each renders every preset once")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps (the caches' windows need a schedule)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to results.md")
    args = parser.parse_args()
    presets = list(speed.PRESETS)  # quality first: the baseline
    rows = summarize(measure(args.steps, args.runs, presets))
    lines = table(rows)
    print("\n".join(lines))
    if not args.no_write:
        append_results(lines, args.steps, args.runs)
        print(f"appended to {RESULTS}")
    by_preset = {r["preset"]: r for r in rows}
    # End to end, as a user waits for the video (text encoding and VAE decoding included).
    for preset, goal in (("lean", 0.8), ("balanced", 0.8), ("fast", 0.6)):
        r = by_preset[preset]
        print(f"{preset}/quality: {r['s_ratio']:.3f} (best runs {r['s_best_ratio']:.3f}; goal <= {goal}); "
              f"keeps {(r['kept'] - by_preset['quality']['kept']) / 2**20:+.1f} MiB more between steps")


if __name__ == "__main__":
    main()
