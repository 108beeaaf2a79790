"""Model families as data: what the engine must know to run CogVideoX or Wan the way its authors do.

A family is the architecture behind several checkpoints (`models.Variant.architecture` names it):
its diffusers pipeline class per task, whether its text encoder reads Chinese and the tokenizer
that counts a prompt, the negative prompt its authors publish, the VAE's precision, and the speed
presets that have published evidence on it (schedulers, frame rules and sizes are per checkpoint,
in `models.Variant`). `render.Engine` asks the family instead of naming classes, so
a new family is one entry here plus its variants in `models.py`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

# Wan's published default negative prompt (Wan2.1 and Wan2.2 `wan/configs/shared_config.py`,
# `sample_neg_prompt`), used when a request has none: the model was tuned with it in the
# unconditional half of guidance.
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)


@dataclass(frozen=True)
class Family:
    id: str  # "cogvideox" | "wan": the value of `Variant.architecture`
    name: str  # as people know it
    pipelines: dict[str, str]  # task ("t2v", "i2v", "v2v") -> diffusers pipeline class name
    transformer: str  # diffusers class of its transformer
    reads_chinese: bool  # whether its text encoder (T5-XXL, umT5-XXL) reads Chinese: no translation
    tokenizer: str  # transformers class that counts a prompt's tokens as the pipeline does
    # Speed presets with published evidence on this family; the others are not offered.
    speeds: tuple[str, ...]
    negative_prompt: str = ""  # the authors' default negative prompt, used when a request has none
    # Extra pipeline arguments for image-to-video built from a text-to-video pipeline's components
    # when one model does both (`Variant.one_model`; Wan2.2-TI2V: the first frame's timestep is
    # held at 0, as its T2V pipeline's saved config says).
    shared_i2v_config: tuple[tuple[str, object], ...] = ()
    # The VAE's dtype when it differs from the model's (None: the model's). Wan's authors run their
    # VAE in float32 (Wan2.1/2.2 `wan/modules/vae*.py`), as diffusers' Wan examples load it.
    vae_dtype: str | None = None

    def pipeline_class(self, task: str):
        import diffusers

        if task not in self.pipelines:
            raise KeyError(task)
        return getattr(diffusers, self.pipelines[task])

    def transformer_class(self):
        import diffusers

        return getattr(diffusers, self.transformer)

    def build(self, task: str, components: dict, **config):
        """A pipeline of `task` from components (a pipeline's `.components`): those its class does
        not take (a text-to-video pipeline's `transformer_2`) are left out."""
        cls = self.pipeline_class(task)
        accepted = inspect.signature(cls.__init__).parameters
        pipe = cls(**{name: value for name, value in {**components, **config}.items() if name in accepted})
        _spatial_scale_from_vae(pipe)
        return pipe


FAMILIES: dict[str, Family] = {
    f.id: f
    for f in (
        Family(
            id="cogvideox", name="CogVideoX",
            pipelines={"t2v": "CogVideoXPipeline", "i2v": "CogVideoXImageToVideoPipeline",
                       "v2v": "CogVideoXVideoToVideoPipeline"},
            transformer="CogVideoXTransformer3DModel",
            reads_chinese=False, tokenizer="T5Tokenizer",
            speeds=("quality", "balanced", "fast", "lean"),
        ),
        Family(
            id="wan", name="Wan",
            pipelines={"t2v": "WanPipeline", "i2v": "WanImageToVideoPipeline", "v2v": "WanVideoToVideoPipeline"},
            transformer="WanTransformer3DModel",
            # umT5 is multilingual, and Wan's authors prompt it in Chinese and English alike.
            reads_chinese=True, tokenizer="AutoTokenizer",
            # The caching presets' published settings are CogVideoX's (docs/speed.md); none is
            # checked on Wan yet, so only Quality is offered.
            speeds=("quality",),
            negative_prompt=WAN_NEGATIVE_PROMPT,
            shared_i2v_config=(("expand_timesteps", True),),
            vae_dtype="float32",
        ),
    )
}


def _spatial_scale_from_vae(pipe) -> None:
    """Size latents by the VAE's own spatial compression where its config states one.

    diffusers 0.42's WanVideoToVideoPipeline counts it from the VAE's downsampling stages (×8), as
    for Wan2.1's VAE; Wan2.2's VAE packs 2×2 pixels first (`scale_factor_spatial` 16), so restyling
    on Wan2.2-TI2V-5B made noise half the size of the clip's latents and failed. A VAE without the
    key (CogVideoX's) leaves the pipeline as built.
    """
    stated = getattr(getattr(pipe, "vae", None), "config", {}).get("scale_factor_spatial")
    if stated is None or getattr(pipe, "vae_scale_factor_spatial", stated) == stated:
        return
    from diffusers.video_processor import VideoProcessor

    pipe.vae_scale_factor_spatial = stated
    pipe.video_processor = VideoProcessor(vae_scale_factor=stated)


def family_of(variant) -> Family:
    return FAMILIES[variant.architecture]
