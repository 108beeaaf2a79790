"""bench/gpu.py's Wan rows: the pipeline the bench builds from the published configs
(cogvideo/engine/published.py, whose sizes tests/test_wan.py checks) on the meta device (no memory,
no download), and the script end to end on the tiny Wan (CPU)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import torch

from cogvideo.engine import models
from tests.conftest import ROOT


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import gpu

    return gpu


def parameters(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e9


def test_the_bench_builds_the_pipeline_the_engine_runs(gpu, monkeypatch):
    from diffusers import WanImageToVideoPipeline, WanPipeline

    from cogvideo.engine.published import wan_configs

    monkeypatch.setattr(gpu, "random_init", lambda module, device="cpu": module)  # stay on meta: no memory
    for name, cls in (("wan2.1-1.3b", WanPipeline), ("wan2.2-5b", WanPipeline),
                      ("wan2.2-5b-i2v", WanImageToVideoPipeline)):
        variant = models.VARIANTS[name]
        pipe = gpu.build_full_size(name, torch.bfloat16)
        assert type(pipe) is cls and pipe.transformer.dtype == torch.bfloat16
        assert pipe.vae.dtype == torch.float32  # as the Engine runs Wan's VAE
        published = wan_configs()[variant.family]  # the architectures tests/test_wan.py checks
        for part in ("transformer", "vae"):
            config = getattr(pipe, part).config
            assert all(config[key] == (tuple(value) if isinstance(config[key], tuple) else value)
                       for key, value in getattr(published, part).items() if key in config), (name, part)
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
