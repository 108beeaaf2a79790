"""The words a person reads (issue 21): toast titles in the page's language, one plain sentence
when the prompt helper has no model (the operator's how-to in the log), the picture asked for
first, the details as a table, a one-line header, captions, styles and GIF sizes that explain
themselves. In-process: real handlers, a real job service and the tiny studio."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import gradio as gr
import pytest

from agent import PromptAgent
from bilingual import Text
from cogvideo.catalogues.styles import apply_style, get_style
from cogvideo.engine import speed
from cogvideo.media import codec
from cogvideo.media.gif import export_gif
from ui import words
from ui.handlers import Handlers, build_request, caption, details

CHINESE = "一只小猫在窗台上晒太阳"
OPERATOR_WORDS = re.compile(r"HF_HUB_OFFLINE|HF_HOME|PROMPT_AGENT|OPENAI|python -m|hf download")


class FakeRequest:
    def __init__(self, session_hash="s1", language="zh-CN,zh;q=0.9"):
        self.session_hash = session_hash
        self.headers = {"accept-language": language}


ZH, EN = FakeRequest(), FakeRequest(language="en-US,en;q=0.9")


@pytest.fixture()
def service(studio, tmp_path):
    from jobs import JobService, JobStore, LocalWorker

    running = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)], poll_s=0.2).start()
    yield running
    running.close()


@pytest.fixture()
def handlers(studio, service):
    return Handlers(studio, PromptAgent(), service)  # templates only: nothing translates


def run(endpoint, *args, **kwargs):
    return asyncio.run(endpoint(*args, **kwargs))


def test_errors_carry_a_title_in_the_pages_language(handlers):
    with pytest.raises(gr.Error) as zh:
        handlers.export_gif(None, request=ZH)
    assert zh.value.title == "出错了"
    with pytest.raises(gr.Error) as en:
        handlers.change_music(None, request=EN)
    assert en.value.title != "Error" and en.value.title == "Something is wrong"
    with pytest.raises(gr.Error) as unknown:
        handlers.apply_template("no-such-template", "", request=ZH)
    assert unknown.value.title == "出错了"


def test_toast_titles_follow_the_language():
    assert words.title("warning", "zh") == "注意" and words.title("info", "zh") == "提示"
    assert words.title("warning", "en") == "Note"
    assert words.title("warning", "both") == "注意 / Note"


def test_help_me_write_one_with_chinese_and_no_model_says_one_plain_sentence(handlers, caplog):
    with caplog.at_level(logging.WARNING, logger="cogvideo.app"), pytest.warns(UserWarning) as warned:
        shown = list(handlers.suggest_stream(CHINESE, None, "t2v", "none", ZH))
    assert shown[-1] == CHINESE  # the user's text stays in the box
    [message] = [str(w.message) for w in warned]
    assert message == words.HELPER_OFF.zh and "提示词助手暂未启用" in message
    assert not OPERATOR_WORDS.search(message)
    # The operator's how-to is in the log.
    assert "python -m cogvideo download agent" in caplog.text


def test_help_me_write_one_without_its_model_says_why_without_the_operators_words(studio, service, caplog,
                                                                                 monkeypatch):
    """The local prompt model is set up but not downloaded (offline here; on a phone with no
    network the download fails the same way): the page says what became of the text in one plain
    sentence; the command, the variables and the exception's name go to the log."""
    from agent.local import DOWNLOAD_COMMAND, missing_weights

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    agent = PromptAgent.from_env({"PROMPT_AGENT_LOCAL_MODEL": "nobody/not-downloaded-model"})
    handlers = Handlers(studio, agent, service)
    with caplog.at_level(logging.WARNING, logger="cogvideo.app"), pytest.warns(UserWarning) as warned:
        shown = list(handlers.suggest_stream("", None, "t2v", "none", ZH))  # an empty box: a template's idea
    assert shown[-1].strip()
    [message] = [str(w.message) for w in warned]
    assert message == words.HELPER_FAILED["offline"].zh
    assert not OPERATOR_WORDS.search(message) and "Error" not in message
    assert DOWNLOAD_COMMAND in caplog.text
    # A reason a person can read is shown as it is; one with the operator's words is not.
    failed = Text("The prompt model could not be downloaded (LocalEntryNotFoundError).",
                  "提示词模型下载失败（LocalEntryNotFoundError）。")
    assert words.for_people(failed, words.HELPER_FAILED["kept"]) == words.HELPER_FAILED["kept"]
    assert words.for_people(missing_weights("m"), words.TRANSLATION_FAILED) == words.TRANSLATION_FAILED
    plain = Text("The model wrote no prompt.", "模型没有写出提示词。")
    assert words.for_people(plain, words.HELPER_FAILED["kept"]) == plain


def test_generate_with_chinese_and_no_translator_says_what_the_model_will_see(handlers, caplog):
    with caplog.at_level(logging.WARNING, logger="cogvideo.app"), pytest.warns(UserWarning) as warned:
        video, info = run(handlers.text_to_video, CHINESE, num_inference_steps=1, num_frames=9,
                          request=ZH, progress=None)
    messages = [str(w.message) for w in warned]
    assert words.NOT_TRANSLATED.zh in messages
    assert not any(OPERATOR_WORDS.search(m) for m in messages)
    assert "python -m cogvideo download agent" in caplog.text
    assert video.endswith(".mp4") and info["prompt"] == CHINESE  # rendered as typed, as it said


def test_the_note_under_the_box_warns_before_generate(handlers):
    note = handlers.prompt_note(CHINESE, "none", "t2v", ZH)
    assert "本站暂无翻译助手" in note and not OPERATOR_WORDS.search(note)
    assert "翻译助手" not in handlers.prompt_note("a cat on a windowsill", "none", "t2v", ZH)


class _no_warnings:
    """Records the UserWarnings (our toasts outside a page) raised inside it."""

    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.seen = self._catch.__enter__()
        warnings.simplefilter("always")
        return self.seen

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        self.seen[:] = [w for w in self.seen if issubclass(w.category, UserWarning)]
        return False


@pytest.mark.parametrize("endpoint", ["image_to_video", "old_photo"])
def test_image_modes_ask_for_the_picture_before_anything_else(handlers, endpoint):
    async def call():
        result = getattr(handlers, endpoint)(None, CHINESE, request=ZH, progress=None)
        if hasattr(result, "__anext__"):
            async for _ in result:
                pass
        else:
            await result

    with _no_warnings() as seen:
        with pytest.raises(gr.Error) as error:
            asyncio.run(call())
    assert seen == []  # nothing about translation came first
    assert "请先上传一张图片" in str(error.value) and error.value.title == "出错了"


def test_details_are_a_table_in_the_pages_language(handlers):
    video, info = run(handlers.text_to_video, "a cat on a windowsill", num_inference_steps=1, num_frames=9,
                      request=EN, progress=None)
    table = words.details_table(info, "zh", speed.PRESETS)
    assert "| 种子 |" in table and "| 帧数 |" in table and "| 通道 |" in table
    assert "null" not in table and "None" not in table
    keys = re.findall(r"^\| ([^|]+) \|", table, flags=re.M)
    assert not [k for k in keys if re.fullmatch(r"[a-z_ ]+", k.strip())], keys  # no English keys
    assert "| Seed |" in words.details_table(info, "en", speed.PRESETS)


def test_the_header_is_one_short_line_and_the_rest_is_folded(handlers):
    status = handlers.status_line(ZH)
    first, _, rest = status.partition("\n")
    assert "模型" in first and "排队" in first and "通道" in first
    assert "精度" not in first and "显存" not in first and len(first) < 120
    assert "<details" in rest and "<summary>系统信息</summary>" in rest and "精度" in rest


def test_work_captions_name_the_mode_and_a_missing_prompt(handlers, studio, tmp_path):
    from jobs.job import Job

    request = build_request("old_photo", prompt="", image=str(_photo(tmp_path)), seed=1, num_inference_steps=1,
                            guidance_scale=6, num_frames=9, style="none", music="none", music_volume=0.5,
                            upscale=False, interpolate=False, colorize=False)
    job = handlers.service.submit(request, "local")
    assert isinstance(job, Job)
    text = caption(job, "zh")
    assert text.startswith("老照片 · ") and text.endswith("（未填提示词）")


def test_a_work_made_with_another_model_names_it_in_its_caption(handlers, tmp_path):
    request = build_request("t2v", prompt="a boat", image=None, seed=1, num_inference_steps=1, guidance_scale=6,
                            num_frames=9, style="none", music="none", music_volume=0.5, upscale=False,
                            interpolate=False, colorize=False)
    job = handlers.service.submit(request, "captions")
    [listed] = handlers.service.works("captions", brief=True)  # as the gallery reads it
    made_with = handlers.studio.model
    assert listed.id == job.id and listed.request["model"] == made_with
    assert made_with not in caption(listed, "zh", made_with)  # this server's own: not repeated on every work
    # After the server changed model, the old work says what made it.
    assert caption(listed, "en", "wan2.1-1.3b").startswith(f"Text to video · {made_with} · ")


def test_an_opened_work_that_never_started_says_its_seed_is_random(handlers):
    """我的作品 opens a cancelled work that never left the line: its seed is the request's -1."""
    import dataclasses

    request = build_request("t2v", prompt="a boat", image=None, seed=-1, num_inference_steps=1, guidance_scale=6,
                            num_frames=9, style="none", music="none", music_volume=0.5, upscale=False,
                            interpolate=False, colorize=False)
    job = dataclasses.replace(handlers.service.submit(request, "seeds"), seed=None)  # as before it starts
    assert "**种子**: 随机（开始生成时确定）" in details(job, "zh") and "**种子**: -1" not in details(job, "zh")
    assert "**Seed**: random (chosen when it starts)" in details(job, "en")
    assert "**种子**: 7  " in details(dataclasses.replace(job, seed=7), "zh")


def test_the_old_photo_tab_without_a_colorizer_says_so_without_the_operators_command(studio, caplog):
    from ui.i18n import TEXT

    with caplog.at_level(logging.INFO, logger="cogvideo.app"):
        assert not words.colorize_available(studio)  # the tiny studio has no DDColor weights
    assert "hf download piddnad/DDColor-models" in caplog.text  # for whoever runs the studio
    for shown in TEXT["colorize_missing"]:
        assert "上色" in shown or "Colorizing" in shown
        assert not OPERATOR_WORDS.search(shown) and "`" not in shown


def _photo(tmp_path):
    from tests.conftest import make_photo

    path = tmp_path / "photo.png"
    make_photo(96, 64).save(path)
    return path


def test_a_style_continues_the_sentence_in_lower_case(studio):
    ink = get_style("ink-wash", studio.styles)
    assert "ink wash painting of the same scene." in apply_style(ink, "The same scene")[0]
    assert "of NASA rockets" in apply_style(ink, "NASA rockets")[0]


def test_a_gif_narrower_than_asked_says_why(tmp_path):
    import numpy as np

    clip = codec.encode_mp4(np.zeros((9, 96, 144, 3), np.uint8), 8, tmp_path / "clip.mp4")
    result = export_gif(clip, tmp_path / "clip.gif", width=480)
    text = result.size_text()
    assert result.width == 144
    assert "视频本身只有 144 像素宽" in text.zh and "not 480" in text.en


def test_colorizer_availability_is_a_file_check(studio, monkeypatch, tmp_path):
    from cogvideo.media.colorize import Colorizer

    class Holder:
        colorizer = Colorizer(weights=tmp_path / "missing.pth")

    assert words.colorize_available(Holder()) is False
    (tmp_path / "here.pth").write_bytes(b"x")
    Holder.colorizer = Colorizer(weights=tmp_path / "here.pth")
    start = time.monotonic()
    assert words.colorize_available(Holder()) is True
    assert time.monotonic() - start < 1  # nothing loaded


@pytest.mark.parametrize("name, zh, en", [
    ("5b", "每秒 8 帧：49 帧即 6 秒视频", "8 frames a second: 49 frames make a 6 s video"),
    ("1.5-5b", "每秒 16 帧：81 帧即 5 秒视频", "16 frames a second: 81 frames make a 5 s video"),
    ("wan2.2-5b", "每秒 24 帧：121 帧即 5 秒视频", "24 frames a second: 121 frames make a 5 s video"),
    ("tiny-wan", "每秒 16 帧：9 帧即 0.5 秒视频", "16 frames a second: 9 frames make a 0.5 s video"),
])
def test_the_frames_slider_says_how_long_the_video_is(name, zh, en):
    from cogvideo.engine.models import VARIANTS

    assert words.frames_info(VARIANTS[name]) == Text(en, zh)
