"""The creative tools as a person uses them (headless Chromium): restyle a clip, press Extend under
the result, continue it on the Extend tab, download a GIF; pick an image-to-video template."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.test_browser import (  # noqa: F401  (browser is a fixture)
    RENDER_MS, browser, open_page, shot, visible_tab)
from tests.e2e.test_live import set_slider
from tests.test_creative import make_clip


def wait_for(page, selector: str, timeout=RENDER_MS) -> float:
    """The duration of the <video> under `selector` once it has loaded."""
    video = page.locator(f"{selector} video").first
    video.wait_for(state="attached", timeout=timeout)
    page.wait_for_function("(el) => el.readyState >= 1 && el.duration > 0", arg=video.element_handle())
    return video.evaluate("el => el.duration")


def test_restyle_then_extend_then_gif_in_chinese(browser, app, tmp_path):  # noqa: F811
    clip = make_clip(tmp_path / "舞蹈.mp4", frames=24)
    page = open_page(browser, app, "zh-CN")
    page.get_by_role("tab", name="视频转绘").click()
    panel = visible_tab(page)
    expect(panel.get_by_text("转绘强度").first).to_be_visible()
    panel.locator("#v2v-source input[type=file]").set_input_files(str(clip))
    panel.get_by_label("描述你想要的视频").fill("the same scene as a watercolor painting")
    panel.get_by_role("button", name="🎬 生成视频").click()
    # The tiny model restyles 9 frames at 8 fps: 1.125 s.
    assert abs(wait_for(page, "#v2v-result") - 9 / 8) < 0.15
    shot(page, "restyle-zh")

    # A GIF of the result, its size shown.
    panel.get_by_text("🎞 导出 GIF（表情包）").click()
    panel.get_by_role("button", name="生成 GIF").click()
    expect(panel.get_by_text(re.compile(r"(KB|MB) · \d+×\d+"))).to_be_visible()

    # Extend: the result moves to the Extend tab, which opens.
    panel.get_by_role("button", name="➕ 续写这个视频").click()
    expect(page.get_by_role("tab", name="视频续写")).to_have_attribute("aria-selected", "true")
    panel = visible_tab(page)
    assert abs(wait_for(page, "#extend-source") - 9 / 8) < 0.15
    panel.get_by_label("描述你想要的视频").fill("the camera keeps flying forward over the water")
    panel.get_by_role("button", name="🎬 生成视频").click()
    # 9 frames + one part of 9 - the shared join frame = 17 frames at 8 fps.
    assert abs(wait_for(page, "#extend-result") - 17 / 8) < 0.15
    shot(page, "extend-zh")
    page.context.close()


def test_extend_tab_in_english_refuses_a_missing_video(browser, app):  # noqa: F811
    page = open_page(browser, app, "en-US")
    page.get_by_role("tab", name="Extend a video").click()
    panel = visible_tab(page)
    expect(panel.get_by_text("Parts to add").first).to_be_visible()
    panel.get_by_label("Describe your video").fill("the boat sails on")
    panel.get_by_role("button", name="🎬 Generate video").click()
    toast = page.get_by_test_id("toast-text").filter(has_text="Upload a video first")
    toast.first.wait_for()
    shot(page, "extend-en")
    page.context.close()


def test_a_template_fills_the_image_to_video_settings(browser, app):  # noqa: F811
    page = open_page(browser, app, "zh-CN")
    page.get_by_role("tab", name="图生视频").click()
    panel = visible_tab(page)
    box = panel.get_by_label("描述你想要的视频")
    box.fill("一只橘猫")
    panel.locator("#i2v-templates").get_by_text("表情包梗图").click()
    # The template's English scaffold around what was typed (its subject).
    expect(box).to_have_value(re.compile(r"^A close-up of 一只橘猫 reacting"))
    # Another template keeps the subject instead of nesting the first one's scaffold.
    panel.locator("#i2v-templates").get_by_text("剧情创作").click()
    expect(box).to_have_value(re.compile(r"^A dramatic story beat centered on 一只橘猫\."))
    shot(page, "i2v-template-zh")
    page.context.close()


def test_lora_strength_sliders(browser, tmp_path_factory):  # noqa: F811
    from cogvideo.engine import tiny
    from tests.conftest import RunningApp
    from tests.test_lora import make_lora

    lora = make_lora(tiny.build_pipeline("t2v").transformer, tmp_path_factory.mktemp("lora") / "ink")
    running = RunningApp(tmp_path_factory.mktemp("lora-app"), extra_args=("--lora", f"{lora}:0.4"))
    try:
        page = open_page(browser, running, "zh-CN")
        panel = visible_tab(page)
        expect(panel.get_by_text("LoRA 强度")).to_be_visible()
        expect(panel.get_by_label("number input for LoRA · ink")).to_have_value("0.4")
        set_slider(panel, "LoRA · ink", "1.2")  # waits until the slider holds it: a busy page can drop a fill
        panel.get_by_label("描述你想要的视频").fill("a fox in the snow")
        panel.get_by_role("button", name="🎬 生成视频").click()
        wait_for(page, "#t2v-result")
        panel.get_by_text("详情").first.click()
        # The details table says which LoRA ran at which strength: the slider's, not the --lora default.
        expect(panel.locator(".details-table").first).to_contain_text("ink 1.2")
        shot(page, "lora-zh")
        page.context.close()
    finally:
        running.close()
