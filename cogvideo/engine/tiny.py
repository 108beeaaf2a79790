"""Tiny CogVideoX and Wan pipelines: the real diffusers classes at toy size with seeded random weights.

Built from configs in a fraction of a second with no files and no network. Tests use them, and
`--model tiny` (or `tiny-wan`) lets a person try the UI without a GPU (the video is coloured noise).
Dimensions follow diffusers' own CogVideoX and Wan tests; see DESIGN.md for the constraints.
"""

from __future__ import annotations

import logging
import os
import time

import torch

SEED = 0
# Seconds each denoising step of a tiny model takes at least (default 0: as fast as the CPU goes).
# A tiny render ends in seconds; a try-out of the queue, or a test that reloads a page mid-job,
# needs one that lasts like a GPU's.
STEP_S_ENV = "STUDIO_TINY_STEP_S"

# A small Unigram vocabulary so real prompts tokenize into word pieces: special tokens, the
# word-boundary marker, common prompt words, then single characters as a fallback.
_WORDS = (
    "a an the of and in on with at to from by is are camera pans slowly close up wide shot "
    "light sunlight golden hour soft warm cold blue red green white black night day sky sea "
    "water river lake mountain forest city street rain snow wind cat dog bird boy girl man "
    "woman child old young walks runs sits smiles looks holds cup coffee tea park bench "
    "flower tree field cinematic style detailed realistic film photo video motion gentle "
    "bright dark shadow reflection sunset sunrise cloud clouds grass road car train boat"
).split()
_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()"
# Wan's umT5 reads Chinese: the tiny Wan's vocabulary has common characters of prompts, so a Chinese
# prompt is counted and encoded as characters, not as unknown tokens.
_CHINESE = "的一是在有人这中大来上个们到说时地出要会子也着下你小过天后年看好光水风山雨雪花树鸟猫狗城街海河云夜日月" \
           "女男孩老走跑飞坐笑慢镜头近远景电影温暖金色黄昏清晨阳柔和静美丽古代现代画面，。、"


def build_tokenizer(chinese: bool = False):
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [("▁" + word, -5.0) for word in dict.fromkeys(_WORDS)]
    vocab += [(char, -8.0) for char in _CHARS + (_CHINESE if chinese else "")]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _text_encoder(vocab_size: int, umt5: bool = False):
    """A tiny T5 encoder (CogVideoX), or umT5 (Wan: T5's architecture, per-layer position biases)."""
    import transformers

    torch.manual_seed(SEED)
    prefix = "UMT5" if umt5 else "T5"
    config = getattr(transformers, f"{prefix}Config")(
        vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8,
    )
    return getattr(transformers, f"{prefix}EncoderModel")(config).eval()


def _vae():
    from diffusers import AutoencoderKLCogVideoX

    torch.manual_seed(SEED)
    return AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1,
        norm_num_groups=2, temporal_compression_ratio=4,
    ).eval()


def _transformer(task: str):
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(SEED + (1 if task == "i2v" else 0))
    common = dict(
        num_attention_heads=4, out_channels=4, time_embed_dim=2, text_embed_dim=32,
        num_layers=2, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=226,
    )
    if task == "i2v":
        # 3D RoPE needs a head dim that splits into t/h/w parts; noise + image latents = 8 channels.
        return CogVideoXTransformer3DModel(
            attention_head_dim=16, in_channels=8, use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=False, **common,
        ).eval()
    return CogVideoXTransformer3DModel(attention_head_dim=8, in_channels=4, **common).eval()


def _scheduler():
    from diffusers import CogVideoXDDIMScheduler

    return CogVideoXDDIMScheduler()


def shared_components() -> dict:
    """Tokenizer, text encoder, VAE and scheduler: what the T2V and I2V pipelines share."""
    tokenizer = build_tokenizer()
    return {
        "tokenizer": tokenizer,
        "text_encoder": _text_encoder(len(tokenizer)),
        "vae": _vae(),
        "scheduler": _scheduler(),
    }


def _step_seconds() -> float:
    value = os.environ.get(STEP_S_ENV, "").strip()
    try:
        return max(float(value or 0), 0.0)
    except ValueError:
        logging.getLogger("cogvideo").warning("%s=%r is not a number of seconds; the tiny model runs at full speed",
                                              STEP_S_ENV, value)
        return 0.0


def build_pipeline(task: str = "t2v", shared: dict | None = None):
    """A tiny pipeline for `task`; pass `shared` to reuse another pipeline's components."""
    from diffusers import CogVideoXImageToVideoPipeline, CogVideoXPipeline

    components = dict(shared) if shared is not None else shared_components()
    cls = CogVideoXImageToVideoPipeline if task == "i2v" else CogVideoXPipeline
    transformer = _transformer(task)
    step_s = _step_seconds()
    if step_s > 0:
        # One transformer call per step (guidance batches both halves into it).
        transformer.register_forward_pre_hook(lambda module, args: time.sleep(step_s))
    return cls(transformer=transformer, **components)


# ---------------------------------------------------------------- Wan


def _wan_vae():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(SEED)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]).eval()


def _wan_transformer():
    from diffusers import WanTransformer3DModel

    torch.manual_seed(SEED)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    ).eval()


def _wan_scheduler(flow_shift: float = 3.0):
    from diffusers import UniPCMultistepScheduler

    # As the Wan -Diffusers repos configure it: UniPC on flow-matching sigmas.
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                   num_train_timesteps=1000, flow_shift=flow_shift)


def build_wan_pipeline(task: str = "t2v", donor=None):
    """A tiny Wan for `task`, made like Wan2.2-TI2V: one transformer does text and image to video
    (pass the other task's pipeline as `donor` to share all of it)."""
    from diffusers import WanImageToVideoPipeline, WanPipeline

    if donor is not None:
        components = {name: getattr(donor, name) for name in ("tokenizer", "text_encoder", "vae", "scheduler",
                                                                 "transformer")}
    else:
        tokenizer = build_tokenizer(chinese=True)
        components = {"tokenizer": tokenizer, "text_encoder": _text_encoder(len(tokenizer), umt5=True), "vae": _wan_vae(),
                      "scheduler": _wan_scheduler(), "transformer": _wan_transformer()}
        step_s = _step_seconds()
        if step_s > 0:
            # Wan runs the two halves of guidance as two transformer calls per step.
            components["transformer"].register_forward_pre_hook(lambda module, args: time.sleep(step_s / 2))
    cls = WanImageToVideoPipeline if task == "i2v" else WanPipeline
    return cls(**components, expand_timesteps=True)
