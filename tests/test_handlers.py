"""The face's handlers without a browser: cancel, languages, live prompt note, error conversion."""

import asyncio
import threading
import time

import gradio as gr
import pytest

from agent import PromptAgent
from ui.handlers import Handlers
from ui.i18n import request_lang


class FakeRequest:
    def __init__(self, session_hash="s1", language="zh-CN,zh;q=0.9"):
        self.session_hash = session_hash
        self.headers = {"accept-language": language}


@pytest.fixture()
def service(studio, tmp_path):
    from jobs import JobService, JobStore, LocalWorker

    running = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)], poll_s=0.2).start()
    yield running
    running.close()


@pytest.fixture()
def handlers(studio, service):
    return Handlers(studio, PromptAgent(), service)


def run(endpoint, *args, **kwargs):
    """Call an async endpoint as Gradio would, from a thread with no event loop."""
    return asyncio.run(endpoint(*args, **kwargs))


def start_slow_render(handlers, monkeypatch):
    """Session s1 starts a 100-step render slowed to ~50 ms a step; returns (steps, worker, outcome)
    once three steps have run."""
    pipe = handlers.studio.engine.load("t2v")
    steps = []
    original = pipe.transformer.forward

    def slow_forward(*args, **kwargs):
        steps.append(1)
        time.sleep(0.05)
        return original(*args, **kwargs)

    monkeypatch.setattr(pipe.transformer, "forward", slow_forward)
    outcome = {}

    def follow():
        outcome["value"] = run(handlers.text_to_video, "a cat", num_inference_steps=100, num_frames=9,
                               request=FakeRequest("s1"), progress=None)

    worker = threading.Thread(target=follow)
    worker.start()
    while len(steps) < 3:
        time.sleep(0.01)
    return steps, worker, outcome


def test_cancel_stops_the_running_job_and_frees_the_worker(handlers, monkeypatch):
    steps, worker, outcome = start_slow_render(handlers, monkeypatch)
    handlers.cancel("i2v", FakeRequest("s1"))  # another tab's Cancel leaves this job alone
    time.sleep(0.2)
    assert worker.is_alive()
    handlers.cancel("t2v", FakeRequest("s1"))
    worker.join(timeout=30)
    assert not worker.is_alive()
    assert len(steps) < 100 * 2  # stopped long before the end (two passes a step with guidance)
    assert outcome["value"][0] is not None and not isinstance(outcome["value"][0], str)  # no video

    monkeypatch.undo()  # the transformer's own forward again
    video, info = run(handlers.text_to_video, "a dog", num_inference_steps=2, num_frames=9,
                      request=FakeRequest("s1"), progress=None)
    assert video.endswith(".mp4") and info["seed"] >= 0


def test_cancel_of_another_session_does_nothing(handlers, monkeypatch):
    steps, worker, outcome = start_slow_render(handlers, monkeypatch)
    handlers.cancel("t2v", FakeRequest("nobody"))  # following no job: no error
    handlers.cancel("t2v", FakeRequest("s2"))  # another browser on the same tab, the same owner
    seen, deadline = len(steps), time.monotonic() + 20
    while len(steps) < seen + 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(steps) >= seen + 3 and worker.is_alive()  # still denoising
    (job,) = [j for j in handlers.service.works(handlers.owner(FakeRequest("s2"))) if not j.finished]
    assert not job.cancel_requested and job.status == "running"

    handlers.cancel("t2v", FakeRequest("s1"))  # its own session stops it
    worker.join(timeout=30)
    assert not worker.is_alive() and handlers.service.get(job.id).status == "cancelled"


def test_errors_become_gradio_errors_in_the_users_language(handlers):
    with pytest.raises(gr.Error) as err:
        run(handlers.text_to_video, "", request=FakeRequest(language="en-US"), progress=None)
    assert "prompt is empty" in str(err.value)
    with pytest.raises(gr.Error) as err:
        run(handlers.text_to_video, "", request=FakeRequest(language="zh-CN"), progress=None)
    assert "提示词为空" in str(err.value)


def test_user_values_in_messages_are_escaped(handlers):
    with pytest.raises(gr.Error) as err:
        run(handlers.text_to_video, "x", style="<b>bold</b>", request=FakeRequest(language="en"), progress=None)
    assert "<b>" not in str(err.value) and "&lt;b&gt;" in str(err.value)


def test_unexpected_failures_never_show_a_stack_trace(handlers, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(handlers.studio, "generate", broken)
    with pytest.raises(gr.Error) as err:
        run(handlers.text_to_video, "a cat", request=FakeRequest(language="en"), progress=None)
    assert "RuntimeError" in str(err.value) and "server log" in str(err.value)
    assert "Traceback" not in str(err.value)


def test_language_from_the_browser_forced_or_both():
    assert request_lang(FakeRequest(language="en-GB,en;q=0.9")) == "en"
    assert request_lang(FakeRequest(language="zh-TW")) == "zh"
    assert request_lang(FakeRequest(language="fr-FR")) == "zh"  # the product's default
    assert request_lang(FakeRequest(language="")) == "both"  # scripts
    assert request_lang(FakeRequest(language="en-US"), forced="zh") == "zh"


def test_prompt_note_counts_and_warns(handlers):
    note = handlers.prompt_note("a cat", "none", "t2v", FakeRequest(language="en"))
    assert note.startswith("5 characters") and "/226 tokens" in note
    long_note = handlers.prompt_note("the cat walks " * 200, "none", "t2v", FakeRequest(language="zh"))
    assert "⚠️" in long_note and "截断" in long_note


def test_suggest_keeps_the_text_offline_for_chinese(handlers):
    outputs = list(handlers.suggest_stream("小男孩喝咖啡", None, "t2v", "none", FakeRequest(language="zh")))
    assert outputs[-1] == "小男孩喝咖啡"


def test_uploaded_music_is_used(handlers, tmp_path, monkeypatch):
    import subprocess

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # the song is an upload Gradio made

    from cogvideo.media import codec

    song = tmp_path / "song.wav"
    subprocess.run([codec.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                    str(song)], check=True)
    video, info = run(handlers.text_to_video, "a cat", num_inference_steps=2, music="none", music_file=str(song),
                                         request=FakeRequest(language="en"), progress=None)
    assert codec.probe(video).audio_codec == "aac"


def test_a_bad_music_file_is_refused_before_rendering(handlers, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # the file is an upload Gradio made
    fake = tmp_path / "song.mp3"
    fake.write_text("not audio")
    rendered = []
    monkeypatch.setattr(handlers.studio.engine, "render", lambda *a, **k: rendered.append(1))
    with pytest.raises(gr.Error) as err:
        run(handlers.text_to_video, "a cat", music_file=str(fake), request=FakeRequest(language="en"), progress=None)
    assert "not an audio file" in str(err.value) and rendered == []


@pytest.mark.parametrize("field", ["num_frames", "guidance_scale", "music_volume"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_get_our_message(handlers, field, value):
    with pytest.raises(gr.Error) as err:
        run(handlers.text_to_video, "a cat", request=FakeRequest(language="en"), progress=None, **{field: value})
    text = str(err.value)
    assert field in text and "went wrong" not in text and "Traceback" not in text


def test_the_sliders_allow_exactly_the_studios_limits(handlers):
    from cogvideo.request import MAX_GUIDANCE, MAX_STEPS
    from ui.layout import PageConfig, build_demo

    engine = handlers.studio.engine
    demo = build_demo(handlers, PageConfig(t2v=engine.variant("t2v"), i2v=engine.variant("i2v"), lang=None))
    sliders = [b for b in demo.blocks.values() if isinstance(b, gr.Slider)]
    maxima = {(str(b.label), b.maximum) for b in sliders}
    assert any(m == MAX_STEPS for _, m in maxima) and any(m == MAX_GUIDANCE for _, m in maxima)
    assert not any(m in (100, 20) for _, m in maxima)  # the old, narrower limits


def test_a_picture_that_cannot_be_used_leaves_the_box_as_it_arrives(handlers, tmp_path, monkeypatch):
    from tests.conftest import make_photo

    warned = []
    monkeypatch.setattr(handlers, "_warn", lambda text, lang: warned.append((text, lang)))
    not_a_picture = tmp_path / "cat.png"
    not_a_picture.write_text("this is text, not a PNG")
    assert handlers.check_picture(str(not_a_picture), FakeRequest()) is None  # the box empties
    [(text, lang)] = warned
    assert lang == "zh" and "不是图片" in text.zh and "cat.png" in text.zh
    tiny = tmp_path / "dot.png"
    make_photo(8, 8).save(tiny)
    assert handlers.check_picture(str(tiny), FakeRequest(language="en-US")) is None
    assert warned[-1][1] == "en" and "at least" in warned[-1][0].en
    good = tmp_path / "photo.png"
    make_photo(320, 240).save(good)
    assert isinstance(handlers.check_picture(str(good), FakeRequest()), type(gr.skip()))  # kept as it is
    assert handlers.check_picture(None, FakeRequest()) is not None and len(warned) == 2
