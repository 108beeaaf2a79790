"""The page on a Wan model, without a browser: the header names the model and its family, a Chinese
prompt reaches the job as typed (umT5 reads it), the speed choice offers only the family's presets,
and the tabs a model cannot serve (Wan2.1-1.3B has no image to video) say so instead of a form.
CogVideoX keeps translating (tests/test_prompt_helper.py)."""

from __future__ import annotations

import asyncio

import gradio as gr
import pytest

from agent import PromptAgent, Suggestion
from ui.handlers import Handlers

CHINESE = "小男孩在雨中的街道上放纸船"
ZH = "zh-CN,zh;q=0.9"


class FakeRequest:
    def __init__(self, language=ZH, session_hash="s1"):
        self.session_hash = session_hash
        self.headers = {"accept-language": language}


class CountingAgent(PromptAgent):
    """The templates' agent with a translator that counts what it was asked: on a model that reads
    Chinese nothing may be asked."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []

    def translate(self, text: str, progress=None) -> Suggestion:
        self.asked.append(text)
        return Suggestion(text="A boy floats a paper boat down a rainy street", source="llm")

    @property
    def can_translate(self) -> bool:
        return True


def studio_of(model: str, tmp_path):
    from cogvideo.engine.render import Engine
    from cogvideo.studio import Studio

    return Studio(Engine(model), tmp_path / f"outputs-{model}")


@pytest.fixture()
def wan_service(tmp_path):
    from jobs import JobService, JobStore, LocalWorker

    studio = studio_of("tiny-wan", tmp_path)
    running = JobService(JobStore(tmp_path / "data"), [LocalWorker(studio)], poll_s=0.2).start()
    yield running
    running.close()


def test_a_chinese_prompt_reaches_a_wan_job_as_typed(wan_service):
    agent = CountingAgent()
    handlers = Handlers(wan_service.workers[0].studio, agent, wan_service)
    video, info = asyncio.run(handlers.text_to_video(CHINESE, num_inference_steps=2, num_frames=9,
                                                     request=FakeRequest(), progress=None))
    assert video.endswith(".mp4")
    assert agent.asked == []  # no translation step
    assert info["prompt"] == CHINESE
    job = wan_service.get(info["job_id"])
    assert job.request["prompt"] == CHINESE and job.user_prompt == CHINESE
    _video, card, _job = handlers.open_work(job.id, FakeRequest())  # 我的作品 names the model
    assert "**模型**: tiny-wan" in card and f"**提示词**: {CHINESE}" in card


def test_the_live_note_does_not_call_chinese_a_problem_on_wan(wan_service, studio, service_of):
    wan = Handlers(wan_service.workers[0].studio, PromptAgent(), wan_service)
    assert "⚠️" not in wan.prompt_note(CHINESE, "none", "t2v", FakeRequest())
    cog = Handlers(studio, PromptAgent(), service_of(studio))  # CogVideoX without a translator still warns
    assert "⚠️" in cog.prompt_note(CHINESE, "none", "t2v", FakeRequest())


@pytest.fixture()
def service_of(tmp_path):
    from jobs import JobService, JobStore, LocalWorker

    made = []

    def make(studio):  # never started: these tests only read the counts
        made.append(JobService(JobStore(tmp_path / f"data-{len(made)}"), [LocalWorker(studio)]))
        return made[-1]

    yield make
    for service in made:
        service.close()


@pytest.mark.parametrize("model, zh, en", [
    ("tiny-wan", "**模型** tiny-wan（Wan）", "**Model** tiny-wan (Wan)"),
    ("wan2.1-1.3b", "**模型** Wan2.1-1.3B ·", "**Model** Wan2.1-1.3B ·"),
    ("wan2.2-5b", "**模型** Wan2.2-5B ·", "**Model** Wan2.2-5B ·"),
    ("tiny", "**模型** tiny ·", "**Model** tiny ·"),  # the page's title names CogVideoX
    ("5b", "**模型** CogVideoX-5B ·", "**Model** CogVideoX-5B ·"),
])
def test_the_header_names_the_model_and_its_family(model, zh, en, tmp_path, service_of):
    studio = studio_of(model, tmp_path)
    handlers = Handlers(studio, PromptAgent(), service_of(studio))
    assert handlers.status_line(FakeRequest()).startswith(zh)
    assert handlers.status_line(FakeRequest("en-US")).startswith(en)


def page_of(model: str, tmp_path, service_of) -> gr.Blocks:
    from ui.layout import PageConfig, build_demo

    studio = studio_of(model, tmp_path)
    handlers = Handlers(studio, PromptAgent(), service_of(studio))
    config = PageConfig(t2v=studio.variants.get("t2v"), i2v=studio.variants.get("i2v"), lang=None,
                        speeds=tuple(studio.fitting_speeds()))
    return build_demo(handlers, config)


def blocks_of(demo: gr.Blocks, kind) -> list:
    return [b for b in demo.blocks.values() if isinstance(b, kind)]


def table(demo: gr.Blocks) -> dict:
    """The page's words by key, in Chinese and English."""
    return {key: (demo.i18n_table.translations["en"].get(key), demo.i18n_table.translations["zh-CN"].get(key))
            for key in demo.i18n_table.translations["en"]}


def test_a_wan_page_offers_only_quality_and_no_translation(tmp_path, service_of):
    demo = page_of("tiny-wan", tmp_path, service_of)
    speeds = [b for b in blocks_of(demo, gr.Radio) if [value for _, value in b.choices] == ["quality"]]
    assert len(speeds) == 5  # one per generation tab, Quality alone
    assert not [b for b in blocks_of(demo, gr.Radio) if "fast" in [value for _, value in b.choices]]
    translate = [b for b in blocks_of(demo, gr.Checkbox) if "translate" in str(b.label)]
    assert len(translate) == 5 and not any(b.visible for b in translate)
    assert not [b for b in blocks_of(demo, gr.Markdown) if str(b.elem_id or "").endswith("-unable")]
    upscale = [b for b in blocks_of(demo, gr.Checkbox) if "upscale" in str(b.label)]
    assert upscale and all("upscale_2x" in str(b.label) for b in upscale)  # not "1440p": that is 720×480 doubled
    assert table(demo)["upscale_2x"] == ("Upscale (2×)", "超分（2 倍）")


@pytest.mark.parametrize("model", ["wan2.1-1.3b", "2b"])  # CogVideoX-2B has no image to video either
def test_tabs_without_image_to_video_say_so(model, tmp_path, service_of):
    demo = page_of(model, tmp_path, service_of)
    words = table(demo)
    notes = {b.elem_id: b for b in blocks_of(demo, gr.Markdown) if str(b.elem_id or "").endswith("-unable")}
    assert set(notes) == {"i2v-unable", "old_photo-unable", "extend-unable"}
    for mode in ("i2v", "old_photo", "extend"):
        en, zh = words[f"unable.{mode}"]
        assert f"{model} cannot make image to video" in en and "wan2.2-5b" in en
        assert "不支持图生视频" in zh and "wan2.2-5b" in zh
        assert "--" not in en + zh and "flag" not in en  # no command-line words on the page
    # The forms of those tabs are hidden; text to video and restyle keep theirs.
    generate = [b for b in blocks_of(demo, gr.Button) if b.value == "generate" or "generate" in str(b.value)]
    rows_hidden = [b for b in blocks_of(demo, gr.Row) if b.visible is False]
    assert len(rows_hidden) >= 3 and len(generate) == 5
    extend_buttons = [b for b in blocks_of(demo, gr.Button) if str(b.elem_id or "").endswith("-extend")]
    assert extend_buttons and not any(b.visible for b in extend_buttons)  # nowhere to extend to


def test_a_cogvideox_page_is_as_before(tmp_path, service_of):
    demo = page_of("tiny", tmp_path, service_of)
    translate = [b for b in blocks_of(demo, gr.Checkbox) if "translate" in str(b.label)]
    assert len(translate) == 5 and all(b.visible for b in translate)
    assert not [b for b in blocks_of(demo, gr.Markdown) if str(b.elem_id or "").endswith("-unable")]
    assert "unable.i2v" not in table(demo)


def test_help_me_write_one_answers_chinese_in_chinese_on_wan(wan_service, studio, service_of):
    from agent.clean import non_latin_share

    wan = Handlers(wan_service.workers[0].studio, PromptAgent(), wan_service)  # the offline templates
    written = wan.suggest_prompt(CHINESE, style="cartoon-3d", request=FakeRequest())
    assert CHINESE in written and "卡通3D" in written and non_latin_share(written) > 0.9
    assert wan.suggest_prompt("", request=FakeRequest()) and non_latin_share(wan.suggest_prompt("", request=FakeRequest())) > 0.9
    cog = Handlers(studio, PromptAgent(), service_of(studio))
    with pytest.warns(UserWarning):  # CogVideoX: kept, and the page says why
        assert cog.suggest_prompt(CHINESE, request=FakeRequest()) == CHINESE


def test_the_speed_help_says_why_wan_has_only_quality(tmp_path, service_of):
    en, zh = table(page_of("tiny-wan", tmp_path, service_of))["speed_fit_info"]
    assert "not offered on Wan models" in en and "checked on CogVideoX only" in en
    assert "暂不支持 Wan 模型" in zh
    assert "graphics memory" not in en and "显存超出" not in zh  # the card is not the reason
    assert "Fast: about 1.6×" not in en  # no words on speed-ups that are not there


def test_image_to_video_on_tiny_wan_keeps_the_chinese_too(wan_service, tmp_path):
    from tests.conftest import make_photo

    picture = tmp_path / "photo.png"
    make_photo(300, 200).save(picture)
    agent = CountingAgent()
    handlers = Handlers(wan_service.workers[0].studio, agent, wan_service)
    video, info = asyncio.run(handlers.image_to_video(str(picture), "小船慢慢漂向远方", num_inference_steps=2,
                                                      num_frames=9, request=FakeRequest(), progress=None))
    assert video.endswith(".mp4") and info["prompt"] == "小船慢慢漂向远方" and agent.asked == []


def test_an_image_to_video_folder_says_where_its_videos_are_made(tmp_path):
    from cogvideo.engine import tiny
    from ui.layout import unable_note

    folder = tmp_path / "i2v-only"
    tiny.build_pipeline("i2v").save_pretrained(folder)  # a folder is its own model: no text-to-video partner
    studio = studio_of(str(folder), tmp_path)
    note = unable_note(studio, "t2v")
    assert "cannot make text to video" in note.en and "Image to video, Old photo and Extend" in note.en
    assert "“图生视频”“老照片”和“视频续写”" in note.zh
    assert unable_note(studio, "i2v") is None and unable_note(studio, "v2v") is not None


@pytest.mark.parametrize("model, own", [("tiny-wan", 5.0), ("tiny", 6.0)])
def test_a_template_takes_the_models_own_guidance_and_length_unless_it_asks(model, own, tmp_path, service_of):
    studio = studio_of(model, tmp_path)
    handlers = Handlers(studio, PromptAgent(), service_of(studio))
    story = handlers.apply_template("story", "我家的橘猫", request=FakeRequest())
    assert story["guidance_scale"] == own  # null in the file: the model's own, not CogVideoX's 6 on Wan
    assert story["num_frames"] == studio.variants["i2v"].num_frames
    meme = handlers.apply_template("meme", "我家的橘猫", request=FakeRequest())
    assert meme["guidance_scale"] == 7.0  # asked for: a meme's reaction follows the prompt harder
    variant = studio.variants["i2v"]
    # 3 s at this model's rate, or as near as it renders (tiny-wan's longest is 33 frames, 2 s).
    seconds = (meme["num_frames"] - 1) / variant.fps
    assert abs(seconds - 3) <= variant.frame_step / variant.fps or meme["num_frames"] == variant.max_frames
