"""The page on a Wan model, as a person uses it (headless Chromium), in both languages, on a desktop
and on a phone: `python app.py --model tiny-wan` names its model in the header, offers Quality
alone, and renders a Chinese prompt as typed (umT5 reads Chinese: no translation step). On
`--model wan2.1-1.3b` (no image to video; nothing is loaded to show the page) the image tabs say why.
Screenshots land in test-artifacts/wan-*.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from agent.clean import non_latin_share
from tests.conftest import RunningApp
from tests.e2e.test_browser import browser, open_sized, shot, visible_tab, wait_for_video  # noqa: F401

PROMPT = "一只橘猫在雪后的古城墙上慢慢走，镜头缓缓跟随"
DESKTOP, PHONE = (1400, 1100), (390, 844)
WORDS = {  # header, speed's title and its one choice, the prompt box, Generate, the final prompt box, translate
    "zh-CN": ("模型 tiny-wan（Wan）", "生成速度", "质量优先", "描述你想要的视频", "🎬 生成视频", "最终提示词",
              "自动翻译为英文（CogVideoX 只能读懂英文）"),
    "en-US": ("Model tiny-wan (Wan)", "Speed", "Quality", "Describe your video", "🎬 Generate video",
              "Final prompt sent to the model", "Translate to English before generating (CogVideoX reads English only)"),
}


@pytest.fixture(scope="module")
def wan_app(tmp_path_factory):
    # The offline templates as the prompt agent: they answer Chinese in Chinese for a model that reads it.
    running = RunningApp(tmp_path_factory.mktemp("wan-app"), extra_args=("--model", "tiny-wan"),
                         env={"PROMPT_AGENT_BACKEND": "templates"})
    yield running
    running.close()


@pytest.mark.parametrize("locale, size", [("zh-CN", DESKTOP), ("zh-CN", PHONE), ("en-US", DESKTOP), ("en-US", PHONE)])
def test_a_chinese_prompt_renders_as_typed_on_tiny_wan(browser, wan_app, locale, size):  # noqa: F811
    header, speed_title, quality, prompt_label, generate, final_prompt, translate = WORDS[locale]
    page = open_sized(browser, wan_app, *size, locale=locale)
    expect(page.locator("#studio-status p").first).to_contain_text(header)
    panel = visible_tab(page)
    speeds = panel.locator("fieldset").filter(has=page.get_by_test_id(f"{quality}-radio-label")).first
    expect(speeds.get_by_test_id("block-info")).to_have_text(speed_title)
    expect(speeds.locator("label")).to_have_text([quality])  # Quality alone: no Balanced, Fast, Lean
    expect(panel.get_by_label(translate)).to_be_hidden()  # nothing to translate for a model that reads Chinese
    panel.get_by_label(prompt_label).fill(PROMPT)
    panel.get_by_role("button", name=generate).click()
    wait_for_video(page, panel)
    # The job's prompt is the user's Chinese: no translation (and so no toast saying one was made).
    expect(panel.get_by_label(final_prompt)).to_have_value(PROMPT)
    assert page.get_by_text("已翻译为英文").count() == 0 and page.get_by_text("Translated into English").count() == 0
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, f"wan-t2v-{locale}-{size[0]}")
    page.context.close()


def test_help_me_write_one_answers_chinese_in_chinese_on_a_phone(browser, wan_app):  # noqa: F811
    page = open_sized(browser, wan_app, *PHONE, locale="zh-CN")
    panel = visible_tab(page)
    box = panel.get_by_label("描述你想要的视频")
    box.fill("小狗在海边追海鸥")
    panel.get_by_role("button", name="✨ 帮我想一条").click()
    expect(box).to_have_value(re.compile(r"小狗在海边追海鸥。.{40,}"))  # the words kept, a richer Chinese prompt around them
    assert non_latin_share(box.input_value()) > 0.9
    assert page.get_by_test_id("toast-body").count() == 0  # no "English only" notice
    shot(page, "wan-suggest-zh-CN-390", full_page=False)
    page.context.close()


@pytest.fixture(scope="module")
def wan13_app(tmp_path_factory):
    running = RunningApp(tmp_path_factory.mktemp("wan13-app"), extra_args=("--model", "wan2.1-1.3b"))
    yield running
    running.close()


@pytest.mark.parametrize("locale, size, tab, said", [
    ("zh-CN", PHONE, "图生视频", "wan2.1-1.3b 不支持图生视频"),
    ("en-US", DESKTOP, "Old photo", "wan2.1-1.3b cannot make image to video"),
])
def test_wan_1_3b_image_tabs_say_why_instead_of_a_form(browser, wan13_app, locale, size, tab, said):  # noqa: F811
    page = open_sized(browser, wan13_app, *size, locale=locale)
    expect(page.locator("#studio-status p").first).to_contain_text("Wan2.1-1.3B")
    page.get_by_role("tab", name=tab).click()
    panel = visible_tab(page)
    expect(panel.get_by_text(said)).to_be_visible()
    expect(panel.get_by_role("button", name="🎬 生成视频" if locale == "zh-CN" else "🎬 Generate video")).to_have_count(0)
    expect(panel.locator(".prompt-box textarea").first).to_be_hidden()  # no form at all
    expect(page.locator("#t2v-extend")).to_be_hidden()  # no way into the Extend tab either
    shot(page, f"wan13-{tab}-{locale}-{size[0]}")
    page.context.close()
