"""Phone first (issue 21): at 360, 390 and 430 px every tab is one tap away, nothing scrolls
sideways or squeezes to one character per line, Generate sits under the thumb, and what a tap
starts (the progress, an opened work, a reused prompt) comes on screen. Desktop (1366×900, en-US)
keeps the same promises. Headless Chromium with touch; screenshots land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import ARTIFACTS, browser, open_sized, shot, visible_tab, _wait_for_work  # noqa: F401
from tests.e2e.test_works import FAST, cover, find_job, open_works, settled, unique

ZH_TABS = ["文生视频", "图生视频", "老照片", "视频转绘", "视频续写", "我的作品"]
EN_TABS = ["Text to video", "Image to video", "Old photo", "Restyle a video", "Extend a video", "My works"]
SCREENS = [(360, 800, "zh-CN"), (390, 844, "zh-CN"), (430, 932, "zh-CN"), (1366, 900, "en-US")]

# Text squeezed into a column: a visible label, span or button with more than two characters whose
# box is narrower than two characters of its font and taller than two lines.
CRAMPED = """() => [...document.querySelectorAll('label, span, button, p, h1, h2')].filter(el => {
    if (el.offsetParent === null || el.children.length > 3) return false;
    const text = (el.innerText || '').trim();
    const box = el.getBoundingClientRect(), size = parseFloat(getComputedStyle(el).fontSize);
    return text.length > 2 && box.width > 0 && box.width < 2 * size && box.height > 2 * size;
}).map(el => el.innerText.trim().slice(0, 20))"""

IN_VIEW = """(el) => { const box = el.getBoundingClientRect();
    return box.height > 0 && box.top >= -1 && box.top < innerHeight - 40; }"""


def tap(page, locator) -> None:
    """A finger on a phone, a click elsewhere."""
    if page.viewport_size["width"] < 800:
        locator.tap()
    else:
        locator.click()


def wait_in_view(page, locator, what: str, timeout: float = 15_000) -> None:
    try:
        page.wait_for_function(IN_VIEW, arg=locator.element_handle(), timeout=timeout)
    except Exception:
        shot(page, f"phone-not-in-view-{what}", full_page=False)
        box = locator.bounding_box()
        raise AssertionError(f"{what} is off screen: {box}, viewport {page.viewport_size}") from None


@pytest.mark.parametrize("width,height,locale", SCREENS, ids=[f"{w}-{loc}" for w, _, loc in SCREENS])
def test_every_tab_one_tap_away_and_nothing_cramped(browser, app, width, height, locale):  # noqa: F811
    page = open_sized(browser, app, width, height, locale)
    try:
        names = ZH_TABS if locale == "zh-CN" else EN_TABS
        for name in names:
            tab = page.get_by_role("tab", name=name, exact=True)
            expect(tab).to_be_visible()
            # In the bar itself, not in Gradio's "⋯" overflow menu.
            assert tab.evaluate("el => el.closest('.overflow-dropdown') === null"), f"{name} is behind ⋯"
        assert not page.locator(".overflow-menu:not(.hide) > button").first.is_visible(), "a ⋯ menu shows"
        # No stray "·" from Gradio's footer at the page's end (its one link hides on a phone).
        assert not any(dot.is_visible() for dot in page.locator("footer .divider").all()), "a stray · in the footer"
        scroll = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
        assert scroll[0] <= scroll[1], f"the page scrolls sideways: {scroll}"
        panel = visible_tab(page)
        generate = panel.locator(".generate-btn")
        cancel = panel.locator(".generate-row button").nth(1)
        heights = [round(generate.bounding_box()["height"]), round(cancel.bounding_box()["height"])]
        assert heights[0] == heights[1], f"Generate and Cancel differ in height: {heights}"
        if width < 800:
            # Under the thumb without scrolling: the bar is in the first screen.
            box = generate.bounding_box()
            assert 0 <= box["y"] and box["y"] + box["height"] <= height, f"Generate is off screen: {box}"
        shot(page, f"phone-{width}-{locale}", full_page=False)
        for name in names:
            tap(page, page.get_by_role("tab", name=name, exact=True))
            expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")
            cramped = page.evaluate(CRAMPED)
            assert not cramped, f"text one character wide on {name}: {cramped}"
            scroll = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
            assert scroll[0] <= scroll[1], f"{name} scrolls sideways: {scroll}"
        if width == 390:
            page.get_by_role("tab", name=names[0], exact=True).click()
            page.evaluate("() => scrollTo(0, 0)")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "phone-zh-390.png"), full_page=False)
    finally:
        page.context.close()


def test_tapping_generate_holds_the_button_until_the_job_ends(browser, app, client):  # noqa: F811
    """A job is rendering, so ours waits in line: the button stays disabled (a second tap cannot
    silently do nothing) until the job ends, then comes back; meanwhile the place in line, the bar
    and the result's top are on screen together."""
    # The page opens first: a job of this address already running when it loads would be reattached
    # to this tab (ui/live.py), holding its Generate; this one is another page's.
    page = open_sized(browser, app)
    busy = None
    try:
        busy_prompt = unique("keeps the worker busy for the phone")
        client.submit(prompt=busy_prompt, num_inference_steps=100, num_frames=33, api_name="/text_to_video")
        busy = _wait_for_work(client, busy_prompt)[0]
        panel = visible_tab(page)
        panel.get_by_label("描述你想要的视频").fill(unique("a phone tap waits its turn"))
        generate = panel.locator(".generate-btn")  # by its place: its words follow the job (ui/busy.py)
        generate.tap()
        expect(generate).to_be_disabled()
        page.locator("#t2v-result [data-testid=status-tracker]:not(.hide)").first.wait_for(timeout=30_000)
        # The button says where the job stands (the scroll to the progress: tests/e2e/test_feedback.py).
        expect(generate).to_have_text(re.compile(r"⏳ 排队中 · 第 \d+ 位"))  # in line behind the busy job
        # In line, the result's progress is a spinner with no words: the screen shows the place in
        # line (the wait note), the bar with Cancel above it, and the result's top below.
        note = page.locator("#t2v-wait")
        expect(note).to_contain_text(re.compile(r"排队中：你是第 \d+ 位|下一个就轮到你"))
        for what, part in (("wait-note", note), ("generate", generate),
                           ("cancel", panel.get_by_role("button", name="取消", exact=True)),
                           ("result", page.locator("#t2v-result"))):
            wait_in_view(page, part, what)
        shot(page, "phone-after-generate-tap", full_page=False)
        tap(page, panel.get_by_role("button", name="取消", exact=True))
        page.get_by_test_id("toast-text").filter(has_text="已取消生成").first.wait_for(timeout=30_000)
        expect(generate).to_be_enabled(timeout=30_000)
        expect(generate).to_have_text("🎬 生成视频")
    finally:
        if busy is not None:
            client.predict(job_id=busy["job_id"], api_name="/cancel_job")
        page.context.close()


def test_a_tapped_work_opens_on_screen_and_reuse_shows_the_prompt(browser, app, client):  # noqa: F811
    prompt = unique("a kite over a hill, seen on a phone")
    client.predict(prompt=prompt, api_name="/text_to_video", **FAST)
    find_job(client, prompt)
    page = open_sized(browser, app)
    try:
        tap(page, page.get_by_role("tab", name="我的作品", exact=True))
        visible_tab(page).locator("#works-gallery button.thumbnail-item").first.wait_for()
        settled(visible_tab(page).locator("#works-gallery"))
        item = cover(page, prompt)
        expect(item).to_contain_text("已完成")
        # The caption (status · date · prompt) sits under the cover, never over it.
        overlap = item.evaluate("""(el) => { const i = el.querySelector('img').getBoundingClientRect(),
                                               c = el.querySelector('.caption-label').getBoundingClientRect();
                                             return c.top < i.bottom - 1 && c.bottom > i.top; }""")
        assert not overlap, "the caption covers the cover"
        shot(page, "phone-works", full_page=False)
        item.tap()
        expect(page.locator("#work-details")).to_contain_text(prompt)
        wait_in_view(page, page.locator("#works-player"), "player")
        shot(page, "phone-works-open", full_page=False)
        tap(page, visible_tab(page).get_by_role("button", name="♻️ 做同款"))
        expect(page.get_by_role("tab", name="文生视频", exact=True)).to_have_attribute("aria-selected", "true")
        box = visible_tab(page).get_by_label("描述你想要的视频")
        expect(box).to_have_value(prompt)
        wait_in_view(page, box, "reused-prompt")
        shot(page, "phone-after-reuse", full_page=False)
    finally:
        page.context.close()


def test_a_reloaded_page_opens_on_the_tab_of_its_running_job(browser, slow_app, tmp_path):  # noqa: F811
    """A phone reloads a page it kept in the background (or a finger pulls to refresh) while an
    image-to-video job renders: the page opens on 图生视频, whose Generate says where the job is,
    not on 文生视频 with nothing of it in sight. 150 steps at the slow app's pace last 37 s or more;
    the test ends the job with the tab's Cancel."""
    from gradio_client import Client, handle_file

    from tests.conftest import make_photo

    picture = tmp_path / "harbour.png"
    make_photo(360, 240).save(picture)
    client = Client(slow_app.url, verbose=False)
    prompt = unique("boats rocking in a harbour, seen again after a reload")
    client.submit(image=handle_file(str(picture)), prompt=prompt, num_inference_steps=150, num_frames=9,
                  api_name="/image_to_video")
    job = _wait_for_work(client, prompt)[0]  # of this address: the page reattaches it
    page = open_sized(browser, slow_app)
    try:
        expect(page.get_by_role("tab", name="图生视频", exact=True)).to_have_attribute("aria-selected", "true")
        generate = visible_tab(page).locator(".generate-btn")
        expect(generate).to_have_text(re.compile(r"⏳ 生成中 \d+%"))
        shot(page, "phone-reload-opens-its-tab", full_page=False)
        tap(page, visible_tab(page).get_by_role("button", name="取消", exact=True))
        expect(generate).to_have_text("🎬 生成视频")
    finally:
        client.predict(job_id=job["job_id"], api_name="/cancel_job")
        page.context.close()


@pytest.mark.parametrize("locale, width, height", [("zh-CN", 390, 844), ("en-US", 1366, 900)], ids=["zh-phone", "en-desktop"])
def test_a_file_that_is_not_a_picture_is_refused_as_it_arrives(browser, app, tmp_path, locale, width, height):  # noqa: F811
    page = open_sized(browser, app, width, height, locale)
    try:
        tap(page, page.get_by_role("tab", name="图生视频" if locale == "zh-CN" else "Image to video", exact=True))
        panel = visible_tab(page)
        not_a_picture = tmp_path / "holiday.png"
        not_a_picture.write_text("a text file with a picture's name")
        panel.locator("input[type=file]").first.set_input_files(str(not_a_picture))
        # Said at once, in the page's language, and the box is empty again: no broken image until Generate.
        reason = "不是图片" if locale == "zh-CN" else "not an image"
        toast = page.get_by_test_id("toast-text").filter(has_text=reason)
        expect(toast.first).to_be_visible(timeout=15_000)
        expect(toast.first).to_contain_text("holiday.png")
        expect(panel.locator("img")).to_have_count(0)
        # The picture once the toast has flown in (its box fully opaque and on screen).
        page.wait_for_function("""(el) => { const toast = el.closest('.toast-body') || el;
            const box = toast.getBoundingClientRect();
            return getComputedStyle(toast).opacity === '1' && box.top >= 0 && box.bottom <= innerHeight; }""",
                               arg=toast.first.element_handle(), timeout=10_000)
        shot(page, f"phone-not-a-picture-{locale}", full_page=False)
    finally:
        page.close()
