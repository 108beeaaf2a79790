"""The prompt helper in the face: Generate translates a non-English prompt first (or warns), the
Chinese gloss under the box, a local model's download news, the status line.

The translation comes from `DictionaryAgent`, a real PromptAgent (templates) whose translation
and gloss come from a small dictionary: the same interface the local model and the services serve.
"""

from __future__ import annotations

import asyncio
import inspect

import gradio as gr
import pytest

from agent import PromptAgent, Suggestion
from bilingual import Text
from ui.handlers import Handlers

CHINESE = "小男孩喝咖啡"
ENGLISH = "A little boy drinking coffee"


class FakeRequest:
    def __init__(self, session_hash="s1", language="zh-CN,zh;q=0.9"):
        self.session_hash = session_hash
        self.headers = {"accept-language": language}


class DictionaryAgent(PromptAgent):
    """Translates and glosses from a dictionary; everything else is the templates' agent."""

    def __init__(self, translations: dict[str, str], glosses: dict[str, str] | None = None):
        super().__init__()
        self.translations = translations
        self.glosses = glosses or {}
        self.asked: list[str] = []

    def translate(self, text: str, progress=None) -> Suggestion:
        self.asked.append(text)
        if text in self.translations:
            return Suggestion(text=self.translations[text], source="llm")
        return Suggestion(text=text, source="kept",
                          warning=Text("The prompt could not be translated into English.", "提示词没能翻译成英文。"))

    def gloss(self, text: str, progress=None) -> str | None:
        return self.glosses.get(text)


@pytest.fixture()
def service(studio, tmp_path):
    from jobs import JobService, JobStore, LocalWorker

    running = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)], poll_s=0.2).start()
    yield running
    running.close()


def handlers_with(studio, service, agent) -> Handlers:
    return Handlers(studio, agent, service)


def run(endpoint, *args, **kwargs):
    """Call an async endpoint as Gradio would, from a thread with no event loop."""
    return asyncio.run(endpoint(*args, **kwargs))


def final(generator):
    """The last value an async generator endpoint (old_photo) yields."""
    async def drain():
        last = None
        async for last in generator:
            pass
        return last

    return asyncio.run(drain())


QUICK = dict(num_inference_steps=1, num_frames=9, progress=None)


# -- Generate: translate first --------------------------------------------------------------------


def test_generate_translates_a_chinese_prompt_before_the_job(studio, service, capsys):
    agent = DictionaryAgent({CHINESE: ENGLISH, "模糊": "blurry"})
    handlers = handlers_with(studio, service, agent)
    video, info = run(handlers.text_to_video, CHINESE, negative_prompt="模糊", request=FakeRequest(), **QUICK)
    assert video.endswith(".mp4")
    assert info["prompt"] == ENGLISH  # the final prompt shown after the run is the English one
    assert info["negative_prompt"] == "blurry"
    assert agent.asked == [CHINESE, "模糊"]
    assert f"已翻译为英文：{ENGLISH}" in capsys.readouterr().out  # a toast, in the page's language


def test_image_to_video_and_old_photos_translate_too(studio, service, tmp_path, photo):
    agent = DictionaryAgent({"小船漂走了": "The boat drifts away", "爷爷微笑": "Grandpa smiles"})
    handlers = handlers_with(studio, service, agent)
    picture = tmp_path / "photo.png"
    photo.save(picture)
    _video, info = run(handlers.image_to_video, str(picture), "小船漂走了", request=FakeRequest(), **QUICK)
    assert info["prompt"] == "The boat drifts away"
    _video, _still, info = final(handlers.old_photo(str(picture), "爷爷微笑", colorize=False, request=FakeRequest(),
                                                    **QUICK))
    assert "Grandpa smiles" in info["prompt"]


def test_an_english_prompt_goes_as_it_is(studio, service):
    agent = DictionaryAgent({})
    _video, info = run(handlers_with(studio, service, agent).text_to_video, "a cat on a roof",
                       request=FakeRequest(), **QUICK)
    assert info["prompt"] == "a cat on a roof" and agent.asked == []


def test_translation_off_renders_the_text_as_typed_with_a_warning(studio, service):
    agent = DictionaryAgent({CHINESE: ENGLISH})
    handlers = handlers_with(studio, service, agent)
    with pytest.warns(UserWarning, match="自动翻译为英文”已关闭"):
        _video, info = run(handlers.text_to_video, CHINESE, translate=False, request=FakeRequest(), **QUICK)
    assert info["prompt"] == CHINESE and agent.asked == []


def test_with_only_templates_a_chinese_prompt_is_warned_about_before_rendering(studio, service, caplog):
    handlers = handlers_with(studio, service, PromptAgent())
    with pytest.warns(UserWarning) as warned:
        video, info = run(handlers.text_to_video, CHINESE, request=FakeRequest(language="en"), **QUICK)
    [message] = [str(w.message) for w in warned if "English" in str(w.message)]
    # A plain sentence for the person (issue 21); the operator's how-to goes to the log.
    assert "no translator" in message and "python -m" not in message
    assert "python -m cogvideo download agent" in caplog.text
    assert video.endswith(".mp4") and info["prompt"] == CHINESE  # still rendered, not refused


def test_a_failed_translation_is_warned_about(studio, service):
    handlers = handlers_with(studio, service, DictionaryAgent({}))
    with pytest.warns(UserWarning, match="没能翻译成英文"):
        _video, info = run(handlers.text_to_video, "一只猫", request=FakeRequest(), **QUICK)
    assert info["prompt"] == "一只猫"


def test_new_parameters_come_last_on_each_generation_endpoint(studio, service):
    # Each parameter added after the first release goes at the end (speed, then translate, then
    # lora_scales, then aspect_ratio): a caller who passes values by position keeps working.
    from ui.layout import PageConfig, build_demo

    handlers = handlers_with(studio, service, PromptAgent())
    for endpoint in (handlers.text_to_video, handlers.image_to_video, handlers.old_photo):
        names = [name for name in inspect.signature(endpoint).parameters if name not in ("request", "progress")]
        # Inputs added later (the aspect ratio, the count of variations) come after these, so
        # positional callers keep working.
        assert names[names.index("speed"):names.index("lora_scales") + 1] == ["speed", "translate", "lora_scales"]
        assert inspect.signature(endpoint).parameters["translate"].default is True
        assert inspect.signature(endpoint).parameters["lora_scales"].default is None
    engine = studio.engine
    demo = build_demo(handlers, PageConfig(t2v=engine.variant("t2v"), i2v=engine.variant("i2v"), lang=None))
    info = demo.get_api_info()["named_endpoints"]
    for name in ("/text_to_video", "/image_to_video", "/old_photo", "/video_to_video", "/extend_video"):
        translate, scales = [p for p in info[name]["parameters"]
                             if p["parameter_name"] not in ("aspect_ratio", "variations")][-2:]
        assert translate["parameter_name"] == "translate" and translate["parameter_default"] is True
        assert scales["parameter_name"] == "lora_scales"
    for name in ("/text_to_video", "/image_to_video"):  # then the aspect ratio, then the variations
        aspect, count = info[name]["parameters"][-2:]
        assert (aspect["parameter_name"], count["parameter_name"], count["parameter_default"]) == (
            "aspect_ratio", "variations", 1)
    boxes = [b for b in demo.blocks.values() if isinstance(b, gr.Checkbox) and b.value is True]
    assert sum("translate" in str(box.label) for box in boxes) == 5  # one per generation tab, on


# -- the box: gloss, progress, status ---------------------------------------------------------------


def test_the_gloss_under_the_box(studio, service):
    agent = DictionaryAgent({}, glosses={ENGLISH: "一个小男孩在喝咖啡"})
    handlers = handlers_with(studio, service, agent)
    assert handlers.gloss_note(ENGLISH, CHINESE, FakeRequest()) == "**翻译/说明**：一个小男孩在喝咖啡"
    # An English page that typed English needs no gloss; one that typed Chinese gets it.
    assert handlers.gloss_note(ENGLISH, "a boy", FakeRequest(language="en")) == ""
    assert "一个小男孩在喝咖啡" in handlers.gloss_note(ENGLISH, CHINESE, FakeRequest(language="en"))
    assert handlers.gloss_note("something else", "", FakeRequest()) == ""
    assert handlers.gloss_note("<b>x</b>", "", FakeRequest()) == ""


def test_the_gloss_is_escaped(studio, service):
    agent = DictionaryAgent({}, glosses={ENGLISH: "<img src=x>"})
    note = handlers_with(studio, service, agent).gloss_note(ENGLISH, "", FakeRequest())
    assert "<img" not in note and "&lt;img" in note


def test_a_local_model_reports_its_loading_on_the_page(studio, service, capsys):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        handlers = handlers_with(studio, service, PromptAgent(local_model="tiny"))
        bar = []
        texts = list(handlers.suggest_stream("a boat", None, "t2v", "none", FakeRequest(),
                                             lambda fraction, desc=None: bar.append((fraction, desc))))
    finally:
        torch.set_num_threads(threads)
    assert texts  # the box got text
    assert bar[0] == (0.0, "正在构建 tiny 随机提示词模型…")  # on the progress bar ...
    assert "正在构建 tiny 随机提示词模型…" in capsys.readouterr().out  # ... and as a toast
    assert "**提示词助手** local · tiny · CPU" in handlers.status_line(FakeRequest())


def test_the_status_line_names_the_helper_in_the_pages_language(studio, service):
    handlers = handlers_with(studio, service, PromptAgent())
    assert "**提示词助手** 离线模板" in handlers.status_line(FakeRequest())
    assert "**prompt agent** offline templates" in handlers.status_line(FakeRequest(language="en"))
