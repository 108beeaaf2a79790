"""LoRAs on the tiny Wan: real LoRA files made here with peft, loaded through diffusers' Wan loader.

Shapes (tiny.py `_wan_transformer`): 2 heads × 12 = width 24, 2 blocks. A LoRA of rank 4 on
to_q/to_k/to_v/to_out.0 reaches both attentions of each block (attn1 self, attn2 cross; the cross
attention's keys read the text after its projection to width 24): 2 blocks × 2 attentions × 4 layers
= 16 layers, lora_A (4, 24) and lora_B (24, 4) each. A render of 9 frames at 32×48 has
(9 - 1) / 4 + 1 = 3 latent frames of 4×6 latents (VAE ×8), 2×3 patches each (patch 1×2×2).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cogvideo.engine import lora, models, tiny
from cogvideo.engine.render import Engine, RenderJob
from tests.test_lora import assert_bitwise, bilingual, make_lora, one_thread, snapshot, write_lora_shapes  # noqa: F401 (one_thread: autouse)

WAN = [models.VARIANTS["tiny-wan"], models.VARIANTS["tiny-wan-i2v"]]
COGVIDEOX = [models.VARIANTS["tiny"], models.VARIANTS["tiny-i2v"]]
FIVE_B = [models.VARIANTS["5b"], models.VARIANTS["5b-i2v"]]
WAN_5B = [models.VARIANTS["wan2.2-5b"], models.VARIANTS["wan2.2-5b-i2v"]]


def render(pipe) -> np.ndarray:
    return pipe(
        "a cat walks in the park", num_inference_steps=2, num_frames=9, height=32, width=48,
        generator=torch.Generator().manual_seed(0), output_type="np",
    ).frames


def write_wan_shapes(path, width: int, blocks: int = 2, rank: int = 1):
    """A LoRA file with Wan's diffusers key names and the shapes of a Wan of `width`, zeros inside."""
    from safetensors.torch import save_file

    tensors = {}
    for block in range(blocks):
        for layer in ("attn1.to_q", "attn1.to_out.0", "attn2.to_k", "ffn.net.0.proj"):
            key = f"transformer.blocks.{block}.{layer}"
            tensors[f"{key}.lora_A.weight"] = torch.zeros(rank, width)
            tensors[f"{key}.lora_B.weight"] = torch.zeros(width if "to_" in layer else 64, rank)
    save_file(tensors, path)
    return path


@pytest.fixture(scope="module")
def wan():
    pipe = tiny.build_wan_pipeline("t2v")
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def base(wan) -> np.ndarray:
    return render(wan)


@pytest.fixture(scope="module")
def wan_dir(wan, tmp_path_factory):
    return make_lora(wan.transformer, tmp_path_factory.mktemp("loras") / "Wan-Style", seed=3)


@pytest.fixture(scope="module")
def wan_at_one(wan, wan_dir) -> np.ndarray:
    lora.load_loras(wan, [lora.check_lora(lora.LoraSpec(str(wan_dir)))])
    try:
        return render(wan)
    finally:
        lora.unload_loras(wan)


@pytest.fixture(scope="module")
def cogvideox_dir(tmp_path_factory):
    return make_lora(tiny._transformer("t2v"), tmp_path_factory.mktemp("loras") / "cog", seed=1)


# ---------------------------------------------------------------- load, scale, unload


def test_a_peft_lora_for_tiny_wan_changes_the_video_scales_and_unloads_exactly(wan, base, wan_dir):
    from safetensors import safe_open

    with safe_open(str(wan_dir / lora.LORA_FILE), framework="pt") as handle:
        assert "transformer.blocks.0.attn1.to_q.lora_A.weight" in handle.keys()  # diffusers' Wan names
    before = snapshot(wan.transformer)
    style = lora.check_lora(lora.parse_lora(f"{wan_dir}:0"))
    assert (style.architecture, style.width, style.rank, style.blocks, style.layers) == ("wan", 24, 4, 2, 16)
    assert style.diffusers_format and lora.check_fits(style, WAN) == ["t2v", "i2v"]  # one model does both

    lora.load_loras(wan, [style])
    try:
        assert set(wan.transformer.peft_config) == {"wan_style"}
        assert np.array_equal(render(wan), base)  # default scale 0: exactly the base model
        lora.set_lora_scales(wan, {"wan_style": 1.0})
        at_one = render(wan)
        assert np.abs(at_one - base).max() > 1e-3
        lora.set_lora_scales(wan, {"wan_style": 0.5})
        at_half = render(wan)
        assert not np.array_equal(at_half, at_one) and not np.array_equal(at_half, base)
        lora.set_lora_scales(wan, {"wan_style": 1.0})
        assert np.array_equal(render(wan), at_one)
    finally:
        lora.unload_loras(wan)
    assert np.array_equal(render(wan), base)
    assert_bitwise(wan.transformer, before)


def test_wans_own_key_names_load_as_the_same_lora_as_diffusers_converts_them(wan, wan_dir, wan_at_one, tmp_path):
    """The LoRA under Wan's own names (self_attn.q, cross_attn.o; lora_down/lora_up, lora_up halved with
    alpha = 2 × rank) and under musubi-tuner's flat ones: the same layers as the diffusers file."""
    from diffusers import WanPipeline
    from safetensors.torch import load_file, save_file

    own_names = {"attn1": "self_attn", "attn2": "cross_attn", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "o"}
    wan_own, musubi = {}, {}
    for key, tensor in load_file(wan_dir / lora.LORA_FILE).items():
        module, _, kind = key.removeprefix("transformer.").rpartition(".lora_")
        blocks, number, attention, layer = module.split(".", 3)
        module = f"{blocks}.{number}.{own_names[attention]}.{own_names[layer]}"
        for names, prefix, flat in ((wan_own, "diffusion_model.", module), (musubi, "lora_unet_", module.replace(".", "_"))):
            if kind == "A.weight":
                names[f"{prefix}{flat}.lora_down.weight"] = tensor
            else:
                names[f"{prefix}{flat}.lora_up.weight"] = tensor / 2  # alpha / rank = 8 / 4 = 2 brings it back
                names[f"{prefix}{flat}.alpha"] = torch.tensor(8.0)
    save_file(wan_own, tmp_path / "wan_own.safetensors")
    save_file(musubi, tmp_path / "musubi.safetensors")

    for name in ("wan_own", "musubi"):
        converted = lora.check_lora(lora.LoraSpec(str(tmp_path / f"{name}.safetensors")))
        assert (converted.architecture, converted.width, converted.layers, converted.diffusers_format) == (
            "wan", 24, 16, False)
        lora.load_loras(wan, [converted])
        try:
            assert np.array_equal(render(wan), wan_at_one), name
        finally:
            lora.unload_loras(wan)

    # diffusers' own conversion of Wan's names gives the same keys and the same low-rank products.
    ours = lora._converted(lora.check_lora(lora.LoraSpec(str(tmp_path / "wan_own.safetensors"))))
    theirs = WanPipeline.lora_state_dict(str(tmp_path / "wan_own.safetensors"))
    theirs = {key if key.startswith("transformer.") else f"transformer.{key}": value for key, value in theirs.items()}
    assert sorted(ours) == sorted(theirs)
    for key in (k for k in ours if k.endswith("lora_A.weight")):
        up = key.replace("lora_A", "lora_B")
        assert torch.allclose(ours[up] @ ours[key], theirs[up] @ theirs[key])


def test_wans_bias_and_norm_deltas_load_as_diffusers_loads_them(wan, base, tmp_path):
    """Wan's own format may carry bias deltas (".diff_b": diffusers' lora_B.bias) and norm deltas
    (".diff", zeros, which diffusers drops): our conversion and diffusers' own give the same video."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for block in range(2):
        for layer in "qkvo":
            key = f"diffusion_model.blocks.{block}.self_attn.{layer}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(4, 24, generator=generator)
            tensors[f"{key}.lora_B.weight"] = torch.randn(24, 4, generator=generator)
            tensors[f"{key}.diff_b"] = torch.randn(24, generator=generator)
        tensors[f"diffusion_model.blocks.{block}.norm3.diff"] = torch.zeros(24)
        tensors[f"diffusion_model.blocks.{block}.norm3.diff_b"] = torch.zeros(24)
    save_file(tensors, tmp_path / "deltas.safetensors")

    deltas = lora.check_lora(lora.LoraSpec(str(tmp_path / "deltas.safetensors")))
    assert (deltas.architecture, deltas.width, deltas.layers, deltas.diffusers_format) == ("wan", 24, 8, False)
    lora.load_loras(wan, [deltas])
    try:
        ours = render(wan)
    finally:
        lora.unload_loras(wan)
    theirs_pipe = tiny.build_wan_pipeline("t2v")
    theirs_pipe.set_progress_bar_config(disable=True)
    theirs_pipe.load_lora_weights(str(tmp_path / "deltas.safetensors"), adapter_name="deltas")
    assert np.abs(ours - base).max() > 1e-3 and np.array_equal(ours, render(theirs_pipe))


def test_the_one_model_takes_the_lora_once_for_text_and_image_to_video(wan_dir):
    engine = Engine("tiny-wan", loras=lora.parse_loras([f"{wan_dir}:0.8"]))
    engine.check_loras()
    t2v, i2v = engine.load("t2v"), engine.load("i2v")
    assert i2v.transformer is t2v.transformer and set(t2v.transformer.peft_config) == {"wan_style"}

    def frames(scale: float) -> np.ndarray:
        return engine.render(RenderJob(
            task="t2v", prompt="a cat walks in the park", negative_prompt="", image=None, num_frames=9,
            num_inference_steps=2, guidance_scale=5.0, seed=0, height=32, width=48,
            lora_scales={"wan_style": scale}))

    at_zero, at_one = frames(0.0), frames(1.0)
    assert not np.array_equal(at_zero, at_one)
    engine.unload_loras()
    assert np.array_equal(frames(0.0), at_zero)  # unloaded: the base model, as at scale 0


def test_a_cogvideox_lora_stops_a_tiny_wan_start(cogvideox_dir):
    engine = Engine("tiny-wan", loras=lora.parse_loras([str(cogvideox_dir)]))
    with pytest.raises(lora.InvalidRequest) as exc:
        engine.check_loras()  # at start-up, before any pipeline loads
    bilingual(exc, "is a LoRA for tiny (width 32)", "tiny-wan / tiny-wan-i2v (width 24)")
    assert not engine.status().loaded


# ---------------------------------------------------------------- which model a LoRA fits


def test_a_tiny_wan_lora_is_refused_on_cogvideox_naming_both_sizes(wan_dir):
    style = lora.check_lora(lora.LoraSpec(str(wan_dir)))
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.check_fits(style, COGVIDEOX)
    bilingual(exc, "is a LoRA for tiny-wan / tiny-wan-i2v (width 24)",
              "the loaded model is tiny (width 32) and tiny-i2v (width 64)",
              "A Wan LoRA adapts layers a CogVideoX transformer does not have", "--model tiny-wan")
    assert "宽度 24" in exc.value.zh and "宽度 32" in exc.value.zh
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.check_fits(style, FIVE_B)
    bilingual(exc, "(width 24)", "the loaded model is CogVideoX-5B (width 3072)")


def test_a_cogvideox_lora_is_refused_on_wan_naming_both_sizes(wan, cogvideox_dir, tmp_path):
    cog = lora.check_lora(lora.LoraSpec(str(cogvideox_dir)))
    assert (cog.architecture, cog.width) == ("cogvideox", 32)
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.check_fits(cog, WAN)
    bilingual(exc, "is a LoRA for tiny (width 32)", "the loaded model is tiny-wan / tiny-wan-i2v (width 24)",
              "A CogVideoX LoRA adapts layers a Wan transformer does not have", "--model tiny")
    # Loaded straight into a Wan pipeline (past the start-up check): refused, nothing left behind.
    before = snapshot(wan.transformer)
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.load_loras(wan, [cog])
    bilingual(exc, "(width 32)", "the loaded model is tiny-wan / tiny-wan-i2v (width 24)")
    assert_bitwise(wan.transformer, before)

    # CogVideoX-5B and Wan2.2-TI2V-5B are both 3072 wide: the layer names tell them apart.
    five_b = lora.check_lora(lora.LoraSpec(str(write_lora_shapes(tmp_path / "cog5b.safetensors", 3072))))
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.check_fits(five_b, WAN_5B)
    assert bilingual(exc) == (
        "cog5b.safetensors is a LoRA for CogVideoX-5B / CogVideoX1.5-5B (width 3072); the loaded model is "
        "Wan2.2-TI2V-5B (width 3072). A CogVideoX LoRA adapts layers a Wan transformer does not have. "
        "Use a LoRA made for Wan2.2-TI2V-5B, or start with --model 5b."
    )


def test_full_size_wan_loras_fit_by_width(tmp_path):
    wan_5b = lora.check_lora(lora.LoraSpec(str(write_wan_shapes(tmp_path / "w5.safetensors", 3072, blocks=30))))
    wan_1_3b = lora.check_lora(lora.LoraSpec(str(write_wan_shapes(tmp_path / "w1.safetensors", 1536, blocks=30))))
    assert (wan_5b.architecture, wan_5b.width, wan_5b.blocks) == ("wan", 3072, 30)
    assert lora.check_fits(wan_5b, WAN_5B) == ["t2v", "i2v"]
    assert lora.check_fits(wan_1_3b, [models.VARIANTS["wan2.1-1.3b"]]) == ["t2v"]
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.check_fits(wan_1_3b, WAN_5B)
    assert bilingual(exc) == (
        "w1.safetensors is a LoRA for Wan2.1-1.3B (width 1536); the loaded model is Wan2.2-TI2V-5B (width 3072). "
        "Use a LoRA made for Wan2.2-TI2V-5B, or start with --model wan2.1-1.3b."
    )
    with pytest.raises(lora.InvalidRequest) as exc:  # same width as CogVideoX-5B, another family
        lora.check_fits(wan_5b, FIVE_B)
    bilingual(exc, "is a LoRA for Wan2.2-TI2V-5B (width 3072)", "the loaded model is CogVideoX-5B (width 3072)",
              "--model wan2.2-5b")
    assert "Wan2.2-TI2V-5B（宽度 3072）" in exc.value.zh and "CogVideoX-5B（宽度 3072）" in exc.value.zh


def test_a_local_wan_folder_gives_its_width_from_its_config(wan, tmp_path):
    import json

    wan.transformer.save_config(tmp_path / "model" / "transformer")
    (tmp_path / "model" / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    variant = models.resolve(str(tmp_path / "model"))
    assert variant.architecture == "wan" and lora.model_width(variant) == 24
    fits = lora.check_lora(lora.LoraSpec(str(write_wan_shapes(tmp_path / "w.safetensors", 24))))
    assert lora.check_fits(fits, [variant]) == ["t2v"]


def test_a_full_wan_checkpoint_is_not_a_lora(wan, tmp_path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in wan.transformer.state_dict().items()}, tmp_path / "full.safetensors")
    with pytest.raises(lora.InvalidRequest) as exc:
        lora.check_lora(lora.LoraSpec(str(tmp_path / "full.safetensors")))
    bilingual(exc, "is a full model checkpoint", "transformer.blocks.0.attn1.to_q.lora_A.weight")
