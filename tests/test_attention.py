"""Our CogVideoX attention processor: same output as diffusers' stock one, really used, and a clear
fallback to native when a kernel cannot run here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from diffusers.models import attention_dispatch
from diffusers.models.attention_dispatch import AttentionBackendName
from diffusers.models.attention_processor import CogVideoXAttnProcessor2_0
from PIL import Image

from bilingual import Text
from cogvideo.engine import tiny
from cogvideo.engine.attention import (
    ATTENTION_BACKENDS,
    DispatchCogVideoXAttnProcessor,
    choose_backend,
    use_attention,
)
from cogvideo.errors import InvalidRequest

# 32×48 pixels -> 4×6 latents -> 2×3 patches; 9 frames -> (9 - 1) / 4 + 1 = 3 latent frames.
HEIGHT, WIDTH, FRAMES = 32, 48, 9


@pytest.fixture(scope="module")
def pipes() -> dict:
    t2v = tiny.build_pipeline("t2v")
    shared = {name: getattr(t2v, name) for name in ("tokenizer", "text_encoder", "vae", "scheduler")}
    return {"t2v": t2v, "i2v": tiny.build_pipeline("i2v", shared)}


@pytest.fixture()
def dispatch_calls(monkeypatch) -> list:
    """The backend of every dispatch_attention_fn call; the real function still does the math."""
    calls: list = []
    real = attention_dispatch.dispatch_attention_fn

    def counting(*args, **kwargs):
        calls.append(kwargs.get("backend"))
        return real(*args, **kwargs)

    monkeypatch.setattr(attention_dispatch, "dispatch_attention_fn", counting)
    return calls


def _render_latents(pipe, task: str) -> torch.Tensor:
    # guidance_scale > 1: the pipeline batches uncond + cond, so attention runs at batch 2.
    kwargs = {"image": Image.new("RGB", (WIDTH, HEIGHT), (200, 120, 40))} if task == "i2v" else {}
    with torch.inference_mode():
        return pipe(
            prompt="a cat walks in the park", height=HEIGHT, width=WIDTH, num_frames=FRAMES,
            num_inference_steps=2, guidance_scale=6.0, generator=torch.Generator().manual_seed(7),
            output_type="latent", **kwargs,
        ).frames


@pytest.mark.parametrize("task", ["t2v", "i2v"])
def test_matches_stock_processor(pipes, dispatch_calls, task):
    pipe = pipes[task]
    transformer = pipe.transformer
    # The I2V transformer is the one with 3D RoPE: this covers RoPE on the video tokens only.
    assert transformer.config.use_rotary_positional_embeddings == (task == "i2v")

    transformer.set_attn_processor(CogVideoXAttnProcessor2_0())
    stock = _render_latents(pipe, task)
    assert dispatch_calls == []

    choice = use_attention(transformer, "native")
    ours = _render_latents(pipe, task)

    assert (choice.backend, choice.reason) == ("native", Text("", ""))
    assert all(isinstance(p, DispatchCogVideoXAttnProcessor) for p in transformer.attn_processors.values())
    # Once per attention module per step (CFG runs as one batch), whatever the block count.
    assert len(dispatch_calls) == 2 * len(transformer.attn_processors)
    assert set(dispatch_calls) == {AttentionBackendName.NATIVE}
    assert ours.shape == stock.shape and ours.shape[0] == 1
    assert (ours - stock).abs().max().item() <= 1e-5


def test_fused_projections_match_stock(pipes):
    # A fresh transformer: fusing changes the module in place.
    shared = {name: getattr(pipes["t2v"], name) for name in ("tokenizer", "text_encoder", "vae", "scheduler")}
    pipe = tiny.build_pipeline("t2v", shared)
    stock = _render_latents(pipe, "t2v")
    pipe.transformer.fuse_qkv_projections()
    use_attention(pipe.transformer, "native")
    assert all(m.fused_projections for m in pipe.transformer.modules() if hasattr(m, "fused_projections"))
    fused = _render_latents(pipe, "t2v")
    assert (fused - stock).abs().max().item() <= 1e-5


def test_processor_batch_two_with_rope_and_autograd(pipes):
    """One attention module called directly at batch 2, with gradients on (training, LoRA)."""
    transformer = pipes["i2v"].transformer
    attn = transformer.transformer_blocks[0].attn1
    heads, head_dim = attn.heads, transformer.config.attention_head_dim
    generator = torch.Generator().manual_seed(3)
    video = torch.randn(2, 18, heads * head_dim, generator=generator)  # 3 frames × 2×3 patches
    text = torch.randn(2, 5, heads * head_dim, generator=generator)
    angles = torch.randn(18, head_dim, generator=generator)
    rope = (angles.cos(), angles.sin())

    expected = CogVideoXAttnProcessor2_0()(attn, video, text, image_rotary_emb=rope)
    got = DispatchCogVideoXAttnProcessor("native")(attn, video, text, image_rotary_emb=rope)
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        assert (g - e).abs().max().item() <= 1e-5
    got[0].sum().backward()
    assert attn.to_q.weight.grad is not None
    transformer.zero_grad(set_to_none=True)


def test_unavailable_kernel_falls_back_to_native(pipes, dispatch_calls):
    installed = importlib.util.find_spec("sageattention") is not None
    if installed and torch.cuda.is_available():
        pytest.skip("sage may really run here")
    transformer = pipes["t2v"].transformer
    choice = use_attention(transformer, "sage")

    assert (choice.requested, choice.backend, choice.fell_back) == ("sage", "native", True)
    assert choice.reason.en.endswith("using PyTorch attention") and "PyTorch" in choice.reason.zh
    # Without the package the reason says what to install; with it, that a GPU is missing.
    hint = "needs an NVIDIA GPU" if installed else "pip install sageattention"
    assert hint in choice.reason.en
    processors = transformer.attn_processors.values()
    assert {p._attention_backend for p in processors} == {AttentionBackendName.NATIVE}
    _render_latents(pipes["t2v"], "t2v")
    assert set(dispatch_calls) == {AttentionBackendName.NATIVE}


@pytest.mark.parametrize(
    ("requested", "capability", "dtype", "backend", "reason"),
    [
        ("sage", (8, 9), torch.bfloat16, "sage", ""),
        ("sage", (7, 5), torch.float16, "native", "compute capability 7.5"),
        ("sage", (10, 0), torch.bfloat16, "native", "compute capability 10.0"),
        ("flash", (12, 0), torch.bfloat16, "flash", ""),
        ("flash", (8, 0), torch.float32, "native", "needs float16 or bfloat16 (the model runs in float32)"),
        ("flash", None, torch.bfloat16, "native", "needs an NVIDIA GPU"),
        ("flash_3", (9, 0), torch.bfloat16, "flash_3", ""),
        ("flash_3", (8, 9), torch.bfloat16, "native", "9.x (Hopper)"),
        ("native", None, torch.float32, "native", ""),
    ],
)
def test_choose_backend(requested, capability, dtype, backend, reason):
    choice = choose_backend(requested, installed=True, capability=capability, dtype=dtype)
    assert choice.backend == backend
    assert reason in choice.reason.en
    assert bool(choice.reason.en) == (backend != requested)


def test_choose_backend_not_installed_and_unknown():
    choice = choose_backend("flash", installed=False, capability=(9, 0), dtype=torch.bfloat16)
    assert choice.backend == "native" and "pip install flash-attn" in choice.reason.en
    with pytest.raises(InvalidRequest, match="'xformers'"):
        choose_backend("xformers", installed=True, capability=(9, 0), dtype=torch.bfloat16)


def test_every_backend_name_maps_to_diffusers():
    assert ATTENTION_BACKENDS[0] == "native"
    for name in ATTENTION_BACKENDS:
        assert DispatchCogVideoXAttnProcessor(name)._attention_backend in set(AttentionBackendName)
    assert DispatchCogVideoXAttnProcessor()._attention_backend is None


def test_import_is_light():
    """The CLI reads ATTENTION_BACKENDS at start-up: importing the module must not load torch."""
    import subprocess
    import sys

    code = "import sys, cogvideo.engine.attention as a; print(a.ATTENTION_BACKENDS, 'torch' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert out.strip().endswith("False")


def nhd_reference(query, key, value):
    """SageAttention's math without its int8 quantisation, in its (B, S, heads, head_dim) layout:
    what the direct path must compute, on a machine with no CUDA for the real kernel."""
    out = torch.nn.functional.scaled_dot_product_attention(*(x.transpose(1, 2) for x in (query, key, value)))
    return out.transpose(1, 2)


def test_a_direct_kernel_gets_the_same_video_as_the_stock_processor(pipes, dispatch_calls):
    transformer = pipes["t2v"].transformer
    transformer.set_attn_processor(CogVideoXAttnProcessor2_0())
    expected = _render_latents(pipes["t2v"], "t2v")
    shapes = []

    def kernel(query, key, value):
        shapes.append(tuple(query.shape))
        return nhd_reference(query, key, value)

    transformer.set_attn_processor(DispatchCogVideoXAttnProcessor("native", kernel=kernel))
    try:
        got = _render_latents(pipes["t2v"], "t2v")
    finally:
        transformer.set_attn_processor(CogVideoXAttnProcessor2_0())
    assert (got - expected).abs().max().item() <= 1e-5
    assert dispatch_calls == []  # every attention went to the kernel
    heads = transformer.config.num_attention_heads
    assert shapes and {s[0] for s in shapes} == {2} and {s[2:] for s in shapes} == {(heads, 8)}  # B, S, H, D


def test_sageattention_1_from_the_package_index_is_found_and_called_directly():
    """The index's 1.0.6 is refused by diffusers' dispatcher but found by ours, in the NHD layout."""
    from importlib.metadata import version

    from cogvideo.engine.attention import sage1_kernel

    assert version("sageattention").startswith("1.")  # requirements-dev.txt pins it
    with pytest.raises(RuntimeError, match="sageattention>=2.1.1"):
        attention_dispatch._check_attention_backend_requirements(AttentionBackendName.SAGE)
    kernel = sage1_kernel()
    assert kernel.func.__module__ == "sageattention.core"
    assert kernel.keywords == {"tensor_layout": "NHD", "is_causal": False}


def small_transformer(head_dim: int):
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(0)
    return CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=head_dim, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=8,
    ).to(torch.bfloat16).eval()


def test_sage_1_runs_where_its_gpu_dtype_and_head_size_allow(monkeypatch):
    from cogvideo.engine import attention

    monkeypatch.setattr(attention, "_cuda_capability", lambda transformer: (8, 9))  # an RTX 4090
    calls = []
    monkeypatch.setattr(attention, "sage1_kernel", lambda: lambda q, k, v: calls.append(q.shape) or nhd_reference(q, k, v))

    # Heads of 64, as every CogVideoX has: the processor calls the kernel.
    transformer = small_transformer(64)
    choice = use_attention(transformer, "sage")
    assert (choice.backend, choice.fell_back) == ("sage", False)
    with torch.inference_mode():
        transformer(hidden_states=torch.randn(1, 3, 4, 4, 4, dtype=torch.bfloat16),
                    encoder_hidden_states=torch.randn(1, 8, 32, dtype=torch.bfloat16), timestep=torch.tensor([10]))
    assert calls and calls[0][2:] == (2, 64)

    # Heads it has no kernel for: native, and the reason in both languages.
    choice = use_attention(small_transformer(32), "sage")
    assert choice.backend == "native" and "heads of 64, 96, 128 (this model's: 32)" in choice.reason.en
    assert "此模型为 32" in choice.reason.zh
