"""The full-size Wan models as their authors publish them: the configs of the Hub's `-Diffusers` repos,
as data, so the benchmark can build the real architectures with random weights (a lent GPU has no
internet, and speed and memory do not depend on weight values) and the tests can check that our
`models.Variant`s agree with them.

Each dict is the architecture part of a config.json on the Hub (its file named beside it); the
diffusers conversion script (`scripts/convert_wan_to_diffusers.py`, which wrote those repos) holds
the same values. Keys that only name the class or the diffusers version are left out.

    from cogvideo.engine.published import build_components, wan_configs
    import torch
    with torch.device("meta"):               # no memory; `bench/gpu.py` materializes them on the GPU
        parts = build_components(wan_configs()["wan2.2-5b"])
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers and Wan-AI/Wan2.2-TI2V-5B-Diffusers, text_encoder/config.json:
# umT5-XXL's encoder (google/umt5-xxl), shared by every Wan model; 5.7B parameters.
UMT5_XXL = {
    "vocab_size": 256384, "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64,
    "feed_forward_proj": "gated-gelu", "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128, "layer_norm_epsilon": 1e-6, "tie_word_embeddings": False,
}

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers, transformer/config.json.
WAN21_T2V_1_3B_TRANSFORMER = {
    "patch_size": [1, 2, 2], "num_attention_heads": 12, "attention_head_dim": 128, "in_channels": 16,
    "out_channels": 16, "text_dim": 4096, "freq_dim": 256, "ffn_dim": 8960, "num_layers": 30,
    "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "image_dim": None,
    "added_kv_proj_dim": None,
}

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers, vae/config.json: the Wan2.1 VAE (×8 in space, ×4 in time, 16
# latent channels). Its latents_mean/latents_std are the 16 values diffusers' AutoencoderKLWan has
# as defaults, so they are not repeated here.
WAN21_VAE = {
    "base_dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [],
    "temperal_downsample": [False, True, True], "dropout": 0.0,
}

# Wan-AI/Wan2.2-TI2V-5B-Diffusers, transformer/config.json: text and image to video in one model; the
# picture enters as the first latent frame (48 channels: the Wan2.2 VAE's latents), no CLIP encoder.
WAN22_TI2V_5B_TRANSFORMER = {
    **WAN21_T2V_1_3B_TRANSFORMER,
    "num_attention_heads": 24, "in_channels": 48, "out_channels": 48, "ffn_dim": 14336,
}

# Wan-AI/Wan2.2-TI2V-5B-Diffusers, vae/config.json: the Wan2.2 VAE, ×16 in space (a 2×2 patchify
# around a ×8 residual VAE), ×4 in time, 48 latent channels. Its `clip_output` key is a decoding
# switch that diffusers 0.42 does not take, and no part of the architecture.
WAN22_VAE = {
    "base_dim": 160, "decoder_base_dim": 256, "z_dim": 48, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
    "attn_scales": [], "temperal_downsample": [False, True, True], "dropout": 0.0, "is_residual": True,
    "in_channels": 12, "out_channels": 12, "patch_size": 2, "scale_factor_temporal": 4, "scale_factor_spatial": 16,
    # The per-channel statistics the pipelines normalize latents with (their length must be z_dim).
    "latents_mean": [
        -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
        0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
        -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
        -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
    ],
    "latents_std": [
        0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
        0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
        0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
        0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
    ],
}


def _unipc(flow_shift: float) -> dict:
    """scheduler/scheduler_config.json of both repos: UniPC on flow-matching sigmas; the shift differs
    by size (the Engine sets `Variant.flow_shift` whatever a saved config holds)."""
    return {"prediction_type": "flow_prediction", "use_flow_sigmas": True, "num_train_timesteps": 1000,
            "flow_shift": flow_shift}


@dataclass(frozen=True)
class PublishedWan:
    """One Wan checkpoint's published architecture: what `build_components` builds."""

    variant: str  # our `models.VARIANTS` name
    repo_id: str  # where the configs come from
    transformer: dict
    vae: dict
    scheduler: dict
    text_encoder: dict = field(default_factory=lambda: dict(UMT5_XXL))
    # model_index.json's own settings: Wan2.2-TI2V holds the first frame's timestep at 0 per token.
    pipeline: dict = field(default_factory=dict)
    parameters_b: float = 0.0  # the transformer's size in billions, as the model's name rounds it


def wan_configs() -> dict[str, PublishedWan]:
    """The published Wan architectures by our variant name ("wan2.1-1.3b", "wan2.2-5b"; the I2V
    variant "wan2.2-5b-i2v" is the same model). Fresh dicts on each call: callers may change them."""
    return {
        "wan2.1-1.3b": PublishedWan(
            variant="wan2.1-1.3b", repo_id="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            transformer=dict(WAN21_T2V_1_3B_TRANSFORMER), vae=dict(WAN21_VAE), scheduler=_unipc(3.0),
            parameters_b=1.3,
        ),
        "wan2.2-5b": PublishedWan(
            variant="wan2.2-5b", repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            transformer=dict(WAN22_TI2V_5B_TRANSFORMER), vae=dict(WAN22_VAE), scheduler=_unipc(5.0),
            pipeline={"expand_timesteps": True}, parameters_b=5.0,
        ),
    }


def build_components(published: PublishedWan) -> dict:
    """The transformer, VAE, text encoder and scheduler of `published`, with diffusers' and
    transformers' own random initialisation, on the current default device: wrap the call in
    `with torch.device("meta"):` to build them without memory (then `to_empty` and fill them, as
    `bench/gpu.py`'s `random_init` does). The tokenizer is not built: umT5's needs its files; any
    tokenizer whose ids stay below 256,384 will do for timing."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    # The scheduler's sigma tables are read back on the CPU as it is made: never on the meta device.
    with torch.device("cpu"):
        scheduler = UniPCMultistepScheduler(**published.scheduler)
    return {
        "transformer": WanTransformer3DModel.from_config(published.transformer),
        "vae": AutoencoderKLWan.from_config(published.vae),
        "text_encoder": UMT5EncoderModel(UMT5Config(**published.text_encoder)),
        "scheduler": scheduler,
    }
