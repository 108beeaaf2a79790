"""The engine with tiny pipelines: sharing, determinism, progress, cancel, memory policy on CPU."""

import numpy as np
import pytest
from PIL import Image

from cogvideo.engine.render import Engine, RenderJob, SHARED_COMPONENTS
from cogvideo.errors import Cancelled, InvalidRequest, StudioError


def job(task="t2v", seed=1, steps=2, image=None, frames=9):
    return RenderJob(
        task=task, prompt="a cat walks in the park at sunset", negative_prompt="", image=image,
        num_frames=frames, num_inference_steps=steps, guidance_scale=6.0, seed=seed,
        height=96, width=144,
    )


def test_i2v_reuses_the_t2v_components_by_identity(tiny_engine):
    t2v = tiny_engine.load("t2v")
    i2v = tiny_engine.load("i2v")
    for name in SHARED_COMPONENTS:
        assert getattr(i2v, name) is getattr(t2v, name), name
    assert i2v.transformer is not t2v.transformer
    assert i2v.transformer.config.in_channels == 8  # noise + image latents
    assert tiny_engine.load("t2v") is t2v  # loaded once, kept


def test_render_returns_uint8_frames_of_the_requested_shape(tiny_engine):
    frames = tiny_engine.render(job())
    # latent frames (9 - 1) / 4 + 1 = 3 decode back to 9; 96×144 from 12×18 latents (VAE ×8)
    assert frames.shape == (9, 96, 144, 3) and frames.dtype == np.uint8
    assert frames.std() > 0


def test_same_seed_same_frames_other_seed_other_frames(tiny_engine):
    a = tiny_engine.render(job(seed=1234))
    b = tiny_engine.render(job(seed=1234))
    c = tiny_engine.render(job(seed=1235))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_full_32_bit_seed(tiny_engine):
    frames = tiny_engine.render(job(seed=2**32 - 1))
    assert frames.shape[0] == 9


def test_progress_reports_each_step(tiny_engine):
    steps = []
    tiny_engine.render(job(steps=3), on_step=lambda i, total: steps.append((i, total)))
    assert steps == [(1, 3), (2, 3), (3, 3)]


def test_cancel_stops_at_the_next_step_without_decoding(tiny_engine, monkeypatch):
    pipe = tiny_engine.load("t2v")
    decoded = []
    original = pipe.vae.decode
    monkeypatch.setattr(pipe.vae, "decode", lambda *a, **k: decoded.append(1) or original(*a, **k))
    steps = []
    with pytest.raises(Cancelled):
        tiny_engine.render(
            job(steps=10), on_step=lambda i, total: steps.append(i), should_cancel=lambda: len(steps) >= 2
        )
    assert steps == [1, 2]
    assert decoded == []


def test_image_to_video_starts_from_the_image(tiny_engine):
    red = Image.new("RGB", (144, 96), (220, 30, 30))
    blue = Image.new("RGB", (144, 96), (30, 30, 220))
    a = tiny_engine.render(job(task="i2v", image=red))
    b = tiny_engine.render(job(task="i2v", image=blue))
    assert a.shape == (9, 96, 144, 3)
    assert not np.array_equal(a, b)


def test_cpu_runs_without_offload_even_when_asked():
    engine = Engine("tiny", offload="model")
    assert engine.device.type == "cpu"
    assert engine.offload == "none"  # offload hooks need an accelerator
    status = engine.status()
    assert status.device == "cpu" and status.offload == "none" and status.free_vram_gib is None


def test_bad_offload_mode():
    with pytest.raises(InvalidRequest, match="auto, none, model, group, sequential"):
        Engine("tiny", offload="fast")


def test_2b_has_no_image_to_video():
    engine = Engine("2b")
    with pytest.raises(InvalidRequest, match="5b-i2v, 1.5-5b-i2v, wan2.2-5b") as refused:
        engine.variant("i2v")
    assert "2b 不支持图生视频" in refused.value.text.zh


def test_token_count_agrees_with_the_pipeline_tokenizer(tiny_engine):
    # Counting uses a private tokenizer (see Engine._counting_tokenizer); its counts must be the
    # pipeline's own.
    pipe_tokenizer = tiny_engine.load("t2v").tokenizer
    for text in ("a cat", " ".join(["the cat walks in the park"] * 100)):
        assert tiny_engine.count_tokens(text) == len(pipe_tokenizer(text).input_ids)
    assert tiny_engine.count_tokens(" ".join(["the cat walks in the park"] * 100)) > 226


def test_out_of_memory_names_the_next_offload_level(monkeypatch):
    import torch

    engine = Engine("tiny")
    pipe = engine.load("t2v")

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(type(pipe), "__call__", exhausted)
    with pytest.raises(StudioError) as err:
        engine.render(job())
    assert "--offload model" in err.value.en and "--offload model" in err.value.zh


@pytest.mark.slow  # a minute of hammering, in process
def test_counting_tokens_never_disturbs_a_render_encoding_its_prompt(tiny_engine):
    """The live prompt note counts tokens on every keystroke while other users' videos render.

    The pipeline pads its prompt to 226 tokens; a shared tokenizer reset by a count in between
    gave unpadded embeddings and a crashed render. Hammer the pipeline's own encoding step.
    """
    import threading

    pipe = tiny_engine.load("t2v")
    stop = threading.Event()

    def type_prompts():
        while not stop.is_set():
            tiny_engine.count_tokens("a cat walks in the park " * 20)

    typists = [threading.Thread(target=type_prompts) for _ in range(3)]
    for t in typists:
        t.start()
    try:
        shapes = set()
        for _ in range(400):
            embeds, _negative = pipe.encode_prompt("a cat", "", do_classifier_free_guidance=False,
                                                   max_sequence_length=226, device="cpu")
            shapes.add(tuple(embeds.shape))
    finally:
        stop.set()
        for t in typists:
            t.join()
    assert shapes == {(1, 226, 32)}


def test_auto_offload_is_decided_once(monkeypatch):
    from cogvideo.engine import render as engine_module

    free = iter([40 * 2**30, 15 * 2**30, 22 * 2**30])
    monkeypatch.setattr(engine_module, "free_vram_bytes", lambda device: next(free))
    engine = Engine("5b", offload="auto", device="cuda")  # no CUDA needed to decide
    assert [engine.offload, engine.offload, engine.offload] == ["none", "none", "none"]


def test_local_folders_keep_dynamic_guidance(tmp_path):
    import json

    from cogvideo.engine import models

    (tmp_path / "transformer").mkdir()
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "CogVideoXPipeline"}))
    (tmp_path / "transformer" / "config.json").write_text(
        json.dumps({"text_embed_dim": 4096, "num_attention_heads": 48}))
    assert models.resolve(str(tmp_path)).dynamic_cfg

