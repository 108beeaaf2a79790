"""bench/gpu.py's Wan rows: the published configs on the meta device (no memory, no download), the
pipeline the bench builds from them, and the script end to end on the tiny Wan (CPU).

Published sizes the configs must reproduce: Wan2.1-T2V-1.3B's transformer has 1.42 B parameters
(the "1.3B"), Wan2.2-TI2V-5B's 5.00 B, umT5-XXL's encoder 5.68 B (11.4 GB in bf16, the size of the
repos' text_encoder folder); the VAE files are 0.5 GB (Wan2.1, fp32: 127 M parameters) and 2.8 GB
(Wan2.2, fp32: 705 M).
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import torch

from cogvideo.engine import lora, models
from tests.conftest import ROOT


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import gpu

    return gpu


def parameters(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e9


def test_the_wan_benchmark_configs_are_the_published_ones(gpu):
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    expected = {"wan2.1-1.3b": (1.42, 0.127), "wan2.2-5b": (5.00, 0.705), "wan2.2-5b-i2v": (5.00, 0.705)}
    assert set(gpu.WAN_TRANSFORMERS) == set(expected) == {v.name for v in models.WAN_VARIANTS if v.repo_id}
    with torch.device("meta"):
        text_encoder = UMT5EncoderModel(UMT5Config(**gpu.UMT5_XXL))
        assert parameters(text_encoder) == pytest.approx(5.68, abs=0.01)
        for name, (transformer_b, vae_b) in expected.items():
            variant = models.VARIANTS[name]
            transformer = WanTransformer3DModel(**gpu.WAN_TRANSFORMERS[name])
            vae = AutoencoderKLWan(**gpu.WAN_VAES[name])
            assert parameters(transformer) == pytest.approx(transformer_b, abs=0.01), name
            assert parameters(vae) == pytest.approx(vae_b, abs=0.001), name
            assert len(transformer.blocks) == 30
            assert lora.transformer_width(transformer) == lora.model_width(variant)  # 1536 / 3072
            # The VAE's latent is what the transformer reads, at the compression the variant declares.
            assert vae.config.z_dim == transformer.config.in_channels == transformer.config.out_channels
            assert vae.config.scale_factor_spatial == variant.vae_spatial
            assert len(vae.config.latents_mean) == len(vae.config.latents_std) == vae.config.z_dim


def test_the_bench_builds_the_pipeline_the_engine_runs(gpu, monkeypatch):
    from diffusers import WanImageToVideoPipeline, WanPipeline

    monkeypatch.setattr(gpu, "random_init", lambda module, device="cpu": module)  # stay on meta: no memory
    for name, cls in (("wan2.1-1.3b", WanPipeline), ("wan2.2-5b", WanPipeline),
                      ("wan2.2-5b-i2v", WanImageToVideoPipeline)):
        variant = models.VARIANTS[name]
        pipe = gpu.build_full_size(name, torch.bfloat16)
        assert type(pipe) is cls and pipe.transformer.dtype == torch.bfloat16
        assert pipe.config.expand_timesteps == name.startswith("wan2.2")  # TI2V holds the first frame at t=0
        assert pipe.scheduler.config.flow_shift == variant.flow_shift and pipe.scheduler.config.use_flow_sigmas
        counter, handles = gpu.count_computed_blocks(pipe)
        assert counter == [0] and len(handles) == 30
        for handle in handles:
            handle.remove()


def test_the_bench_runs_the_wan_rows_on_the_tiny_wan():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu.py"), "--model", "tiny-wan", "tiny-wan-i2v", "--steps", "2",
         "--speed", "quality", "fast", "--no-write"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [ast.literal_eval(line) for line in done.stdout.splitlines() if line.startswith("{")]  # the printed dicts
    # Wan offers Quality only (no preset has evidence on it); 2 blocks × 2 steps × 2 halves of guidance.
    assert [(row["variant"], row["speed"], row["blocks"]) for row in rows] == [
        ("tiny-wan", "quality", 8), ("tiny-wan-i2v", "quality", 8)]
    assert "done: 2 row(s)" in done.stdout
