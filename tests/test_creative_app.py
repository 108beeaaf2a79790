"""The creative tools through the named API, as a developer calls them with gradio_client, against
`python app.py --model tiny --lora ...`: restyle, extend, GIF, LoRA scales, and each bad input's
message while the server keeps serving. Plus the LoRA through the engine: unload restores it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from cogvideo.engine import tiny
from cogvideo.media import codec
from tests.conftest import InProcessApp
from tests.test_creative import make_clip
from tests.test_lora import make_lora, write_lora_shapes

FAST = dict(num_inference_steps=2, num_frames=9)


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory):
    # The tiny T2V transformer is the one the app builds (seeded): the LoRA fits it (width 32).
    return make_lora(tiny.build_pipeline("t2v").transformer, tmp_path_factory.mktemp("lora") / "ink", seed=3)


@pytest.fixture(scope="module")
def studio_app(tmp_path_factory, lora_dir):
    running = InProcessApp(tmp_path_factory.mktemp("creative"), extra_args=("--lora", f"{lora_dir}:0.0"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def api(studio_app):
    return Client(studio_app.url, verbose=False)


@pytest.fixture()
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4", frames=17)


def error_of(call) -> str:
    with pytest.raises(AppError) as err:
        call()
    return str(err.value)


def frames_of(path) -> np.ndarray:
    return codec.read_frames(path)


def test_restyle_through_the_named_api(api, clip):
    video, info = api.predict(video=handle_file(str(clip)), prompt="the same scene in ink", strength=0.5,
                              style="none", seed=4, api_name="/video_to_video", **FAST)
    assert frames_of(video).shape == (9, 96, 144, 3)
    assert info["strength"] == 0.5 and info["seed"] == 4


def test_extend_through_the_named_api(api, clip):
    # 17 frames + 2 parts of 9 - 2 shared join frames = 33.
    video, info = api.predict(video=handle_file(str(clip)), prompt="the camera keeps moving", extensions=2,
                              seed=1, api_name="/extend_video", **FAST)
    assert frames_of(video).shape[0] == 33 and info["parts"] == [17, 9, 9]


def test_gif_through_the_named_api(api, clip):
    gif, size = api.predict(video=handle_file(str(clip)), width=480, fps=8, api_name="/export_gif")
    with Image.open(gif) as picture:
        assert picture.format == "GIF" and picture.is_animated and picture.n_frames == 17
        assert picture.width == 144  # never wider than the video
    assert "KB" in size or "MB" in size


def test_lora_scales_from_the_api(api):
    def run(scales):
        video, info = api.predict(prompt="a cat walks", seed=11, lora_scales=scales, api_name="/text_to_video",
                                  **FAST)
        return frames_of(video)

    base, zero, one = run({}), run({"ink": 0.0}), run({"ink": 1.0})
    assert np.array_equal(base, zero)  # the app's default scale for this LoRA is 0 (--lora ink:0.0)
    assert not np.array_equal(zero, one)
    assert np.array_equal(run({"ink": 0.0}), base)  # back to the base model


@pytest.mark.parametrize("call, en", [
    (lambda api, clip, bad: api.predict(video=handle_file(str(bad)), prompt="x", api_name="/video_to_video", **FAST),
     "not a video"),
    (lambda api, clip, bad: api.predict(video=handle_file(str(clip)), prompt="x", strength=5,
                                        api_name="/video_to_video", **FAST), "strength=5"),
    (lambda api, clip, bad: api.predict(video=handle_file(str(clip)), prompt="x", strength=0,
                                        api_name="/video_to_video", **FAST), "strength=0"),
    (lambda api, clip, bad: api.predict(video=handle_file(str(clip)), prompt="x", extensions=50,
                                        api_name="/extend_video", **FAST), "extensions=50"),
    (lambda api, clip, bad: api.predict(video=handle_file(str(clip)), prompt="x", extensions=0,
                                        api_name="/extend_video", **FAST), "extensions=0"),
    (lambda api, clip, bad: api.predict(video=None, prompt="x", api_name="/extend_video", **FAST),
     "Upload a video first"),
    (lambda api, clip, bad: api.predict(video=handle_file(str(clip)), width=10, fps=8, api_name="/export_gif"),
     "width=10"),
    (lambda api, clip, bad: api.predict(video=handle_file(str(clip)), width=10000, fps=8, api_name="/export_gif"),
     "width=10000"),
    (lambda api, clip, bad: api.predict(prompt="x", lora_scales={"nope": 1}, api_name="/text_to_video", **FAST),
     "nope"),
    (lambda api, clip, bad: api.predict(prompt="x", lora_scales={"ink": 7}, api_name="/text_to_video", **FAST),
     "ink"),
    (lambda api, clip, bad: api.predict(prompt="x", lora_scales="ink=1", api_name="/text_to_video", **FAST),
     "must map LoRA names to scales"),
])
def test_bad_input_gets_a_message_and_the_server_keeps_serving(api, clip, tmp_path, call, en):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video at all")
    message = error_of(lambda: call(api, clip, bad))
    assert en in message
    video, _ = api.predict(prompt="still serving", seed=1, api_name="/text_to_video", **FAST)
    assert frames_of(video).shape[0] == 9


def test_a_lora_for_another_model_size_stops_the_start(tmp_path):
    wrong = write_lora_shapes(tmp_path / "big.safetensors", width=1920)
    with pytest.raises(RuntimeError) as err:
        InProcessApp(tmp_path / "wrong", extra_args=("--lora", str(wrong)))
    assert "width 1920" in str(err.value) and "big.safetensors" in str(err.value)


def test_a_missing_lora_stops_the_start(tmp_path):
    with pytest.raises(RuntimeError) as err:
        InProcessApp(tmp_path / "missing", extra_args=("--lora", str(tmp_path / "nowhere.safetensors")))
    assert "nowhere.safetensors" in str(err.value)


def test_unloading_through_the_engine_restores_the_base_model(lora_dir):
    from cogvideo.engine.lora import parse_loras
    from cogvideo.engine.render import Engine, RenderJob

    job = RenderJob(task="t2v", prompt="a cat", negative_prompt="", image=None, num_frames=9, num_inference_steps=2,
                    guidance_scale=6.0, seed=2, height=32, width=48)
    base = Engine("tiny").render(job)
    engine = Engine("tiny", loras=parse_loras([f"{lora_dir}:1.0"]))
    engine.check_loras()
    weights = {k: v.clone() for k, v in Engine("tiny").load("t2v").transformer.state_dict().items()}
    with_lora = engine.render(job)
    assert not np.array_equal(with_lora, base)
    assert np.array_equal(engine.render(RenderJob(**{**job.__dict__, "lora_scales": {"ink": 0.0}})), base)
    engine.unload_loras()
    assert np.array_equal(engine.render(job), base)
    after = engine.load("t2v").transformer.state_dict()
    assert after.keys() == weights.keys() and all(np.array_equal(after[k], weights[k]) for k in weights)


def test_a_template_through_the_named_api(api, studio_app, tmp_path):
    from tests.conftest import make_photo

    values = api.predict(template="meme", subject="一只橘猫", api_name="/apply_template")
    assert values["prompt"].startswith("A close-up of 一只橘猫") and values["music"] == "playful"
    assert values["num_frames"] == 25  # the meme template's 3 s at the tiny model's 8 fps
    picture = tmp_path / "cat.png"
    make_photo(240, 160).save(picture)
    video, info = api.predict(image=handle_file(str(picture)), num_inference_steps=2, translate=False,
                              **values, api_name="/image_to_video")
    assert frames_of(video).shape[0] == 25 and "一只橘猫" in info["prompt"]
    # The prompt agent hears what the video is for.
    before = len(studio_app.chat.requests)
    api.predict(prompt="a cat", image=None, mode="i2v", style="none", template="meme", api_name="/suggest_prompt")
    sent = json.dumps([r.json for r in studio_app.chat.requests[before:]], ensure_ascii=False)
    assert "The video is for:" in sent
    message = error_of(lambda: api.predict(template="nope", subject="x", api_name="/apply_template"))
    assert "Unknown template 'nope'" in message and "meme" in message
