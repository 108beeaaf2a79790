"""The app as a person uses it: headless Debian Chromium driven by Playwright.

Screenshots land in test-artifacts/ (look at them); the README's screenshot comes from here.
Without Chromium these tests skip, unless STUDIO_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import AGENT_REPLY, ROOT, make_photo

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
        "--disable-dev-shm-usage"]
# How long any wait on the page may take. Generous: CI and this machine may run several suites on
# two cores, where a render or a page load takes many times its quiet time. A wait on a condition
# ends as soon as it holds, so a long deadline costs nothing when the machine is quiet.
PATIENCE_MS = 180_000
# A render from the page's defaults: a minute on a quiet machine, over five with extra load.
RENDER_MS = 900_000

if not Path(CHROMIUM).exists():
    if os.environ.get("STUDIO_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"STUDIO_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: apt-get install -y chromium")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=PATIENCE_MS)  # expect()'s own default is 5 s
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, app, locale="zh-CN"):
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1100},
                                  extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    page.set_default_timeout(PATIENCE_MS)
    page.goto(app.url)
    page.wait_for_selector("text=🎬")
    return page


def open_sized(browser, app, width: int = 390, height: int = 844, locale: str = "zh-CN"):
    """A page at a size: under 800 px wide it is a phone (touch, mobile), as a person holds one."""
    phone = width < 800
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height}, is_mobile=phone,
                                  has_touch=phone, device_scale_factor=1,
                                  extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    page.set_default_timeout(PATIENCE_MS)
    page.goto(app.url)
    page.wait_for_selector("text=🎬")
    return page


def shot(page, name: str, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def visible_tab(page):
    return page.locator("div[role=tabpanel]:visible").first


def wait_for_video(page, panel, timeout=RENDER_MS) -> float:
    video = panel.locator("video").first
    video.wait_for(state="attached", timeout=timeout)
    page.wait_for_function("(el) => el.readyState >= 1 && el.duration > 0", arg=video.element_handle())
    return video.evaluate("el => el.duration")


def test_text_to_video_in_chinese(browser, app):
    page = open_page(browser, app, "zh-CN")
    expect(page.get_by_role("tab", name="文生视频")).to_be_visible()
    panel = visible_tab(page)
    panel.get_by_label("描述你想要的视频").fill("a paper boat floats down a rainy street at night")
    panel.locator("input[type=number]").first  # the seed box exists in the advanced section
    panel.get_by_role("button", name="🎬 生成视频").click()
    duration = wait_for_video(page, panel)
    assert duration > 0
    expect(panel.get_by_label("最终提示词")).to_have_value(re.compile("^a paper boat"))
    shot(page, "t2v-zh")
    page.context.close()


def test_empty_prompt_shows_an_error_toast(browser, app):
    page = open_page(browser, app, "zh-CN")
    visible_tab(page).get_by_role("button", name="🎬 生成视频").click()
    toast = page.get_by_test_id("toast-text").filter(has_text="提示词为空")
    toast.first.wait_for()
    page.wait_for_timeout(600)  # let the toast finish flying in before the picture
    shot(page, "empty-prompt-error", full_page=False)  # the toast is fixed to the viewport
    page.context.close()


def test_english_locale_gets_english_labels(browser, app):
    page = open_page(browser, app, "en-US")
    expect(page.get_by_role("tab", name="Text to video")).to_be_visible()
    expect(page.get_by_role("tab", name="Image to video")).to_be_visible()
    expect(page.get_by_role("tab", name="Old photo")).to_be_visible()
    expect(visible_tab(page).get_by_role("button", name="🎬 Generate video")).to_be_visible()
    assert page.get_by_text("文生视频").count() == 0
    shot(page, "t2v-en")
    page.context.close()


def test_image_to_video_upload(browser, app, tmp_path):
    picture = tmp_path / "holiday.png"
    make_photo(360, 240).save(picture)
    page = open_page(browser, app, "en-US")
    page.get_by_role("tab", name="Image to video").click()
    panel = visible_tab(page)
    panel.locator("input[type=file]").first.set_input_files(str(picture))
    panel.get_by_label("Describe your video").fill("the sun moves slowly across the sky")
    panel.get_by_role("button", name="🎬 Generate video").click()
    assert wait_for_video(page, panel) > 0
    shot(page, "i2v-en")
    page.context.close()


@pytest.mark.parametrize("tab", ["Text to video", "Image to video"])
def test_help_me_write_one_fills_the_box(browser, app, tab):
    page = open_page(browser, app, "en-US")
    page.get_by_role("tab", name=tab).click()
    panel = visible_tab(page)
    box = panel.get_by_label("Describe your video")
    box.fill("boat on a lake")
    panel.get_by_role("button", name="✨ Help me write one").click()
    page.wait_for_function(
        "([el, text]) => el.value.includes(text)",
        arg=[box.element_handle(), AGENT_REPLY[:40]],
    )
    shot(page, f"agent-{tab.split()[0].lower()}")
    panel.get_by_role("button", name="↩ Restore my text").click()
    page.wait_for_function("(el) => el.value === 'boat on a lake'", arg=box.element_handle())
    page.context.close()


def test_old_photo_tab_turns_a_grayscale_photo_into_a_video(browser, app, tmp_path):
    photo = tmp_path / "grandma.png"
    make_photo(320, 240, "L").save(photo)
    page = open_page(browser, app, "en-US")
    page.get_by_role("tab", name="Old photo").click()
    panel = visible_tab(page)
    panel.locator("input[type=file]").first.set_input_files(str(photo))
    panel.get_by_role("button", name="🎬 Generate video").click()
    assert wait_for_video(page, panel) > 0
    shot(page, "old-photo-en")
    page.context.close()


def test_no_untranslated_labels_after_upload(browser, app, tmp_path):
    picture = tmp_path / "pic.png"
    make_photo(200, 150).save(picture)
    page = open_page(browser, app, "en-US")
    page.get_by_role("tab", name="Image to video").click()
    visible_tab(page).locator("input[type=file]").first.set_input_files(str(picture))
    page.get_by_text("Start from this picture").first.wait_for()
    body = page.locator("body").inner_text()
    assert "[object Object]" not in body and "__i18n__" not in body
    page.context.close()


def test_a_waiting_job_shows_its_place_in_line(browser, app, client):
    """While another job renders, the progress bar says where this one stands, then Cancel stops it."""
    # The page opens first: a job of this address running when it loads is reattached to its tab
    # (ui/live.py), whose Generate then shows that job's progress instead of taking a new one.
    page = open_page(browser, app, "zh-CN")
    client.submit(prompt="keeps the worker busy", num_inference_steps=100, num_frames=33, api_name="/text_to_video")
    busy = _wait_for_work(client, "keeps the worker busy")[0]
    try:
        panel = visible_tab(page)
        panel.get_by_label("描述你想要的视频").fill("waits for its turn")
        panel.get_by_role("button", name="🎬 生成视频").click()
        panel.get_by_text("排队中：你是第").or_(panel.get_by_text("下一个就轮到你")).first.wait_for()
        expect(panel.get_by_text("普通通道").first).to_be_visible()
        shot(page, "queued-zh", full_page=False)
        panel.get_by_role("button", name="取消").click()
        page.get_by_test_id("toast-text").filter(has_text="已取消生成").first.wait_for()
    finally:
        client.predict(job_id=busy["job_id"], api_name="/cancel_job")
        page.context.close()


def _wait_for_work(client, prompt, timeout=PATIENCE_MS / 1000):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        works = [w for w in client.predict(api_name="/my_works") if w["prompt"] == prompt and w["status"] == "running"]
        if works:
            return works
        time.sleep(0.2)
    raise TimeoutError(f"{prompt!r} did not start")
