"""Wan through the studio: the tiny Wan (the real diffusers Wan classes at toy size) in every mode, end
to end to real MP4s; the full-size published configs on the meta device against our variants; a
saved tiny Wan folder; and each bad input refused in both languages."""

from __future__ import annotations

import dataclasses
import json

import pytest
from PIL import Image, ImageOps

from cogvideo.engine import models
from cogvideo.engine.families import WAN_NEGATIVE_PROMPT
from cogvideo.engine.render import Engine, RenderJob
from cogvideo.errors import InvalidRequest
from cogvideo.media import codec
from cogvideo.media.colorize import Colorizer
from cogvideo.request import VideoRequest
from cogvideo.studio import Studio, restyle_frame_counts
from tests.conftest import make_photo
from tests.test_creative import make_clip

# tiny-wan: 144×96 at 16 fps, 9 frames by default and 4N+1 up to 33 (latent frames: (9 - 1) / 4 + 1 = 3).
WIDTH, HEIGHT, FPS, FRAMES = 144, 96, 16, 9
CHINESE_PROMPT = "一只猫在公园里慢慢走，金色阳光"


def request(**kwargs) -> VideoRequest:
    values = dict(prompt="a cat walks in the park", num_inference_steps=2, seed=5)
    values.update(kwargs)
    return VideoRequest(**values)


class TintColorizer(Colorizer):
    """The real colorizer with DDColor itself (tested in test_colorize.py) replaced by a tint."""

    def __init__(self):
        super().__init__(weights="no-such-file.pth")  # never loaded: `colorize` is replaced

    def colorize(self, image):
        return ImageOps.colorize(image.convert("L"), black=(40, 10, 0), white=(255, 230, 160))


@pytest.fixture(scope="module")
def wan_engine():
    return Engine("tiny-wan")


@pytest.fixture()
def wan(wan_engine, tmp_path):
    return Studio(wan_engine, tmp_path / "outputs", colorizer=TintColorizer())


def frame_count(path) -> int:
    return codec.read_frames(path).shape[0]


# ---------------------------------------------------------------- every mode on the tiny Wan

def test_text_to_video_makes_4n_plus_1_frames_at_16_fps_with_the_authors_negative_prompt(wan):
    # 13 = 4·3 + 1: a count Wan takes and CogVideoX (8N+1) does not.
    result = wan.generate(request(num_frames=13))
    info = codec.probe(result.path)
    assert (info.width, info.height, info.fps, info.video_codec) == (WIDTH, HEIGHT, 16.0, "h264")
    assert frame_count(result.path) == 13 and result.num_frames == 13
    assert result.model == "tiny-wan" and result.info()["model"] == "tiny-wan"
    assert result.negative_prompt == WAN_NEGATIVE_PROMPT


def test_a_negative_prompt_of_the_users_own_replaces_the_authors(wan):
    result = wan.generate(request(negative_prompt="模糊，字幕"))
    assert result.negative_prompt == "模糊，字幕"


def test_guidance_is_the_models_own_unless_the_request_names_one(wan, monkeypatch):
    # Wan2.2-5B's authors run guidance 5.0 (tiny-wan does as it does), CogVideoX 6.0.
    rendered = []
    render = wan.engine.render
    monkeypatch.setattr(wan.engine, "render", lambda job, **kw: rendered.append(job.guidance_scale) or render(job, **kw))
    assert models.VARIANTS["wan2.2-5b"].guidance_scale == 5.0 and models.VARIANTS["5b"].guidance_scale == 6.0
    assert wan.default_guidance == 5.0
    result = wan.generate(request())
    assert rendered == [5.0] and result.info()["guidance_scale"] == 5.0
    result = wan.generate(request(guidance_scale=7.5))
    assert rendered == [5.0, 7.5] and result.info()["guidance_scale"] == 7.5


def test_a_chinese_prompt_goes_in_as_it_is_and_is_counted_in_characters(wan):
    assert wan.reads_chinese and wan.family_name == "Wan"
    result = wan.generate(request(prompt=CHINESE_PROMPT))
    assert result.prompt == CHINESE_PROMPT  # no translation, no rewriting
    tokenizer = wan.engine.load("t2v").tokenizer
    ids = tokenizer(CHINESE_PROMPT).input_ids
    unknown = sum(1 for i in ids if i == tokenizer.unk_token_id)
    assert result.prompt_tokens == len(ids) and unknown < len(ids) // 3
    assert {"猫", "走", "阳"} <= set(tokenizer.convert_ids_to_tokens(ids))  # read as characters


def test_image_to_video_runs_on_the_one_transformer(wan):
    result = wan.generate(request(mode="i2v", image=make_photo(300, 200)))
    assert codec.read_frames(result.path).shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert result.model == "tiny-wan-i2v" and codec.probe(result.path).fps == 16.0
    t2v, i2v = wan.engine.load("t2v"), wan.engine.load("i2v")
    assert type(i2v).__name__ == "WanImageToVideoPipeline" and i2v.transformer is t2v.transformer


def test_old_photo_is_colorized_then_animated(wan):
    gray = make_photo(300, 200).convert("L").convert("RGB")
    result = wan.generate(request(mode="old_photo", image=gray, prompt=""))
    assert result.colorized_image.exists() and result.model == "tiny-wan-i2v"
    assert "old photograph comes to life" in result.prompt
    assert frame_count(result.path) == FRAMES


def test_restyle_runs_wans_video_to_video_pipeline_on_a_4n_plus_1_count(wan, tmp_path):
    # A 33-frame clip at 16 fps (2.1 s); 13 frames asked: the first 13 are restyled, in 0.8 s.
    clip = make_clip(tmp_path / "clip.mp4", frames=33, fps=FPS)
    events = []
    result = wan.generate(request(mode="v2v", video=clip, num_frames=13, strength=0.5, num_inference_steps=4),
                          progress=events.append)
    assert codec.read_frames(result.path).shape == (13, HEIGHT, WIDTH, 3)
    assert type(wan.engine.load("v2v")).__name__ == "WanVideoToVideoPipeline"
    assert result.model == "tiny-wan" and result.strength == 0.5
    # strength 0.5 of 4 steps: the last 2 of the schedule run.
    assert {e.text.en for e in events if e.stage == "render"} == {"Denoising step 1/2", "Denoising step 2/2"}
    assert any("first 0.8 s of the 2.1 s clip" in n.en and "前 0.8 秒" in n.zh for n in result.notices)


def test_extend_joins_4n_plus_1_parts_without_the_duplicated_frames(wan, tmp_path):
    # The clip (17 frames) and two parts of 9: 17 + 9 + 9 - 2 joins = 33 frames, all at 16 fps.
    clip = make_clip(tmp_path / "clip.mp4", frames=17, fps=FPS)
    result = wan.generate(request(mode="extend", video=clip, extensions=2, prompt="the camera keeps moving"))
    assert frame_count(result.path) == 33 and result.info()["parts"] == [17, FRAMES, FRAMES]
    assert result.model == "tiny-wan-i2v" and codec.probe(result.path).fps == 16.0


def test_a_style_with_built_in_music_and_its_gif(wan):
    result = wan.generate(request(style="anime", music="calm"))
    assert result.prompt != "a cat walks in the park" and "a cat walks in the park" in result.prompt
    # The style's negative prompt, not the authors': theirs refuses "风格，画作" (style, painting).
    assert result.negative_prompt == wan.styles["anime"].negative_prompt != WAN_NEGATIVE_PROMPT
    info = codec.probe(result.path)
    assert info.audio_codec == "aac" and result.music == "calm"
    gif = wan.export_gif(result.path, width=480)
    with Image.open(gif.path) as picture:
        assert picture.n_frames > 1 and picture.size == (WIDTH, HEIGHT)  # never wider than the video
    assert gif.fps <= FPS


def test_an_image_to_video_template_fills_a_chinese_subject(wan):
    from cogvideo.catalogues.templates import fill_template, load_templates

    meme = load_templates(styles=wan.styles)["meme"]
    variant = wan.variant("i2v")
    # As the page applies a template: its seconds at the model's rate, a count the model takes.
    frames = meme.frames_for(variant)
    result = wan.generate(request(
        mode="i2v", image=make_photo(200, 300), prompt=fill_template(meme, "我家的橘猫"), style=meme.style,
        music=meme.music, num_frames=frames, guidance_scale=meme.guidance_scale,
    ))
    assert (frames - 1) % 4 == 0 and frame_count(result.path) == frames
    assert "我家的橘猫" in result.prompt and result.music == meme.music


def test_upscale_and_interpolate(wan):
    result = wan.generate(request(upscale=True, interpolate=True))
    info = codec.probe(result.path)
    assert (info.width, info.height, info.fps) == (2 * WIDTH, 2 * HEIGHT, 2.0 * FPS)
    assert info.duration == pytest.approx(FRAMES / FPS, abs=0.07)
    if wan.engine.device.type == "cpu":
        assert result.upscale_method == "lanczos"  # Real-ESRGAN runs on a GPU only


# ---------------------------------------------------------------- restyle counts and Wan2.2's VAE

def test_restyle_takes_every_4n_plus_1_count_on_wan_and_cogvideox_keeps_its_own():
    assert restyle_frame_counts(models.VARIANTS["wan2.1-1.3b"]) == list(range(5, 82, 4))
    assert restyle_frame_counts(models.VARIANTS["wan2.2-5b"]) == list(range(5, 122, 4))
    assert restyle_frame_counts(models.VARIANTS["5b"]) == [9, 17, 25, 33, 41, 49]
    assert restyle_frame_counts(models.VARIANTS["1.5-5b"])[:3] == [13, 29, 45]  # 16N-3: pairs of latents
    # A saved CogVideoX1.5 folder is a family of its own name, and the same model.
    saved = dataclasses.replace(models.VARIANTS["1.5-5b"], name="/models/my-1.5", family="local:/models/my-1.5")
    assert restyle_frame_counts(saved)[:3] == [13, 29, 45]


def tiny_wan22_pipeline():
    """A tiny Wan with a Wan2.2-style VAE: 2×2 pixels packed before a ×8 residual VAE (×16 in all)."""
    import torch
    from diffusers import AutoencoderKLWan, WanPipeline, WanTransformer3DModel

    from cogvideo.engine import tiny

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, decoder_base_dim=8, z_dim=12, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], is_residual=True, in_channels=12,
                           out_channels=12, patch_size=2, scale_factor_temporal=4, scale_factor_spatial=16,
                           latents_mean=[0.0] * 12, latents_std=[1.0] * 12).eval()
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=12, out_channels=12,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    ).eval()
    tokenizer = tiny.build_tokenizer(chinese=True)
    return WanPipeline(tokenizer=tokenizer, text_encoder=tiny._text_encoder(len(tokenizer), umt5=True), vae=vae,
                       transformer=transformer, scheduler=tiny._wan_scheduler(5.0), expand_timesteps=True)


def test_restyle_on_a_wan22_vae_sizes_latents_by_its_16x_compression(tmp_path):
    # diffusers' WanVideoToVideoPipeline counts ×8 from the VAE's stages: the noise was 12×16 latents
    # where the clip gave 6×8, and the render failed (latents: 96 / 16 = 6, 128 / 16 = 8).
    engine = Engine("tiny-wan")
    engine.adopt("t2v", tiny_wan22_pipeline())
    clip = [Image.fromarray(frame) for frame in codec.read_frames(make_clip(tmp_path / "clip.mp4", 9, 128, 96, FPS))]
    frames = engine.render(RenderJob(task="v2v", prompt="a watercolor street", negative_prompt="", image=None,
                                     num_frames=9, num_inference_steps=4, guidance_scale=5.0, seed=1, height=96,
                                     width=128, video=clip, strength=0.5))
    assert frames.shape == (9, 96, 128, 3)


# ---------------------------------------------------------------- the published full-size configs

@pytest.fixture(scope="module")
def full_size():
    """The published Wan architectures built on the meta device: shapes only, no memory, no download."""
    import torch

    from cogvideo.engine.published import build_components, wan_configs

    with torch.device("meta"):
        return {name: build_components(published) for name, published in wan_configs().items()}


def parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_full_size_transformers_have_their_published_sizes(full_size):
    from cogvideo.engine.published import wan_configs

    for name, published in wan_configs().items():
        transformer = full_size[name]["transformer"]
        assert next(transformer.parameters()).device.type == "meta"
        # "1.3B" and "5B" are the authors' rounded names (1.42B and 5.00B counted).
        assert parameters(transformer) / 1e9 == pytest.approx(published.parameters_b, rel=0.1), name
    # umT5-XXL's encoder in bf16: the 11.4 GB models.py counts for the text encoder.
    assert round(parameters(full_size["wan2.1-1.3b"]["text_encoder"]) * 2 / 1e9, 1) == 11.4


@pytest.mark.parametrize("name", ["wan2.1-1.3b", "wan2.2-5b", "wan2.2-5b-i2v"])
def test_our_variants_agree_with_the_published_configs(full_size, name):
    variant = models.VARIANTS[name]
    parts = full_size[name.removesuffix("-i2v")]
    transformer, vae, scheduler = parts["transformer"].config, parts["vae"].config, parts["scheduler"].config
    assert vae.scale_factor_spatial == variant.vae_spatial and vae.scale_factor_temporal == variant.frame_step
    assert transformer.in_channels == vae.z_dim == len(vae.latents_mean)
    assert scheduler.flow_shift == variant.flow_shift and variant.max_tokens == 512
    # Sizes the latent grid divides: VAE compression × the transformer's 2×2 patches.
    step = variant.vae_spatial * transformer.patch_size[1]
    assert all(size.height % step == 0 and size.width % step == 0 for size in variant.sizes), variant.sizes
    width = transformer.num_attention_heads * transformer.attention_head_dim
    # The facts the model cards state: hidden size, latent channels, pixels per latent side.
    published = {"wan2.1-1.3b": (1536, 16, 8), "wan2.2-5b": (3072, 48, 16), "wan2.2-5b-i2v": (3072, 48, 16)}
    assert (width, vae.z_dim, variant.vae_spatial) == published[name]


@pytest.mark.parametrize("name", ["wan2.1-1.3b", "wan2.2-5b", "wan2.2-5b-i2v"])
def test_a_folder_with_the_published_configs_is_recognised(tmp_path, name):
    from cogvideo.engine.published import wan_configs

    variant = models.VARIANTS[name]
    published = wan_configs()[name.removesuffix("-i2v")]
    (tmp_path / "transformer").mkdir()
    (tmp_path / "transformer" / "config.json").write_text(json.dumps(published.transformer))
    pipeline = "WanImageToVideoPipeline" if variant.task == "i2v" else "WanPipeline"
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": pipeline, **published.pipeline}))
    found = models.variant_from_folder(tmp_path)
    assert dataclasses.replace(found, name=name, repo_id=variant.repo_id, family=variant.family) == variant


# ---------------------------------------------------------------- a saved folder

def test_a_saved_tiny_wan_folder_resolves_to_wan_and_renders_both_tasks(tmp_path):
    from cogvideo.engine import tiny

    folder = tmp_path / "my-wan"
    tiny.build_wan_pipeline("t2v").save_pretrained(folder)
    engine = Engine(str(folder))
    variant = engine.variant("t2v")
    assert (variant.architecture, variant.frame_step, variant.fps) == ("wan", 4, 16)
    assert engine.family.name == "Wan"
    studio = Studio(engine, tmp_path / "outputs")
    result = studio.generate(request(prompt=CHINESE_PROMPT))
    assert codec.read_frames(result.path).shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert result.model == str(folder) and result.negative_prompt == WAN_NEGATIVE_PROMPT
    assert result.prompt_tokens is not None  # counted by the folder's own tokenizer
    # One model does text and image to video (as Wan2.2-TI2V): the folder serves both, one transformer.
    moving = studio.generate(request(mode="i2v", image=make_photo(300, 200)))
    assert codec.read_frames(moving.path).shape == (FRAMES, HEIGHT, WIDTH, 3) and moving.model == str(folder)
    assert engine.load("i2v").transformer is engine.load("t2v").transformer


def test_a_bf16_wan_runs_its_vae_in_float32_as_its_authors_do(tmp_path, monkeypatch):
    # The saved tiny Wan read as a bf16 model, as the published ones are.
    import torch

    from cogvideo.engine import tiny

    folder = tmp_path / "bf16-wan"
    tiny.build_wan_pipeline("t2v").save_pretrained(folder)
    monkeypatch.setitem(models.VARIANTS, "tiny-wan", dataclasses.replace(models.VARIANTS["tiny-wan"], dtype="bfloat16"))
    engine = Engine(str(folder))
    pipe = engine.load("t2v")
    assert (pipe.transformer.dtype, pipe.text_encoder.dtype, pipe.vae.dtype) == (torch.bfloat16, torch.bfloat16, torch.float32)
    frames = engine.render(RenderJob(task="t2v", prompt="a cat", negative_prompt="", image=None, num_frames=5,
                                     num_inference_steps=2, guidance_scale=5.0, seed=1, height=HEIGHT, width=WIDTH))
    assert frames.shape == (5, HEIGHT, WIDTH, 3)
    # A pipeline built elsewhere (the benchmark's) gets the same.
    adopted = tiny.build_wan_pipeline("t2v").to(torch.bfloat16)
    Engine("tiny-wan").adopt("t2v", adopted)
    assert adopted.vae.dtype == torch.float32 and adopted.transformer.dtype == torch.bfloat16


# ---------------------------------------------------------------- bad input

@pytest.fixture(scope="module")
def studios(tmp_path_factory):
    """Studios over models whose weights are not here: every check before a render needs none."""
    folder = tmp_path_factory.mktemp("bad-input")
    return {name: Studio(Engine(name), folder / name)
            for name in ("5b", "1.5-5b-i2v", "tiny", "wan2.1-1.3b", "tiny-wan")}


@pytest.mark.parametrize("model, kwargs, en, zh", [
    # A Wan-only size asked of CogVideoX, and a CogVideoX size asked of Wan.
    ("5b", dict(height=480, width=832), ["5b renders only at 720×480", "got 832×480"], ["5b 只支持", "832×480"]),
    ("1.5-5b-i2v", dict(mode="i2v", image=make_photo(96, 64), height=480, width=832),
     ["short side to be 768", "got 832×480"], ["短边为 768", "832×480"]),
    ("wan2.1-1.3b", dict(height=480, width=720),
     ["renders only at 832×480 (16:9), 480×832 (9:16)", "got 720×480"], ["wan2.1-1.3b 只支持", "720×480"]),
    # Frames that break 4N+1 on Wan, and 4N+1 that is not 8N+1 on CogVideoX.
    ("wan2.1-1.3b", dict(num_frames=10), ["num_frames=10 is not allowed", "(4N+1)", "nearest is 9"], ["帧数 10", "4N+1"]),
    ("wan2.1-1.3b", dict(num_frames=83), ["num_frames=83", "nearest is 81"], ["帧数 83", "81"]),
    ("tiny-wan", dict(num_frames=10), ["num_frames=10", "(4N+1)"], ["帧数 10"]),
    ("5b", dict(num_frames=13), ["num_frames=13 is not allowed", "(8N+1)"], ["帧数 13", "8N+1"]),
    ("tiny", dict(num_frames=13), ["num_frames=13 is not allowed", "(8N+1)"], ["帧数 13"]),
    # Image to video and the modes made of it on the text-only 1.3B model.
    ("wan2.1-1.3b", dict(mode="i2v", image=make_photo(96, 64)),
     ["cannot make image to video", "wan2.2-5b"], ["不支持图生视频", "wan2.2-5b"]),
    ("wan2.1-1.3b", dict(mode="extend", video="clip.mp4"), ["cannot extend a video", "last frame"], ["不支持视频续写"]),
    ("wan2.1-1.3b", dict(mode="old_photo", image=make_photo(96, 64)), ["cannot bring an old photo to life"],
     ["不支持老照片"]),
    # A speed preset without evidence on Wan.
    ("tiny-wan", dict(speed="fast"), ["Fast is not offered on Wan models", "Quality"], ["暂不支持 Wan 模型"]),
    ("wan2.1-1.3b", dict(speed="lean"), ["not offered on Wan models"], ["暂不支持 Wan 模型"]),
    # A model the studio does not serve.
    ("tiny-wan", dict(model="5b"), ["model='5b' is not served here", "runs tiny-wan"], ["本服务不提供模型", "tiny-wan"]),
    ("tiny", dict(model="tiny-wan"), ["model='tiny-wan' is not served here"], ["本服务不提供模型"]),
])
def test_bad_input_is_refused_in_both_languages(studios, model, kwargs, en, zh):
    with pytest.raises(InvalidRequest) as err:
        studios[model].validate(request(**kwargs))
    assert all(part in err.value.en for part in en), err.value.en
    assert all(part in err.value.zh for part in zh), err.value.zh


def test_image_to_video_on_the_text_only_model_is_refused_by_the_engine_too():
    with pytest.raises(InvalidRequest) as err:
        Engine("wan2.1-1.3b").variant("i2v")
    assert "cannot make image to video" in err.value.en and "不支持图生视频" in err.value.zh


def test_the_served_model_is_accepted_by_any_of_its_names(studios):
    studios["tiny-wan"].validate(request(model="tiny-wan"))
    studios["tiny-wan"].validate(request(model="TINY-WAN-I2V", mode="i2v", image=make_photo(96, 64)))


def test_an_empty_prompt_asks_for_english_only_where_the_model_reads_english_only(studios):
    with pytest.raises(InvalidRequest) as wan_err:
        studios["tiny-wan"].validate(request(prompt=""))
    with pytest.raises(InvalidRequest) as cog_err:
        studios["tiny"].validate(request(prompt=""))
    assert "prompt is empty" in wan_err.value.en and "English" not in wan_err.value.en
    assert "英文效果最佳" not in wan_err.value.zh and "中文或英文均可" in wan_err.value.zh
    assert "in English for best results" in cog_err.value.en and "英文效果最佳" in cog_err.value.zh


def test_out_of_memory_advice_names_the_smaller_model_of_the_same_family():
    from cogvideo.engine.render import _oom_error

    assert "wan2.1-1.3b" in _oom_error("sequential", models.VARIANTS["wan2.2-5b"]).en
    assert "wan2.1-1.3b 模型" in _oom_error("sequential", models.VARIANTS["wan2.2-5b-i2v"]).zh
    assert "2b model" in _oom_error("sequential", models.VARIANTS["5b"]).en
    smallest = _oom_error("sequential", models.VARIANTS["wan2.1-1.3b"])
    assert "model" not in smallest.en and "fewer frames" in smallest.en and "减少帧数" in smallest.zh


def test_a_default_speed_without_evidence_on_wan_stops_the_start():
    with pytest.raises(InvalidRequest) as err:
        Engine("tiny-wan", speed="balanced")
    assert "Balanced is not offered on Wan models" in err.value.en and "暂不支持 Wan 模型" in err.value.zh
    assert Engine("tiny", speed="balanced").fitting_speeds()[:2] == ["quality", "balanced"]


def test_a_clip_too_long_to_extend_at_wan22s_size_is_refused_at_submit(tmp_path):
    # Extending keeps the whole clip at 1280×704 and 24 fps (2.6 MiB a frame): 35 s is 841 frames,
    # 2.1 GB, over the 2 GiB a read may hold; 30 s (721 frames, 1.8 GB) goes in line.
    from cogvideo.errors import VideoError

    studio = Studio(Engine("wan2.2-5b"), tmp_path / "outputs")
    long, fits = (make_clip(tmp_path / f"{seconds}s.mp4", frames=2 * seconds, width=64, height=64, fps=2)
                  for seconds in (35, 30))
    with pytest.raises(VideoError) as err:
        studio.validate(request(mode="extend", video=long))
    assert "841 frames of 1280×704 at 24 fps" in err.value.en and "上限是 2 GB" in err.value.zh
    studio.validate(request(mode="extend", video=fits))


def test_an_attention_kernel_asked_for_leaves_wans_own_processors(tmp_path):
    # Our CogVideoX processor on a Wan transformer broke every render, even falling back to native
    # (it takes the text inside the sequence; Wan cross-attends to it).
    engine = Engine("tiny-wan", attention="flash")
    frames = engine.render(RenderJob(task="t2v", prompt="a cat", negative_prompt="", image=None, num_frames=5,
                                     num_inference_steps=2, guidance_scale=5.0, seed=1, height=HEIGHT, width=WIDTH))
    assert frames.shape == (5, HEIGHT, WIDTH, 3)
    processors = {type(p).__name__ for p in engine.load("t2v").transformer.attn_processors.values()}
    assert processors == {"WanAttnProcessor"}
    if engine.device.type == "cpu":
        assert engine.status().acceleration.attention == "native"  # flash attention needs an NVIDIA GPU


def test_compile_finds_wans_blocks():
    # CogVideoX keeps its blocks in `transformer_blocks`, Wan in `blocks`: --compile failed on Wan.
    from cogvideo.engine import acceleration, tiny

    transformer = tiny._wan_transformer()
    blocks = acceleration.repeated_blocks(transformer)
    assert blocks and blocks == list(transformer.blocks)
    cogvideox = tiny._transformer("t2v")
    assert acceleration.repeated_blocks(cogvideox) == list(cogvideox.transformer_blocks)
