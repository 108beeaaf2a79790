"""Aspect ratio (画面比例) as a person uses it (issue 21): on the tiny model, which offers several
shapes, pick 9:16 and get a portrait video, on a desktop and on a phone (touch), in both languages;
a model of one size (CogVideoX-5B, started without its weights: they load on the first video) says
why there is no choice. Headless Chromium; screenshots land in test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import RunningApp
from tests.e2e.test_browser import browser, open_sized, shot, visible_tab, wait_for_video  # noqa: F401
from tests.e2e.test_phone import tap
from tests.e2e.test_works import FAST, cover, find_job, open_works, unique

WORDS = {
    "zh-CN": dict(title="画面比例", portrait="9:16 竖屏 · 80×144", own="3:2 横屏 · 144×96", prompt="描述你想要的视频",
                  generate="🎬 生成视频", i2v="图生视频", follows="画面比例跟随你上传的图片", works="我的作品",
                  reuse="♻️ 做同款", t2v="文生视频"),
    "en-US": dict(title="Aspect ratio", portrait="9:16 portrait · 80×144", own="3:2 landscape · 144×96",
                  prompt="Describe your video", generate="🎬 Generate video", i2v="Image to video",
                  follows="The video takes the shape of your picture", works="My works", reuse="♻️ Make one like this",
                  t2v="Text to video"),
}
SCREENS = [(1366, 900, "zh-CN"), (390, 844, "zh-CN"), (1366, 900, "en-US"), (390, 844, "en-US")]


def video_size(page, panel) -> list[int]:
    wait_for_video(page, panel)
    return panel.locator("video").first.evaluate("el => [el.videoWidth, el.videoHeight]")


@pytest.mark.parametrize("width,height,locale", SCREENS, ids=[f"{w}-{loc}" for w, _, loc in SCREENS])
def test_choose_9_16_and_get_a_portrait_video(browser, app, width, height, locale):  # noqa: F811
    words = WORDS[locale]
    page = open_sized(browser, app, width, height, locale)
    try:
        panel = visible_tab(page)
        group = panel.locator("#t2v-aspect")
        expect(group).to_be_visible()
        expect(group).to_contain_text(words["title"])
        expect(group.locator("label")).to_have_count(4)
        radios = group.locator("input[type=radio]")
        expect(radios.nth(0)).to_be_checked()  # the model's own size
        expect(group.get_by_test_id(f"{words['own']}-radio-label")).to_be_visible()
        tap(page, group.get_by_test_id(f"{words['portrait']}-radio-label"))
        expect(radios.nth(2)).to_be_checked()
        assert page.evaluate("() => document.scrollingElement.scrollWidth <= innerWidth"), "the page scrolls sideways"
        panel.get_by_label(words["prompt"]).fill(unique("a tall lighthouse on a cliff"))
        page.wait_for_timeout(300)  # the radio's check mark fades in: let it finish before the picture
        shot(page, f"aspect-{width}-{locale}", full_page=width > 800)
        tap(page, panel.get_by_role("button", name=words["generate"]))
        assert video_size(page, panel) == [80, 144]  # portrait, as chosen
        shot(page, f"aspect-{width}-{locale}-video", full_page=width > 800)
        # Image to video on the tiny model follows the picture: a note, not a choice.
        tap(page, page.get_by_role("tab", name=words["i2v"], exact=True))
        i2v = visible_tab(page)
        expect(i2v.locator("#i2v-aspect-note")).to_contain_text(words["follows"])
        expect(i2v.locator("#i2v-aspect")).to_have_count(0)
    finally:
        page.context.close()


def test_reuse_restores_the_shape(browser, app, client):  # noqa: F811
    words = WORDS["zh-CN"]
    prompt = unique("a tall tower in the fog")
    client.predict(prompt=prompt, aspect_ratio="9:16", api_name="/text_to_video", **FAST)
    assert (find_job(client, prompt)["status"]) == "succeeded"
    page = open_sized(browser, app, 1366, 900, "zh-CN")
    try:
        open_works(page, words["works"])
        cover(page, prompt).click()
        visible_tab(page).get_by_role("button", name=words["reuse"]).click()
        expect(page.get_by_role("tab", name=words["t2v"], exact=True)).to_have_attribute("aria-selected", "true")
        radios = visible_tab(page).locator("#t2v-aspect input[type=radio]")
        expect(radios.nth(2)).to_be_checked()
        expect(radios.nth(2)).to_have_attribute("value", "9:16")
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def fixed_app(tmp_path_factory):
    """CogVideoX-5B, one size only. Its weights are not here; the page needs none until a video."""
    running = RunningApp(tmp_path_factory.mktemp("app-5b"), extra_args=("--model", "5b"))
    yield running
    running.close()


@pytest.mark.parametrize("width,height,locale", [(1366, 900, "zh-CN"), (390, 844, "zh-CN"), (1366, 900, "en-US")])
def test_a_fixed_size_model_says_why_there_is_no_choice(browser, fixed_app, width, height, locale):  # noqa: F811
    page = open_sized(browser, fixed_app, width, height, locale)
    try:
        panel = visible_tab(page)
        note = panel.locator("#t2v-aspect-note")
        expect(note).to_be_visible()
        if locale == "zh-CN":
            expect(note).to_contain_text("CogVideoX-5B 只能生成 720×480（3:2 横屏）")
        else:
            expect(note).to_contain_text("CogVideoX-5B renders 720×480 (3:2 landscape) only")
        expect(panel.locator("#t2v-aspect")).to_have_count(0)  # no choice offered
        shot(page, f"aspect-fixed-{width}-{locale}", full_page=width > 800)
        tap(page, page.get_by_role("tab", name=WORDS[locale]["i2v"], exact=True))
        i2v_note = visible_tab(page).locator("#i2v-aspect-note")
        expect(i2v_note).to_contain_text("CogVideoX-5B-I2V")
        expect(i2v_note).to_contain_text("裁剪" if locale == "zh-CN" else "cropped")
    finally:
        page.context.close()
