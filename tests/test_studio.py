"""Studio.generate end to end with the tiny model, and each bad input's message."""

import threading

import pytest

from cogvideo.errors import Cancelled, InvalidRequest
from cogvideo.media import codec
from cogvideo.media.colorize import Colorizer
from cogvideo.request import VideoRequest


def request(**kwargs):
    values = dict(prompt="a cat walks in the park", num_inference_steps=2, seed=5)
    values.update(kwargs)
    return VideoRequest(**values)


def test_text_to_video_end_to_end(studio):
    events = []
    result = studio.generate(request(), progress=events.append)
    info = codec.probe(result.path)
    assert (info.width, info.height, info.fps, info.video_codec) == (144, 96, 8.0, "h264")
    assert codec.read_frames(result.path).shape[0] == 9
    assert result.seed == 5 and result.prompt == "a cat walks in the park"
    assert {"render", "encode"} <= {e.stage for e in events}
    assert {"render", "encode"} <= set(result.timings)
    assert result.path.parent == studio.output_dir


def test_image_to_video_end_to_end(studio, photo):
    result = studio.generate(request(mode="i2v", image=photo))
    assert codec.read_frames(result.path).shape == (9, 96, 144, 3)
    assert result.model == "tiny-i2v"


def test_random_seed_is_reported_and_reproduces(studio):
    first = studio.generate(request(seed=-1))
    assert 0 <= first.seed < 2**32
    again = studio.generate(request(seed=first.seed))
    assert (codec.read_frames(first.path) == codec.read_frames(again.path)).all()
    assert first.path != again.path  # each job its own file


def test_cancel_event(studio):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        studio.generate(request(), cancel=cancel)


@pytest.mark.parametrize("pressed_at, stopped_before", [("render", "post"), ("post", "encode")])
def test_cancel_between_stages(studio, pressed_at, stopped_before):
    # Cancel pressed after the last denoising step (nothing left to interrupt inside the pipeline)
    # or while post-processing: the next stage never starts and no file is left behind. (From the
    # encode on, the job finishes: the rest takes seconds.)
    cancel = threading.Event()
    stages = []

    def on_progress(event):
        stages.append(event.stage)
        if event.stage == pressed_at and event.fraction in (None, 1.0):
            cancel.set()

    with pytest.raises(Cancelled):
        studio.generate(request(interpolate=True, music="calm"), progress=on_progress, cancel=cancel)
    assert cancel.is_set() and pressed_at in stages and stopped_before not in stages
    assert list(studio.output_dir.iterdir()) == []


def test_long_prompt_is_counted_and_the_cut_is_announced(studio):
    result = studio.generate(request(prompt="the cat walks slowly in the park " * 200))
    assert result.prompt_tokens > 226
    assert any("only the first 226" in n.en and "截断" in n.zh for n in result.notices)


@pytest.mark.parametrize(
    "kwargs, en, zh",
    [
        (dict(prompt=""), "prompt is empty", "提示词为空"),
        (dict(prompt="   \n\t"), "prompt is empty", "提示词为空"),
        (dict(mode="i2v"), "Upload a picture first", "请先上传"),
        (dict(num_inference_steps=0), "num_inference_steps=0", "采样步数"),
        (dict(guidance_scale=-1.0), "guidance_scale=-1.0", "引导系数"),
        (dict(seed=2**32), "seed=4294967296", "种子"),
        (dict(seed=-2), "seed=-2", "种子"),
        (dict(num_frames=10), "num_frames=10 is not allowed", "帧数"),
        (dict(height=100, width=144), "multiple of 16", "倍数"),
        (dict(mode="video"), "mode='video'", "模式"),
        (dict(music_volume=3.0), "music_volume=3.0", "音量"),
    ],
)
def test_bad_input_gets_a_message_in_both_languages(studio, kwargs, en, zh):
    with pytest.raises(InvalidRequest) as err:
        studio.generate(request(**kwargs))
    assert en in err.value.en and zh in err.value.zh


def test_unreadable_image_is_refused(studio, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(InvalidRequest, match="not an image"):
        studio.generate(request(mode="i2v", image=bad))


def test_prompt_report_for_live_notes(studio):
    assert not studio.prompt_report("a cat").over
    assert studio.prompt_report("the cat walks " * 200).over


class CountingColorizer(Colorizer):
    """The real colorizer with DDColor itself (tested in test_colorize.py) replaced by a tint, to
    count the calls that reach the model."""

    def __init__(self):
        super().__init__(weights="no-such-file.pth")  # never loaded: `colorize` is replaced
        self.calls = 0

    def colorize(self, image):
        from PIL import ImageOps

        self.calls += 1
        return ImageOps.colorize(image.convert("L"), black=(40, 10, 0), white=(255, 230, 160))


def test_old_photo_colorizes_once_and_keeps_the_still(tiny_engine, tmp_path, photo):
    from cogvideo.studio import Studio

    colorizer = CountingColorizer()
    studio = Studio(tiny_engine, tmp_path / "o", colorizer=colorizer)
    gray = photo.convert("L").convert("RGB")
    preview, notice = studio.colorize_photo(gray)
    assert notice is None and colorizer.calls == 1
    result = studio.generate(request(mode="old_photo", image=gray, prompt=""))
    assert colorizer.calls == 1  # the preview's work is reused
    assert result.colorized_image.exists() and result.model == "tiny-i2v"
    assert "old photograph comes to life" in result.prompt  # an empty instruction gets a default


def test_colour_photo_is_not_colorized(tiny_engine, tmp_path, photo):
    from cogvideo.studio import Studio

    colorizer = CountingColorizer()
    studio = Studio(tiny_engine, tmp_path / "o", colorizer=colorizer)
    result = studio.generate(request(mode="old_photo", image=photo))
    assert colorizer.calls == 0 and result.colorized_image is None
    assert any("already in colour" in n.en for n in result.notices)
