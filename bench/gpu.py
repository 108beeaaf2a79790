"""Time and peak VRAM of one video per variant and offload mode, on full-size random weights.

A lent GPU machine has no internet and so no weights: the transformer, VAE and T5-XXL are built at
their published sizes from configs with random weights (speed and memory do not depend on weight
values) and run through our Engine's memory policy. Appends rows to bench/results.md.

    python bench/gpu.py --model 5b --offload none --extras compile+fp8 --warmup   # on a GPU
    python bench/gpu.py --model wan2.1-1.3b wan2.2-5b 5b --offload model --speed quality --warmup
    python bench/gpu.py --model tiny tiny-wan --steps 4 --no-write               # anywhere (keeps it from rotting)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from cogvideo.engine import models  # noqa: E402
from cogvideo.engine import tiny  # noqa: E402
from cogvideo.engine.families import family_of  # noqa: E402
from cogvideo.engine.render import Engine, RenderJob, accelerator, torch_dtype  # noqa: E402

RESULTS = Path(__file__).with_name("results.md")

# The published configs (the Hub's transformer/vae/scheduler config.json files, as the diffusers
# conversion script writes them); tests/test_speed.py loads each into the diffusers classes.
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              feed_forward_proj="gated-gelu", relative_attention_num_buckets=32)
BASE = dict(attention_head_dim=64, text_embed_dim=4096, time_embed_dim=512, out_channels=16,
            sample_height=60, sample_width=90, sample_frames=49, max_text_seq_length=226)
# 1.5: a 300×300 latent RoPE grid (not the 96×170 of the native size), so portrait grids fit too.
V15 = dict(num_attention_heads=48, num_layers=42, patch_size_t=2, patch_bias=False, sample_height=300,
           sample_width=300, sample_frames=81, use_rotary_positional_embeddings=True)
TRANSFORMERS = {
    "2b": dict(BASE, num_attention_heads=30, num_layers=30, in_channels=16),
    "5b": dict(BASE, num_attention_heads=48, num_layers=42, in_channels=16,
               use_rotary_positional_embeddings=True),
    "5b-i2v": dict(BASE, num_attention_heads=48, num_layers=42, in_channels=32,
                   use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True),
    "1.5-5b": dict(BASE, **V15, in_channels=16),
    "1.5-5b-i2v": dict(BASE, **V15, in_channels=32, ofs_embed_dim=512),
}
# AutoencoderKLCogVideoX defaults otherwise; the latent scale differs by family.
VAES = {
    "2b": dict(scaling_factor=1.15258426),
    "5b": dict(scaling_factor=0.7),
    "5b-i2v": dict(scaling_factor=0.7),
    "1.5-5b": dict(scaling_factor=0.7, invert_scale_latents=True),
    "1.5-5b-i2v": dict(scaling_factor=0.7, invert_scale_latents=True),
}
SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                 num_train_timesteps=1000, prediction_type="v_prediction", rescale_betas_zero_snr=True,
                 set_alpha_to_one=True, steps_offset=0, timestep_spacing="trailing")
SCHEDULERS = {name: dict(SCHEDULER, snr_shift_scale=3.0 if name == "2b" else 1.0) for name in TRANSFORMERS}

# Wan: the published architectures (cogvideo/engine/published.py, each config citing its Hub file).
WAN_MODELS = tuple(v.name for v in models.WAN_VARIANTS if v.repo_id is not None)
# Classifier-free guidance as the authors run each family (CogVideo cli_demo.py 6.0; Wan's configs'
# sample_guide_scale 5.0). Any value above 1 costs the same: two transformer passes per step.
GUIDANCE = {"cogvideox": 6.0, "wan": 5.0}


def random_init(module: torch.nn.Module, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Materialize a meta-built module with small random values (cheap, and never NaN)."""
    module.to_empty(device=device)
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0.0, 0.02)
        for buffer in module.buffers():
            if buffer.is_floating_point():
                buffer.zero_()
    return module


def build_full_size(name: str, dtype: torch.dtype):
    if name in WAN_MODELS:
        return build_wan_full_size(name, dtype)
    from diffusers import (AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXImageToVideoPipeline,
                           CogVideoXPipeline, CogVideoXTransformer3DModel)
    from transformers import T5Config, T5EncoderModel

    with torch.device("meta"):
        transformer = CogVideoXTransformer3DModel(**TRANSFORMERS[name])
        text_encoder = T5EncoderModel(T5Config(**T5_XXL))
        vae = AutoencoderKLCogVideoX(**VAES[name])
    # Buffers such as sincos position tables end up zero: that changes the picture, not the
    # speed or memory this benchmark measures.
    transformer = random_init(transformer).to(dtype)
    cls = CogVideoXImageToVideoPipeline if models.VARIANTS[name].task == "i2v" else CogVideoXPipeline
    return cls(tokenizer=tiny.build_tokenizer(), text_encoder=random_init(text_encoder).to(dtype),
               vae=random_init(vae).to(dtype), transformer=transformer,
               # As shipped on the Hub; the Engine then swaps in DPM where the authors do.
               scheduler=CogVideoXDDIMScheduler(**SCHEDULERS[name]))


def build_wan_full_size(name: str, dtype: torch.dtype):
    """A Wan pipeline at its published size with random weights (see `build_full_size`)."""
    from cogvideo.engine.published import build_components, wan_configs

    variant = models.VARIANTS[name]
    family = family_of(variant)
    published = wan_configs()[variant.family]  # wan2.2-5b-i2v is the same model as wan2.2-5b
    with torch.device("meta"):
        parts = build_components(published)
    components = dict(
        tokenizer=tiny.build_tokenizer(chinese=True), scheduler=parts["scheduler"],
        text_encoder=random_init(parts["text_encoder"]).to(dtype),
        transformer=random_init(parts["transformer"]).to(dtype),
        # The VAE in the family's own precision, as the Engine runs it (float32 for Wan).
        vae=random_init(parts["vae"]).to(getattr(torch, family.vae_dtype) if family.vae_dtype else dtype),
    )
    return family.build(variant.task, components, **published.pipeline)


def build_tiny(variant: models.Variant):
    if variant.architecture == "wan":
        return tiny.build_wan_pipeline(variant.task)
    return tiny.build_pipeline(variant.task)


def transformer_blocks(transformer) -> list:
    """The blocks of a CogVideoX (`transformer_blocks`) or Wan (`blocks`) transformer."""
    return list(getattr(transformer, "transformer_blocks", None) or transformer.blocks)


def count_computed_blocks(pipe) -> tuple[list[int], list]:
    """A counter of transformer block passes actually computed, per sample: a block that a cache
    skips never calls its feed-forward (so the hooks sit there, not on the block), and a step
    whose unconditional half is reused runs the blocks on half the batch. Wan runs the two halves
    of guidance as two calls of one sample each: the same count."""
    counter = [0]

    def feed_forward(block):
        return block.ff if hasattr(block, "ff") else block.ffn

    handles = [feed_forward(block).register_forward_hook(
        lambda _m, args, _o: counter.__setitem__(0, counter[0] + args[0].shape[0]))
        for block in transformer_blocks(pipe.transformer)]
    return counter, handles


def measure(engine: Engine, name: str, steps: int, speed: str, counter: list[int]) -> dict:
    variant = models.VARIANTS[name]
    device = engine.device
    image = Image.new("RGB", (variant.width, variant.height), (120, 90, 60)) if variant.task == "i2v" else None
    job = RenderJob(task=variant.task, prompt="a boat on a calm lake at sunset, the camera slowly pans",
                    negative_prompt="", image=image, num_frames=variant.num_frames,
                    num_inference_steps=steps, guidance_scale=GUIDANCE[variant.architecture], seed=1,
                    height=variant.height, width=variant.width, speed=speed)
    step_times: list[float] = []
    last = [time.perf_counter()]

    def on_step(index: int, total: int) -> None:
        now = time.perf_counter()
        step_times.append(now - last[0])
        last[0] = now

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    counting = counter[0] >= 0
    counter[0] = 0 if counting else -1
    start = time.perf_counter()
    last[0] = start
    engine.render(job, on_step=on_step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    accel = engine.status().acceleration
    return {
        "variant": name, "offload": engine.offload, "speed": speed, "compile": accel.compile, "fp8": accel.fp8,
        "attention": accel.attention, "size": f"{variant.width}×{variant.height}", "frames": variant.num_frames,
        "steps": steps, "total_s": total, "loop_s": sum(step_times),
        "blocks": counter[0],
        "peak_vram_gib": torch.cuda.max_memory_allocated() / models.GiB if device.type == "cuda" else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
    }


def run_variant(name: str, offload: str, steps: int, speeds: list[str], extras: list[str], warmup: bool,
                extra_speeds: list[str] | None = None) -> list[dict]:
    """Rows for one variant and offload mode: every speed preset on the plain engine, then the
    same with compile and/or fp8 (which change the transformer for good, so they come last)."""
    variant = models.VARIANTS[name]
    device = accelerator()
    dtype = torch_dtype(variant.dtype, device)
    pipe = build_tiny(variant) if variant.repo_id is None else build_full_size(name, dtype)
    counter, handles = count_computed_blocks(pipe)
    # Only the presets with evidence on the family are offered (Wan: Quality): the others would be refused.
    offered = family_of(variant).speeds
    speeds = [speed for speed in speeds if speed in offered] or [offered[0]]
    extra_speeds = [speed for speed in extra_speeds if speed in offered] if extra_speeds else None
    rows = []
    for extra in ["plain"] + extras:
        if "compile" in extra and handles:
            # A Python hook inside a compiled block guards on the counter's value: every block
            # would recompile (the first GPU run hit dynamo's recompile limit this way).
            for handle in handles:
                handle.remove()
            handles = []
            counter[0] = -1
        engine = Engine(name, offload=offload, compile="compile" in extra, fp8="fp8" in extra)
        engine.adopt(variant.task, pipe)
        run_speeds = speeds if extra == "plain" else (extra_speeds or speeds)
        if warmup and "compile" not in extra:
            # CUDA's first-use costs belong to the first video only: not timed.
            measure(engine, name, 2, run_speeds[0], counter)
        for speed in run_speeds:
            if "compile" in extra:
                # Compilation happens once per server and cache method: not timed.
                measure(engine, name, 2, speed, counter)
            row = measure(engine, name, steps, speed, counter)
            row["extra"] = extra
            rows.append(row)
            print(row, flush=True)
    return rows


def append_rows(rows: list[dict], path: Path = RESULTS) -> None:
    if not path.exists():
        path.write_text("# Benchmark results\n\n")
    quality = {(r["variant"], r["offload"], r["extra"]): r["total_s"] for r in rows if r["speed"] == "quality"}
    lines = ["", f"## bench/gpu.py, {dt.date.today().isoformat()}, {rows[0]['device']}", "",
             "| variant | offload | speed | extras | size | frames | steps | total (s) | vs quality | block passes | peak VRAM (GiB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        vram = "-" if r["peak_vram_gib"] is None else f"{r['peak_vram_gib']:.1f}"
        base = quality.get((r["variant"], r["offload"], r["extra"]))
        ratio = "-" if not base else f"{r['total_s'] / base:.2f}"
        lines.append(f"| {r['variant']} | {r['offload']} | {r['speed']} | {r['extra']} | {r['size']} | {r['frames']} | "
                     f"{r['steps']} | {r['total_s']:.1f} | {ratio} | {r['blocks'] if r['blocks'] >= 0 else '-'} | {vram} |")
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> None:
    from cogvideo.engine.speed import PRESETS

    parser = argparse.ArgumentParser()
    tiny_names = [name for name, variant in models.VARIANTS.items() if variant.repo_id is None]
    parser.add_argument("--model", nargs="+", default=["5b"],
                        choices=list(TRANSFORMERS) + list(WAN_MODELS) + tiny_names)
    parser.add_argument("--offload", nargs="+", default=["none"], choices=models.OFFLOAD_MODES)
    parser.add_argument("--steps", type=int, default=50, help="denoising steps (caches need the full schedule)")
    parser.add_argument("--speed", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--extras", nargs="*", default=[], choices=["compile", "fp8", "compile+fp8"],
                        help="also run with these accelerations (after the plain rows)")
    parser.add_argument("--extra-speed", nargs="+", choices=list(PRESETS), default=None,
                        help="the presets to run with the extras (default: those of --speed)")
    parser.add_argument("--warmup", action="store_true", help="a 2-step render first, not timed")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the markdown file to append rows to")
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to results.md")
    args = parser.parse_args()
    if accelerator() is None and any(m not in tiny_names for m in args.model):
        sys.exit("No GPU here: full-size variants need one. Use --model tiny to check the script.")
    rows = []
    for name in args.model:
        for offload in args.offload:
            rows += run_variant(name, offload, args.steps, args.speed, args.extras, args.warmup, args.extra_speed)
    if not args.no_write:
        append_rows(rows, args.results)
    print(f"done: {len(rows)} row(s)" + ("" if args.no_write else f" appended to {args.results}"))


if __name__ == "__main__":
    main()
