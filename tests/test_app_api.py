"""The named API as a developer calls it with gradio_client, against `python app.py --model tiny`."""

import io

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from cogvideo import media
from tests.conftest import make_photo

FAST = dict(num_inference_steps=2, num_frames=9)


def check_video(path, frames=9, size=(144, 96), fps=8.0):
    info = media.probe(path)
    assert (info.width, info.height) == size and info.fps == fps and info.video_codec == "h264"
    assert media.read_frames(path).shape[0] == frames


def test_text_to_video(client):
    video, info = client.predict(prompt="a cat walks in the park", seed=123, api_name="/text_to_video", **FAST)
    check_video(video)
    assert info["seed"] == 123 and info["prompt"] == "a cat walks in the park"


def test_random_seed_is_reported(client):
    _, info = client.predict(prompt="a dog", seed=-1, api_name="/text_to_video", **FAST)
    assert 0 <= info["seed"] < 2**32


def test_image_to_video(client, tmp_path):
    path = tmp_path / "first.png"
    make_photo(320, 200).save(path)
    video, info = client.predict(image=handle_file(str(path)), prompt="the sun sets", seed=9,
                                 api_name="/image_to_video", **FAST)
    check_video(video)
    assert info["model"] == "tiny-i2v" and info["seed"] == 9


def error_of(call) -> str:
    with pytest.raises(AppError) as err:
        call()
    return str(err.value)


@pytest.mark.parametrize("prompt", ["", "   \n "])
def test_empty_prompt(client, prompt):
    message = error_of(lambda: client.predict(prompt=prompt, api_name="/text_to_video", **FAST))
    assert "提示词为空" in message and "prompt is empty" in message  # no browser language: both


def test_image_to_video_without_an_image(client):
    message = error_of(lambda: client.predict(image=None, prompt="x", api_name="/image_to_video", **FAST))
    assert "Upload a picture first" in message


def image_file(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return handle_file(str(path))


def encoded(image, fmt, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def test_file_that_is_not_an_image(client, tmp_path):
    fake = image_file(tmp_path, "notes.png", b"hello, this is text")
    message = error_of(lambda: client.predict(image=fake, prompt="x", api_name="/image_to_video", **FAST))
    assert "not an image" in message or "不是图片" in message


def test_truncated_jpeg(client, tmp_path):
    data = encoded(make_photo(400, 300), "JPEG")
    cut = image_file(tmp_path, "cut.jpg", data[: len(data) // 2])
    message = error_of(lambda: client.predict(image=cut, prompt="x", api_name="/image_to_video", **FAST))
    assert "damaged or incomplete" in message or "不完整" in message


def test_one_pixel_image(client, tmp_path):
    dot = image_file(tmp_path, "dot.png", encoded(Image.new("RGB", (1, 1)), "PNG"))
    message = error_of(lambda: client.predict(image=dot, prompt="x", api_name="/image_to_video", **FAST))
    assert "64×64" in message


@pytest.mark.parametrize(
    "name, make",
    [
        ("cmyk.jpg", lambda: encoded(make_photo(200, 150, "CMYK"), "JPEG")),
        ("deep.png", lambda: encoded(Image.fromarray(np.tile(np.arange(0, 65535, 256, dtype=np.uint16), (120, 1))), "PNG")),
        ("palette.png", lambda: encoded(make_photo(200, 150, "P"), "PNG")),
        ("alpha.png", lambda: encoded(make_photo(200, 150, "RGBA"), "PNG")),
        ("huge.jpg", lambda: encoded(Image.new("RGB", (9000, 6000), (90, 140, 200)), "JPEG", quality=40)),
    ],
)
def test_unusual_images_are_converted_not_refused(client, tmp_path, name, make):
    upload = image_file(tmp_path, name, make())
    video, _ = client.predict(image=upload, prompt="gentle motion", api_name="/image_to_video", **FAST)
    check_video(video)


def test_very_long_prompt_is_truncated_with_a_notice(client):
    prompt = ("a calm lake at sunset with mountains " * 140)[:5000]
    video, info = client.predict(prompt=prompt, api_name="/text_to_video", **FAST)
    check_video(video)
    assert info["prompt_tokens"] > 226
    assert any("only the first 226" in n["en"] for n in info["notices"])


def test_html_in_the_prompt_is_kept_as_text(client):
    prompt = "<b>bold</b> <script>alert(1)</script> a cat"
    _, info = client.predict(prompt=prompt, api_name="/text_to_video", **FAST)
    assert info["prompt"] == prompt


def test_server_keeps_serving_after_errors_and_runs_concurrent_jobs(client):
    error_of(lambda: client.predict(prompt="", api_name="/text_to_video", **FAST))
    jobs = [client.submit(prompt=f"job {i}", seed=i, api_name="/text_to_video", **FAST) for i in range(2)]
    results = [job.result(timeout=120) for job in jobs]
    assert results[0][0] != results[1][0]
    for video, info in results:
        check_video(video)
    assert {r[1]["seed"] for r in results} == {0, 1}


def test_outputs_stay_in_the_output_dir(client, app):
    _, info = client.predict(prompt="a red kite", api_name="/text_to_video", **FAST)
    assert info["video"].startswith(str(app.output_dir))
