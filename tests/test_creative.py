"""Restyle (video to video) and extend, end to end through `Studio.generate` with the tiny model,
on real clips the tests encode; and each bad value's message."""

import threading

import numpy as np
import pytest

from cogvideo.errors import Cancelled, InvalidRequest, VideoError
from cogvideo.media import codec
from cogvideo.request import MAX_EXTENSIONS, VideoRequest

# The tiny model: 144×96 at 8 fps, 9 frames a part (frame_step 8: 8N+1 frames).
WIDTH, HEIGHT, FPS, PART = 144, 96, 8, 9


def make_clip(path, frames=17, width=WIDTH, height=HEIGHT, fps=FPS):
    """A clip whose frames differ (a bright bar moving right over a gradient), so a join can be told
    from a cut and a crop from a resize."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 90)], -1)
    out = []
    for index in range(frames):
        frame = base.copy()
        left = (index * width // max(frames, 1)) % width
        frame[:, left:left + max(width // 10, 2)] = (250, 250, 250)
        out.append(frame.astype(np.uint8))
    return codec.encode_mp4(np.stack(out), fps, path)


def restyle(video=None, **kwargs):
    values = dict(mode="v2v", prompt="the same scene as a watercolor painting", video=video,
                  num_inference_steps=4, seed=7, strength=0.5)
    values.update(kwargs)
    return VideoRequest(**values)


def extend(video, **kwargs):
    values = dict(mode="extend", prompt="the camera keeps moving forward", video=video, num_inference_steps=2,
                  seed=3, extensions=2)
    values.update(kwargs)
    return VideoRequest(**values)


@pytest.fixture()
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4")


def steps_seen(events):
    return {e.text.en for e in events if e.stage == "render"}


def test_restyle_end_to_end(studio, clip):
    # A 17-frame clip at 8 fps: the tiny model restyles its first 9 frames (its default length).
    events = []
    result = studio.generate(restyle(clip), progress=events.append)
    assert codec.read_frames(result.path).shape == (PART, HEIGHT, WIDTH, 3)
    assert result.info()["strength"] == 0.5 and result.model == "tiny"
    # strength 0.5 of 4 steps: the pipeline runs the last 2 of the schedule.
    assert steps_seen(events) == {"Denoising step 1/2", "Denoising step 2/2"}
    assert any("first 1.1 s of the 2.1 s clip" in n.en and "前 1.1 秒" in n.zh for n in result.notices)


def test_restyle_strength_reaches_the_pipeline(studio, clip):
    low, high = (studio.generate(restyle(clip, strength=s, num_inference_steps=10)) for s in (0.2, 1.0))
    assert not np.array_equal(codec.read_frames(low.path), codec.read_frames(high.path))


def test_restyle_with_a_style_and_no_prompt(studio, clip):
    result = studio.generate(restyle(clip, prompt="", style="anime"))
    assert "same scene" in result.prompt and result.prompt != "same scene"


def test_vertical_clip_is_cropped_to_a_landscape_size_and_said(studio, tmp_path):
    # A landscape size, as the fixed-size models (2B, 5B, 1.5 T2V) always render.
    tall = make_clip(tmp_path / "tall.mp4", width=96, height=160)
    result = studio.generate(restyle(tall, height=HEIGHT, width=WIDTH))
    assert codec.read_frames(result.path).shape == (PART, HEIGHT, WIDTH, 3)
    assert any("vertical video was center-cropped" in n.en and "竖屏" in n.zh for n in result.notices)


def test_a_model_of_flexible_size_follows_a_vertical_clip(studio, tmp_path):
    tall = make_clip(tmp_path / "tall.mp4", width=96, height=160)
    result = studio.generate(restyle(tall))
    frames = codec.read_frames(result.path)
    assert frames.shape[1] > frames.shape[2]  # portrait in, portrait out
    assert not any("center-cropped" in n.en for n in result.notices)


def test_clip_too_short_to_restyle(studio, tmp_path):
    # Refused at submit (from the header) and when rendering (from the frames decoded).
    short = make_clip(tmp_path / "short.mp4", frames=4)
    for check in (studio.validate, studio.generate):
        with pytest.raises(VideoError) as err:
            check(restyle(short))
        assert "too short to restyle" in err.value.en and "太短" in err.value.zh


def test_extend_joins_the_parts_without_the_duplicated_frames(studio, clip, monkeypatch):
    # The clip (17 frames) and two parts of 9: 17 + 9 + 9 - 2 joins = 33 frames.
    from cogvideo.media import clips

    pictures = []
    render = studio.engine.render

    def recording(job, **kwargs):
        pictures.append(np.asarray(job.image))
        frames = render(job, **kwargs)
        rendered.append(frames)
        return frames

    rendered = []
    monkeypatch.setattr(studio.engine, "render", recording)
    events = []
    result = studio.generate(extend(clip), progress=events.append)
    out = codec.read_frames(result.path)
    assert out.shape == (17 + PART + PART - 2, HEIGHT, WIDTH, 3)
    assert result.info()["parts"] == [17, PART, PART] and result.num_frames == 33

    # Each part starts from the exact last frame of the one before: the clip's, then part 1's.
    source = clips.read_clip(clip, FPS, size=(WIDTH, HEIGHT)).frames
    assert np.array_equal(pictures[0], source[-1])
    assert np.array_equal(pictures[1], rendered[0][-1])
    # In the file: the clip first, then part 1 without its first frame, then part 2 likewise.
    # Compared through H.264 (the tiny model's frames are noise, which it does not keep exactly):
    # each frame of the file is nearest to the frame it should be.
    def nearest(frame, candidates):
        return int(np.argmin([np.abs(frame.astype(int) - c.astype(int)).mean() for c in candidates]))

    assert nearest(out[16], [source[-1], rendered[0][0], rendered[0][1]]) == 0
    assert [nearest(out[16 + k], rendered[0]) for k in range(1, PART)] == list(range(1, PART))
    assert [nearest(out[24 + k], rendered[1]) for k in range(1, PART)] == list(range(1, PART))
    assert {"Part 1/2 · denoising step 2/2", "Part 2/2 · denoising step 2/2"} <= steps_seen(events)
    fractions = [e.fraction for e in events if e.stage == "render"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_extend_with_crossfade_keeps_the_count(studio, clip):
    result = studio.generate(extend(clip, extensions=1, crossfade=True))
    assert codec.read_frames(result.path).shape[0] == 17 + PART - 1


def test_extend_lays_the_music_over_the_whole_video(studio, clip):
    result = studio.generate(extend(clip, extensions=1, music="calm"))
    info = codec.probe(result.path)
    assert info.audio_codec == "aac"
    assert info.duration == pytest.approx((17 + PART - 1) / FPS, abs=0.2)


def test_cancel_between_extensions(studio, clip):
    cancel = threading.Event()

    def on_progress(event):
        if event.text.en.startswith("Part 1/2") and event.fraction == 0.5:
            cancel.set()

    with pytest.raises(Cancelled):
        studio.generate(extend(clip), progress=on_progress, cancel=cancel)
    assert [p for p in studio.output_dir.iterdir()] == []


@pytest.mark.parametrize("kwargs, en, zh", [
    (dict(strength=0), "strength=0 must be between 0.1 and 1.0", "转绘强度 0"),
    (dict(strength=5), "strength=5 must be between 0.1 and 1.0", "转绘强度 5"),
    (dict(strength="strong"), "strength='strong'", "转绘强度"),
    (dict(strength=0.1, num_inference_steps=5), "runs no denoising step", "一步都不会运行"),
    (dict(video=None), "Upload a video first", "请先上传一段视频"),
])
def test_bad_restyle_values(studio, clip, kwargs, en, zh):
    with pytest.raises(InvalidRequest) as err:
        studio.validate(restyle(**{"video": clip, **kwargs}))
    assert en in err.value.en and zh in err.value.zh


@pytest.mark.parametrize("count", [0, 50, 2.5, True, -1])
def test_bad_extension_counts(studio, clip, count):
    with pytest.raises(InvalidRequest) as err:
        studio.validate(extend(clip, extensions=count))
    assert f"extensions={count!r} must be a whole number from 1 to {MAX_EXTENSIONS}" in err.value.en
    assert "续写段数" in err.value.zh


def test_a_file_that_is_not_a_video(studio, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video")
    for request in (restyle(fake), extend(fake)):
        with pytest.raises(VideoError):
            studio.validate(request)
    assert not (studio.output_dir.exists() and any(studio.output_dir.iterdir()))
