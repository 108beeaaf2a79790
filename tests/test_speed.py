"""Speed presets and running the models as their authors publish them (issue 12)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bilingual import Text
from cogvideo.engine import models, speed
from cogvideo.engine.render import Engine, RenderJob
from cogvideo.errors import Cancelled, InvalidRequest
from cogvideo.request import DEFAULT_SPEED

ROOT = Path(__file__).resolve().parents[1]
STEPS = 10


def job(speed_id: str = "quality", steps: int = STEPS, guidance: float = 6.0, seed: int = 3) -> RenderJob:
    return RenderJob(task="t2v", prompt="a cat walks in the park", negative_prompt="", image=None,
                     num_frames=9, num_inference_steps=steps, guidance_scale=guidance, seed=seed,
                     height=96, width=144, speed=speed_id)


class BlockCounter:
    """Transformer block passes actually computed, per sample, and attention computations: a
    skipped block never reaches its feed-forward, a reused attention never projects queries."""

    def __init__(self, pipe) -> None:
        self.block_passes = 0
        self.attention = 0
        self._handles = []
        for block in pipe.transformer.transformer_blocks:
            self._handles.append(block.ff.register_forward_hook(self._on_ff))
            self._handles.append(block.attn1.to_q.register_forward_hook(self._on_attention))

    def _on_ff(self, _module, args, _output) -> None:
        self.block_passes += args[0].shape[0]

    def _on_attention(self, *_) -> None:
        self.attention += 1

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


@pytest.fixture(scope="module")
def engine():
    return Engine("tiny")


# ---------------------------------------------------------------- the presets


def test_presets_are_data_with_both_languages():
    assert list(speed.PRESETS) == ["quality", "balanced", "fast", "lean"]
    assert DEFAULT_SPEED == "quality"  # no method has published parity on CogVideoX
    assert speed.PRESETS["quality"].method is None
    for preset in speed.PRESETS.values():
        assert preset.name.en and preset.name.zh and preset.help.en and preset.help.zh
    assert [label for label, _ in speed.names("zh")] == ["质量优先", "均衡", "速度优先", "轻快"]


@pytest.mark.parametrize("value", ["turbo", "", None, 3, "FAST "])
def test_speed_is_checked_with_a_bilingual_message(value):
    if value == "FAST ":
        assert speed.check_speed(value) == "fast"
        return
    with pytest.raises(InvalidRequest) as caught:
        speed.check_speed(value)
    assert "quality, balanced, fast" in caught.value.en and "速度档位" in caught.value.zh


def test_each_preset_renders_a_decodable_video(tmp_path):
    from cogvideo import Studio, VideoRequest
    from cogvideo.media import codec

    studio = Studio(Engine("tiny"), output_dir=tmp_path)
    for preset in speed.PRESETS:
        result = studio.generate(VideoRequest(prompt="a cat walks in the park", num_inference_steps=6,
                                              seed=5, speed=preset))
        info = codec.probe(result.path)
        assert (info.width, info.height) == (144, 96) and result.path.stat().st_size > 0, preset


def test_fast_and_balanced_compute_less_than_quality(engine):
    pipe = engine.load("t2v")
    work = {}
    for preset in speed.PRESETS:
        counter = BlockCounter(pipe)
        try:
            engine.render(job(preset))
        finally:
            counter.close()
        work[preset] = (counter.block_passes, counter.attention)
    blocks = len(pipe.transformer.transformer_blocks)
    assert work["quality"] == (blocks * STEPS * 2, blocks * STEPS)  # CFG: cond + uncond per step
    assert work["balanced"][1] < work["quality"][1]  # attention reused between steps
    assert work["fast"][0] < work["quality"][0]  # the unconditional half reused on most steps
    assert work["fast"][1] < work["quality"][1]


def test_fast_without_guidance_falls_back_to_balanced_and_says_so(engine):
    notices = []
    frames = engine.render(job("fast", steps=4, guidance=1.0), on_notice=notices.append)
    assert frames.shape == (9, 96, 144, 3)
    assert len(notices) == 1 and "guidance" in notices[0].en and "引导系数" in notices[0].zh


def test_a_cancelled_cached_render_leaves_no_cache_behind(engine):
    clean = Engine("tiny").render(job("fast"))

    def cancel_midway():
        calls.append(1)
        return len(calls) > 5

    calls: list[int] = []
    with pytest.raises(Cancelled):
        engine.render(job("fast"), should_cancel=cancel_midway)
    assert np.array_equal(engine.render(job("fast")), clean)


def test_without_the_reset_a_cancelled_render_would_leak_into_the_next(engine, monkeypatch):
    """The check above can fail: skip the engine's reset and the next video differs."""
    from diffusers.models.cache_utils import CacheMixin

    clean = Engine("tiny").render(job("fast"))
    calls: list[int] = []
    with pytest.raises(Cancelled):
        engine.render(job("fast"), should_cancel=lambda: calls.append(1) or len(calls) > 5)
    monkeypatch.setattr(CacheMixin, "_reset_stateful_cache", lambda self, recurse=True: None)
    assert not np.array_equal(engine.render(job("fast")), clean)


def test_switching_presets_gives_the_same_video_as_a_fresh_engine(engine):
    engine.render(job("balanced", steps=4))
    assert np.array_equal(engine.render(job("quality", steps=4)), Engine("tiny").render(job("quality", steps=4)))
    assert not engine.load("t2v").transformer.is_cache_enabled


def test_the_speed_travels_with_a_queued_job(tmp_path):
    from cogvideo import VideoRequest
    from jobs.records import from_record, to_record

    record = to_record(VideoRequest(prompt="x", speed="fast"), tmp_path, "job1")
    assert from_record(record, tmp_path).speed == "fast"


# ---------------------------------------------------------------- fidelity to the published models


@pytest.mark.parametrize("name", list(models.VARIANTS))
def test_scheduler_and_dynamic_cfg_per_variant(name):
    variant = models.VARIANTS[name]
    if variant.architecture == "wan":  # flow matching with UniPC, shifted as the authors run each size
        assert (variant.scheduler, variant.dynamic_cfg) == ("unipc", False)
        assert variant.flow_shift == (5.0 if variant.height >= 704 else 3.0)
    elif name == "2b" or variant.family == "tiny":
        assert (variant.scheduler, variant.dynamic_cfg) == ("ddim", False)
    else:  # 5B and 1.5: DPM with dynamic CFG, as CogVideo's inference/cli_demo.py runs them
        assert (variant.scheduler, variant.dynamic_cfg) == ("dpm", True)


def test_a_5b_pipeline_gets_the_dpm_scheduler_with_the_hub_config(engine, monkeypatch):
    from diffusers import CogVideoXDDIMScheduler, CogVideoXDPMScheduler

    from cogvideo.engine import tiny

    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # bench/gpu.py
    import gpu

    pipe = tiny.build_pipeline("t2v")
    pipe.scheduler = CogVideoXDDIMScheduler(**gpu.SCHEDULERS["5b"])  # as shipped on the Hub
    Engine("5b").adopt("t2v", pipe)
    assert isinstance(pipe.scheduler, CogVideoXDPMScheduler)
    config = pipe.scheduler.config
    assert config.timestep_spacing == "trailing" and config.prediction_type == "v_prediction"
    assert config.snr_shift_scale == 1.0 and config.rescale_betas_zero_snr


def test_a_dpm_variant_renders_with_dynamic_cfg():
    tiny_dpm = replace(models.VARIANTS["tiny"], scheduler="dpm", dynamic_cfg=True)
    dpm = Engine("tiny")
    dpm.variants["t2v"] = tiny_dpm
    ddim = Engine("tiny")
    frames = dpm.render(job(steps=4))
    assert type(dpm.load("t2v").scheduler).__name__ == "CogVideoXDPMScheduler"
    assert frames.shape == (9, 96, 144, 3) and not np.array_equal(frames, ddim.render(job(steps=4)))


def test_tiny_has_at_least_two_blocks_for_the_block_caches(engine):
    assert len(engine.load("t2v").transformer.transformer_blocks) >= 2


def test_cogvideox_1_5_text_to_video_is_1360_by_768_only():
    variant = models.VARIANTS["1.5-5b"]
    assert models.check_size(variant, None, None) == (768, 1360)
    for height, width in ((1360, 768), (768, 1024), (480, 720)):
        with pytest.raises(InvalidRequest, match="1.5-5b-i2v"):
            models.check_size(variant, height, width)


@pytest.mark.parametrize("height, width, ok", [
    (768, 1360, True), (768, 1024, True), (1360, 768, True), (768, 768, True), (1024, 768, True),
    (512, 768, False), (768, 1376, False), (768, 1000, False), (720, 1280, False), (800, 800, False),
])
def test_cogvideox_1_5_image_to_video_sizes(height, width, ok):
    variant = models.VARIANTS["1.5-5b-i2v"]
    if ok:
        assert models.check_size(variant, height, width) == (height, width)
    else:
        with pytest.raises(InvalidRequest):
            models.check_size(variant, height, width)


@pytest.mark.parametrize("picture, expected", [
    ((1600, 1200), (768, 1024)),  # 4:3 landscape
    ((1200, 1600), (1024, 768)),  # portrait: the long side is the height
    ((2100, 900), (768, 1360)),  # wider than 1360/768: capped
    ((1000, 1000), (768, 768)),
])
def test_cogvideox_1_5_image_to_video_follows_the_picture(picture, expected):
    variant = models.VARIANTS["1.5-5b-i2v"]
    size = models.size_for_picture(variant, *picture)
    assert size == expected and models.check_size(variant, *size) == size


def test_the_benchmark_configs_are_the_published_ones_and_load_into_diffusers(monkeypatch):
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXTransformer3DModel

    monkeypatch.syspath_prepend(str(ROOT / "bench"))  # bench/gpu.py
    import gpu

    for name, config in gpu.TRANSFORMERS.items():
        with torch.device("meta"):
            transformer = CogVideoXTransformer3DModel(**config)
            vae = AutoencoderKLCogVideoX(**gpu.VAES[name])
        scheduler = CogVideoXDDIMScheduler(**gpu.SCHEDULERS[name])
        variant = models.VARIANTS[name]
        assert scheduler.config.snr_shift_scale == (3.0 if name == "2b" else 1.0)
        assert scheduler.config.prediction_type == "v_prediction" and not scheduler.config.clip_sample
        assert vae.config.scaling_factor == (1.15258426 if name == "2b" else 0.7)
        assert vae.config.invert_scale_latents == name.startswith("1.5")
        assert len(transformer.transformer_blocks) == (30 if name == "2b" else 42)
        if name.startswith("1.5"):
            # The RoPE grid must hold the largest latent grid in both orientations (1360 / 8 / 2).
            largest = models.MAX_SIDE // 8 // 2
            assert transformer.config.sample_height // 2 >= largest
            assert transformer.config.sample_width // 2 >= largest
            assert variant.disk_gib >= 30


def test_the_status_line_names_the_speed_and_why_a_speed_up_is_off():
    from cogvideo.engine.acceleration import Acceleration
    from ui.handlers import speed_text

    accel = Acceleration(notes=(Text("fp8: off (needs an NVIDIA GPU)", "fp8：未启用（需要 NVIDIA 显卡）"),))
    assert speed_text(accel, speed.PRESETS["quality"], "zh") == " · **速度** 质量优先 · fp8：未启用（需要 NVIDIA 显卡）"
    on = Acceleration(compile=True, fp8=True, attention="sage")
    assert speed_text(on, speed.PRESETS["fast"], "en") == " · **speed** Fast · attention sage · fp8 · compiled"


def test_cpu_leaves_the_gpu_speed_ups_off_and_says_why():
    engine = Engine("tiny", compile=True, fp8=True)
    engine.load("t2v")
    accel = engine.status().acceleration
    assert not accel.compile and not accel.fp8
    assert any("GPU" in note.en for note in accel.notes) and any("显卡" in note.zh for note in accel.notes)
