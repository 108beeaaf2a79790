"""Every GPU row in one short device run: memory per model and offload mode, time per speed preset,
compile + fp8, each attention kernel against PyTorch's, the 1.5 sizes, image-to-video and restyle,
smaller cards emulated by capping, Real-ESRGAN to 1440p, a LoRA on 5B and one Ray worker per GPU;
Wan2.1-1.3B and Wan2.2-TI2V-5B per offload mode, with image to video and a LoRA.

A lent GPU machine has minutes, no internet and no weights: the models are built at their published
sizes with random weights (`bench/gpu.py`), straight on the GPU (initialising 10 B parameters on
the CPU would take minutes). Sections run in order of what the README most needs, each under the
time left; a section that fails or would not finish in time leaves a row saying so, and the rest go
on. Rows are appended to bench/results.md with the card's name.

    python bench/device_kit.py                  # on the GPU machine (budget: 540 s)
    python bench/device_kit.py --tiny           # anywhere, on the tiny models: keeps the kit working
    python bench/device_kit.py --only wan       # the Wan rows alone (a run too short for every section)

Before a device run, `bench/device_wheels.sh` puts the wheels the GPU machine may lack into
`bench/wheels/` (carried with the run): the kit installs them from there, offline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WHEELS = Path(__file__).with_name("wheels")
RESULTS = Path(__file__).with_name("results.md")
MODELS = ("2b", "5b", "5b-i2v", "1.5-5b", "1.5-5b-i2v")
WAN_MODELS = ("wan2.1-1.3b", "wan2.2-5b")
CAPS_GIB = (24, 16, 12)


def install_carried_wheels() -> None:
    """Offline installs of what the device machine lacks (nothing to do when the folder is absent)."""
    wheels = sorted(WHEELS.glob("*.whl")) if WHEELS.is_dir() else []
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        *map(str, wheels)], check=False)


@dataclass
class Kit:
    tiny: bool
    budget_s: float
    steps: int
    started: float = field(default_factory=time.monotonic)
    rows: list[dict] = field(default_factory=list)

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def model(self, name: str) -> str:
        if not self.tiny:
            return name
        family = "tiny-wan" if name.startswith("wan") else "tiny"
        return f"{family}-i2v" if name.endswith("i2v") else family

    def note(self, section: str, what: str, outcome: str) -> None:
        self.rows.append({"section": section, "what": what, "outcome": outcome})
        print(f"[{section}] {what}: {outcome}", flush=True)


def _pipeline(kit: Kit, name: str):
    import torch

    from cogvideo.engine import models, tiny
    from cogvideo.engine.render import accelerator, torch_dtype

    variant = models.VARIANTS[name]
    if variant.repo_id is None:
        if variant.architecture == "wan":
            return tiny.build_wan_pipeline(variant.task)
        return tiny.build_pipeline(variant.task)
    import gpu  # bench/gpu.py: the published configs

    device = accelerator()
    dtype = torch_dtype(variant.dtype, device)
    original = gpu.random_init

    def on_device(module: torch.nn.Module) -> torch.nn.Module:
        return original(module, device).to("cpu")  # the engine's memory policy places it

    gpu.random_init = on_device
    try:
        return gpu.build_full_size(name, dtype)
    finally:
        gpu.random_init = original


def _render(kit: Kit, name: str, offload: str = "none", speed: str = "quality", steps: int = 2,
            size: tuple[int, int] | None = None, task: str | None = None, pipe=None, **engine_kwargs) -> dict:
    """One render through our Engine; time, steps and peak memory."""
    import torch
    from PIL import Image

    from cogvideo.engine import models
    from cogvideo.engine.render import Engine, RenderJob

    variant = models.VARIANTS[name]
    engine = Engine(name, offload=offload, speed=speed, **engine_kwargs)
    engine.adopt(variant.task, pipe if pipe is not None else _pipeline(kit, name))
    height, width = size or (variant.height, variant.width)
    image = Image.new("RGB", (width, height), (120, 90, 60)) if variant.task == "i2v" else None
    task = task or variant.task
    video = [Image.new("RGB", (width, height), (60, 90, 120))] * variant.num_frames if task == "v2v" else None
    job = RenderJob(task=task, prompt="a boat on a calm lake at sunset, the camera slowly pans", negative_prompt="",
                    image=image, num_frames=variant.num_frames, num_inference_steps=steps, guidance_scale=6.0,
                    seed=1, height=height, width=width, speed=speed, video=video, strength=0.6)
    cuda = engine.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    engine.render(job)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / models.GiB if cuda else None
    return {"seconds": seconds, "per_step": seconds / steps, "peak_gib": peak, "offload": engine.offload}


def _row(result: dict) -> str:
    peak = "-" if result["peak_gib"] is None else f"{result['peak_gib']:.1f} GiB"
    return f"{result['seconds']:.1f} s ({result['per_step']:.2f} s/step incl. decode), peak {peak}, offload {result['offload']}"


def _section(kit: Kit, name: str, estimate_s: float, items: list[tuple[str, callable]]) -> None:
    for what, run in items:
        if kit.left() < estimate_s:
            kit.note(name, what, "skipped: not enough device time left")
            continue
        try:
            kit.note(name, what, run())
        except Exception as exc:  # a row that says why, and the kit goes on
            kit.note(name, what, f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
        finally:
            _free()


def _free() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def memory(kit: Kit) -> None:
    """Peak memory for every model × offload mode, 2 steps each."""
    items = []
    for name in MODELS:
        for offload in ("none", "model", "group", "sequential"):
            items.append((f"{name} offload {offload}",
                          lambda n=name, o=offload: _row(_render(kit, kit.model(n), offload=o))))
    _section(kit, "memory", 20 if kit.tiny else 45, items)


def presets(kit: Kit) -> None:
    """Time per speed preset on 5B over a schedule long enough for the caches to act."""
    from cogvideo.engine.speed import PRESETS

    name = kit.model("5b")
    pipe = [None]

    def run(preset: str, extras: dict) -> str:
        if pipe[0] is None:
            pipe[0] = _pipeline(kit, name)
        return _row(_render(kit, name, speed=preset, steps=kit.steps, pipe=pipe[0], **extras))

    items = [(f"5b {p}", lambda p=p: run(p, {})) for p in PRESETS]
    # compile and fp8 change the transformer for good: last, on a pipeline of their own
    items += [(f"5b {p} compile+fp8+sage", lambda p=p: run(p, {"compile": True, "fp8": True, "attention": "sage"}))
              for p in ("quality", "lean")]
    _section(kit, "presets", 30 if kit.tiny else 90, items)


def sizes(kit: Kit) -> None:
    """The 1.5 sizes, image-to-video and restyle."""
    items = [
        ("1.5-5b t2v 1360×768", lambda: _row(_render(kit, kit.model("1.5-5b")))),
        ("1.5-5b-i2v portrait 768×1360", lambda: _row(_render(kit, kit.model("1.5-5b-i2v"),
                                                               size=(1360, 768) if not kit.tiny else (144, 96)))),
        ("5b-i2v (image to video, and each part of extend)", lambda: _row(_render(kit, kit.model("5b-i2v")))),
        ("5b restyle (v2v, strength 0.6)", lambda: _row(_render(kit, kit.model("5b"), task="v2v", steps=4))),
    ]
    _section(kit, "sizes", 20 if kit.tiny else 60, items)


def _random_lora(transformer, path: Path, rank: int) -> Path:
    """A LoRA file for every self-attention projection of `transformer` (diffusers' key names), small
    random values: its cost is the shapes, not the values."""
    import torch
    from safetensors.torch import save_file

    config = transformer.config
    width = config.num_attention_heads * config.attention_head_dim
    blocks = "blocks" if hasattr(transformer, "blocks") else "transformer_blocks"  # Wan | CogVideoX
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for block in range(config.num_layers):
        for layer in ("to_q", "to_k", "to_v", "to_out.0"):
            key = f"transformer.{blocks}.{block}.attn1.{layer}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(rank, width, generator=generator).half() * 0.01
            tensors[f"{key}.lora_B.weight"] = torch.randn(width, rank, generator=generator).half() * 0.01
    save_file(tensors, path)
    return path


def extras(kit: Kit) -> None:
    """Real-ESRGAN ×2 to 1440p on 49 frames, a rank-64 LoRA on 5B, and one Ray worker per GPU."""
    import tempfile

    import numpy as np
    import torch

    from cogvideo.engine.lora import LoraSpec

    cuda = torch.cuda.is_available()
    folder = Path(tempfile.mkdtemp(prefix="device-kit-"))

    def esrgan() -> str:
        from upscale import save_random_x2plus  # bench/upscale.py

        from cogvideo.media.enhance import Upscaler

        count, height, width = (49, 480, 720) if not kit.tiny else (9, 96, 144)
        blocks, filters = (23, 64) if not kit.tiny else (1, 8)
        weights = save_random_x2plus(folder / "RealESRGAN_x2plus_random.pth", blocks, filters)
        frames = np.random.default_rng(0).integers(0, 256, (count, height, width, 3), dtype=np.uint8)
        upscaler = Upscaler(weights=weights, device="cuda" if cuda else "cpu")
        upscaler.upscale(frames[:1])  # load and warm up
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        out = upscaler.upscale(frames)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        peak = f", peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if cuda else ""
        return (f"{count} frames {width}×{height} -> {out.shape[2]}×{out.shape[1]} in {seconds:.1f} s "
                f"({seconds / count:.2f} s/frame, tile {upscaler.tile}){peak}")

    def lora() -> str:
        name = kit.model("5b")
        pipe = _pipeline(kit, name)
        path = _random_lora(pipe.transformer, folder / "random_lora.safetensors", rank=64 if not kit.tiny else 4)
        row = _row(_render(kit, name, pipe=pipe, loras=(LoraSpec(str(path)),)))
        return f"adapters {', '.join(pipe.get_active_adapters()) or 'NONE LOADED'}; {row}"

    def ray_per_gpu() -> str:
        try:
            import ray
        except ImportError:
            return "not run: ray is not installed here"
        from cogvideo import VideoRequest
        from cogvideo.engine.render import Engine
        from cogvideo.studio import Studio
        from jobs import JobService, JobStore
        from jobs.ray_workers import RayWorkers, StudioSpec

        head = Studio(Engine("tiny"), folder / "outputs")
        # One per GPU where there are GPUs; on a machine without (the --tiny check) one on the CPU.
        pool = RayWorkers.start(StudioSpec("tiny"), head, folder / "outputs", label="device-kit",
                                count=None if cuda else 1, say=lambda text: None)
        service = JobService(JobStore(folder / "data"), pool.workers, poll_s=0.05).start()
        try:
            start = time.perf_counter()
            job = service.submit(VideoRequest(prompt="a boat", num_inference_steps=2, num_frames=9, seed=1))
            job = service.wait(job.id, timeout=300)
            gpus = int(ray.cluster_resources().get("GPU", 0))
            return (f"{len(pool.workers)} worker(s) for {gpus} GPU(s) ({', '.join(w.name for w in pool.workers)}); "
                    f"a tiny job {job.status} on {job.worker} in {time.perf_counter() - start:.1f} s")
        finally:
            service.close()
            pool.shutdown()

    items = [("Real-ESRGAN x2 to 1440p, 49 frames" if not kit.tiny else "Real-ESRGAN x2, 9 tiny frames", esrgan),
             ("5b with a rank-64 LoRA on every attention projection" if not kit.tiny else "tiny with a LoRA", lora),
             ("one Ray worker per GPU", ray_per_gpu)]
    _section(kit, "extras", 20 if kit.tiny else 60, items)


def wan(kit: Kit) -> None:
    """Wan2.1-1.3B and Wan2.2-TI2V-5B at their published sizes (832×480 × 81 and 1280×704 × 121), 2
    steps each: model offload first (what the published figures use: 8.19 GB for 1.3B on an RTX
    4090), then the other modes; image to video from the 5B's one model; a rank-64 LoRA on 1.3B."""
    import tempfile

    from cogvideo.engine.lora import LoraSpec

    items = [(f"{name} offload {offload}", lambda n=name, o=offload: _row(_render(kit, kit.model(n), offload=o)))
             for offload in ("model", "none", "group", "sequential") for name in WAN_MODELS]
    items.append(("wan2.2-5b-i2v offload model (image to video, the same model)",
                  lambda: _row(_render(kit, kit.model("wan2.2-5b-i2v"), offload="model"))))

    def lora() -> str:
        name = kit.model("wan2.1-1.3b")
        pipe = _pipeline(kit, name)
        path = _random_lora(pipe.transformer, Path(tempfile.mkdtemp(prefix="device-kit-")) / "wan_lora.safetensors",
                            rank=64 if not kit.tiny else 4)
        row = _row(_render(kit, name, offload="model", pipe=pipe, loras=(LoraSpec(str(path)),)))
        return f"adapters {', '.join(pipe.get_active_adapters()) or 'NONE LOADED'}; {row}"

    items.append(("wan2.1-1.3b with a LoRA", lora))
    _section(kit, "wan", 20 if kit.tiny else 60, items)


def caps(kit: Kit) -> None:
    """Smaller cards: the process capped at 24, 16 and 12 GiB; `--offload auto` must pick a mode
    that renders there with each preset it offers."""
    import torch

    from cogvideo.engine.render import Engine

    def run(cap: int, preset: str) -> str:
        name = kit.model("5b")
        if torch.cuda.is_available():
            total = torch.cuda.get_device_properties(0).total_memory / 2**30
            torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total))
        try:
            sized = Engine(name, vram_gib=cap, speed=preset)
            offered, planned = sized.fitting_speeds(), sized._planned()
            if preset not in offered:
                return f"not offered (offered: {', '.join(offered)})"
            return f"auto plans {planned}; " + _row(_render(kit, name, offload="auto", speed=preset, vram_gib=cap))
        finally:
            if torch.cuda.is_available():
                torch.cuda.set_per_process_memory_fraction(1.0)

    items = [(f"{cap} GiB card, 5b {preset}", lambda c=cap, p=preset: run(c, p))
             for cap in CAPS_GIB for preset in ("quality", "lean", "fast")]
    _section(kit, "caps", 20 if kit.tiny else 60, items)


# Our bound for a kernel to count as giving the same output as PyTorch's attention on random bf16
# inputs (SageAttention quantises Q and K to int8, so it is never bit-equal).
SAME_COSINE, SAME_MEAN_ABS = 0.999, 1e-2


def attention(kit: Kit) -> None:
    """Each attention kernel against PyTorch's on one 5B-sized attention call (2 × 48 heads of 64,
    226 text + 17,550 video tokens: 720×480, 49 frames): the difference, and the time per call."""
    import functools

    import torch
    from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn

    from cogvideo.engine.attention import sage1_kernel

    cuda = torch.cuda.is_available()
    device, dtype = ("cuda", torch.bfloat16) if cuda else ("cpu", torch.float32)
    shape = (2, 226 + 17_550, 48, 64) if not kit.tiny else (2, 226 + 64, 4, 64)

    def pytorch(q, k, v):  # (B, S, H, D) in and out, like the kernels
        return torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2) for x in (q, k, v))).transpose(1, 2)

    def timed(kernel, q, k, v) -> tuple[torch.Tensor, float]:
        out = kernel(q, k.clone(), v)  # a clone each call: SageAttention smooths K in place
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(5):
            kernel(q, k.clone(), v)
        if cuda:
            torch.cuda.synchronize()
        return out, (time.perf_counter() - start) / 5 * 1000

    def run(kernel) -> str:
        if kernel is None:
            return "not run: not installed here"
        if not cuda and kernel is not pytorch_dispatch:
            return "not run: needs an NVIDIA GPU"
        torch.manual_seed(0)
        q, k, v = (torch.randn(shape, device=device, dtype=dtype) for _ in range(3))
        reference, reference_ms = timed(pytorch, q, k, v)
        out, ms = timed(kernel, q, k, v)
        diff = (out.float() - reference.float())
        cosine = torch.nn.functional.cosine_similarity(out.float().flatten(), reference.float().flatten(), dim=0).item()
        mean = diff.abs().mean().item()
        same = "same output" if cosine >= SAME_COSINE and mean <= SAME_MEAN_ABS else "DIFFERENT output"
        return (f"{same} (cosine {cosine:.5f}, mean |Δ| {mean:.2e}, max |Δ| {diff.abs().max().item():.2e}); "
                f"{ms:.1f} ms/call vs PyTorch {reference_ms:.1f} ms")

    def dispatcher(name: str):
        from diffusers.models.attention_dispatch import _check_attention_backend_requirements

        try:
            _check_attention_backend_requirements(AttentionBackendName(name))
        except RuntimeError:
            return None
        return functools.partial(dispatch_attention_fn, backend=AttentionBackendName(name))

    pytorch_dispatch = dispatcher("native")
    items = [("native through the dispatcher", lambda: run(pytorch_dispatch)),
             ("sage 1.x, called directly", lambda: run(sage1_kernel())),
             ("sage 2 through the dispatcher", lambda: run(dispatcher("sage"))),
             ("flash through the dispatcher", lambda: run(dispatcher("flash")))]
    _section(kit, "attention", 5 if kit.tiny else 20, items)


def write(kit: Kit, path: Path) -> None:
    import torch

    card = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (tiny models: checks the kit only)"
    lines = ["", f"## bench/device_kit.py, {dt.date.today().isoformat()}, {card}", "",
             f"Random weights at the published sizes; {kit.steps} steps for the preset rows, 2 for the others. "
             f"Run took {time.monotonic() - kit.started:.0f} s.", "",
             "| section | what | outcome |", "|---|---|---|"]
    lines += [f"| {r['section']} | {r['what']} | {r['outcome']} |" for r in kit.rows]
    if not path.exists():
        path.write_text("# Benchmark results\n")
    with path.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


SECTIONS = {"memory": memory, "wan": wan, "presets": presets, "attention": attention, "sizes": sizes, "caps": caps,
            "extras": extras}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny models on whatever device is here")
    parser.add_argument("--budget", type=float, default=540, help="seconds for all sections (default 540)")
    parser.add_argument("--steps", type=int, default=None, help="steps of the preset rows (default 50; tiny 6)")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    install_carried_wheels()
    sys.path.append(str(Path(__file__).parent))  # bench/gpu.py
    from cogvideo.engine.render import accelerator

    if not args.tiny and accelerator() is None:
        print("No GPU here: run with --tiny to check the kit on the tiny models.", file=sys.stderr)
        return 2
    kit = Kit(tiny=args.tiny, budget_s=args.budget, steps=args.steps or (6 if args.tiny else 50))
    for name in args.only:
        SECTIONS[name](kit)
    if not args.no_write:
        write(kit, args.results)
    failed = [r for r in kit.rows if r["outcome"].startswith("failed")]
    print(f"done: {len(kit.rows)} rows, {len(failed)} failed, {time.monotonic() - kit.started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
