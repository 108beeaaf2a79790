"""Time and peak VRAM of one video per variant and offload mode, on full-size random weights.

A lent GPU machine has no internet and so no weights: the transformer, VAE and T5-XXL are built at
their published sizes from configs with random weights (speed and memory do not depend on weight
values) and run through our Engine's memory policy. Appends rows to bench/results.md.

    python bench/gpu.py --model 5b --offload none model --steps 5      # on a GPU
    python bench/gpu.py --model tiny                                    # anywhere (keeps it from rotting)
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

from cogvideo import models, tiny  # noqa: E402
from cogvideo.engine import Engine, RenderJob, accelerator, torch_dtype  # noqa: E402

RESULTS = Path(__file__).with_name("results.md")

# Published transformer configs (diffusers format); the VAE is the default AutoencoderKLCogVideoX.
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              feed_forward_proj="gated-gelu", relative_attention_num_buckets=32)
BASE = dict(attention_head_dim=64, text_embed_dim=4096, time_embed_dim=512, out_channels=16,
            sample_height=60, sample_width=90, sample_frames=49, max_text_seq_length=226)
TRANSFORMERS = {
    "2b": dict(BASE, num_attention_heads=30, num_layers=30, in_channels=16),
    "5b": dict(BASE, num_attention_heads=48, num_layers=42, in_channels=16,
               use_rotary_positional_embeddings=True),
    "5b-i2v": dict(BASE, num_attention_heads=48, num_layers=42, in_channels=32,
                   use_rotary_positional_embeddings=True, use_learned_positional_embeddings=True),
    "1.5-5b": dict(BASE, num_attention_heads=48, num_layers=42, in_channels=16, patch_size_t=2,
                   patch_bias=False, sample_height=96, sample_width=170, sample_frames=81,
                   use_rotary_positional_embeddings=True),
    "1.5-5b-i2v": dict(BASE, num_attention_heads=48, num_layers=42, in_channels=32, patch_size_t=2,
                       patch_bias=False, sample_height=96, sample_width=170, sample_frames=81,
                       ofs_embed_dim=512, use_rotary_positional_embeddings=True),
}


def random_init(module: torch.nn.Module) -> torch.nn.Module:
    """Materialize a meta-built module with small random values (cheap, and never NaN)."""
    module.to_empty(device="cpu")
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0.0, 0.02)
        for buffer in module.buffers():
            if buffer.is_floating_point():
                buffer.zero_()
    return module


def build_full_size(name: str, dtype: torch.dtype):
    from diffusers import (AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXImageToVideoPipeline,
                           CogVideoXPipeline, CogVideoXTransformer3DModel)
    from transformers import T5Config, T5EncoderModel

    with torch.device("meta"):
        transformer = CogVideoXTransformer3DModel(**TRANSFORMERS[name])
        text_encoder = T5EncoderModel(T5Config(**T5_XXL))
        vae = AutoencoderKLCogVideoX()
    # Buffers such as sincos position tables end up zero: that changes the picture, not the
    # speed or memory this benchmark measures.
    transformer = random_init(transformer).to(dtype)
    cls = CogVideoXImageToVideoPipeline if models.VARIANTS[name].task == "i2v" else CogVideoXPipeline
    return cls(tokenizer=tiny.build_tokenizer(), text_encoder=random_init(text_encoder).to(dtype),
               vae=random_init(vae).to(dtype), transformer=transformer, scheduler=CogVideoXDPMScheduler())


def measure(name: str, offload: str, steps: int) -> dict:
    variant = models.VARIANTS[name]
    engine = Engine(name, offload=offload)
    device = engine.device
    dtype = torch_dtype(variant.dtype, device if device.type != "cpu" else None)
    pipe = tiny.build_pipeline(variant.task) if variant.repo_id is None else build_full_size(name, dtype)
    engine.adopt(variant.task, pipe)
    image = Image.new("RGB", (variant.width, variant.height), (120, 90, 60)) if variant.task == "i2v" else None
    job = RenderJob(task=variant.task, prompt="a boat on a calm lake at sunset, the camera slowly pans",
                    negative_prompt="", image=image, num_frames=variant.num_frames,
                    num_inference_steps=steps, guidance_scale=6.0, seed=1,
                    height=variant.height, width=variant.width)
    step_times: list[float] = []
    last = [time.perf_counter()]

    def on_step(index: int, total: int) -> None:
        now = time.perf_counter()
        step_times.append(now - last[0])
        last[0] = now

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start = time.perf_counter()
    last[0] = start
    engine.render(job, on_step=on_step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    # Steady-state step time: skip the first step (warm-up, text encoding) when there are more.
    per_step = sorted(step_times[1:] or step_times)[len(step_times[1:] or step_times) // 2]
    fixed = total - sum(step_times)  # text encoding before the loop + VAE decode after it
    return {
        "variant": name, "offload": engine.offload, "size": f"{variant.width}×{variant.height}",
        "frames": variant.num_frames, "steps": steps, "per_step_s": per_step,
        "est_50_steps_s": fixed + step_times[0] + per_step * 49, "total_s": total,
        "peak_vram_gib": torch.cuda.max_memory_allocated() / models.GiB if device.type == "cuda" else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
    }


def append_rows(rows: list[dict]) -> None:
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\n")
    lines = ["", f"## bench/gpu.py, {dt.date.today().isoformat()}, {rows[0]['device']}", "",
             "| variant | offload | size | frames | steps run | s/step | est. 50 steps (s) | peak VRAM (GiB) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        vram = "-" if r["peak_vram_gib"] is None else f"{r['peak_vram_gib']:.1f}"
        lines.append(f"| {r['variant']} | {r['offload']} | {r['size']} | {r['frames']} | {r['steps']} | "
                     f"{r['per_step_s']:.2f} | {r['est_50_steps_s']:.0f} | {vram} |")
    with RESULTS.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="+", default=["5b"], choices=list(TRANSFORMERS) + ["tiny", "tiny-i2v"])
    parser.add_argument("--offload", nargs="+", default=["auto"], choices=models.OFFLOAD_MODES)
    parser.add_argument("--steps", type=int, default=5, help="steps to run; 50-step time is estimated")
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to results.md")
    args = parser.parse_args()
    if accelerator() is None and any(m not in ("tiny", "tiny-i2v") for m in args.model):
        sys.exit("No GPU here: full-size variants need one. Use --model tiny to check the script.")
    rows = []
    for name in args.model:
        for offload in args.offload:
            row = measure(name, offload, args.steps)
            rows.append(row)
            print(row, flush=True)
    if not args.no_write:
        append_rows(rows)
    print(f"done: {len(rows)} row(s)" + ("" if args.no_write else f" appended to {RESULTS}"))


if __name__ == "__main__":
    main()
