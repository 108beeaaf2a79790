"""Feedback where the finger is, and nothing overlapping (issue 21, items 9 and 11, "Phone first").

Headless Chromium, zh-CN and en-US, phone (touch) and desktop: the layout's geometry (the music
upload's label beside its drop text, a note's first line inside its box, a GIF's whole name), the
progress and then the result on screen after Generate, and the Generate button as a mini progress
("生成中 45%") that comes back when the job ends, after a reload mid-job too.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import RENDER_MS, browser, open_sized, shot, visible_tab  # noqa: F401
from tests.e2e.test_live import set_slider
from tests.e2e.test_phone import IN_VIEW, SCREENS, tap

WORDS = {
    "zh-CN": dict(prompt="描述你想要的视频", advanced="高级设置", steps="采样步数", frames="帧数", style="风格",
                  generate="🎬 生成视频", gif="🎞 导出 GIF（表情包）", make_gif="生成 GIF",
                  busy=re.compile(r"⏳ 生成中 \d+%"), music="……或上传你自己的音乐"),
    "en-US": dict(prompt="Describe your video", advanced="Advanced settings", steps="Denoising steps",
                  frames="Frames", style="Style", generate="🎬 Generate video", gif="🎞 Download as GIF (memes)",
                  make_gif="Make GIF", busy=re.compile(r"⏳ Rendering \d+%"), music="…or upload your own music"),
}

# Two boxes overlap when they share more than a pixel both ways.
OVERLAP = """([a, b]) => { const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
    return Math.min(p.right, q.right) - Math.max(p.left, q.left) > 1
        && Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top) > 1; }"""

# The first line of a note's text against its own block and the row that holds it: where the line
# pokes out above them, the block (Gradio clips it) or the row cuts it off.
FIRST_LINE = """(block) => {
    const text = [...block.querySelectorAll('p')].find(p => p.innerText.trim());
    const range = document.createRange(); range.selectNodeContents(text);
    const line = range.getClientRects()[0], box = block.getBoundingClientRect(),
          row = block.parentElement.getBoundingClientRect();
    return {line: [line.top, line.bottom], box: [box.top, box.bottom], row: [row.top, row.bottom]}; }"""


def fewer_steps(panel, words, steps: int, frames: int = 9) -> None:
    """A short render from the page: 高级设置 open, its steps and frames set (9 frames)."""
    panel.get_by_text(words["advanced"]).first.click()
    for label, value in ((words["steps"], steps), (words["frames"], frames)):
        set_slider(panel, label, str(value))


def assert_first_line_inside(block, what: str) -> None:
    geometry = block.evaluate(FIRST_LINE)
    line, box, row = geometry["line"], geometry["box"], geometry["row"]
    assert line[0] >= box[0] - 0.5 and line[1] <= box[1] + 0.5, f"{what}: first line outside its box {geometry}"
    assert line[0] >= row[0] - 0.5, f"{what}: first line above its row {geometry}"


def assert_no_side_scroll(page, what: str) -> None:
    scroll = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
    assert scroll[0] <= scroll[1], f"{what} scrolls sideways: {scroll}"


@pytest.mark.parametrize("width,height,locale", SCREENS, ids=[f"{w}-{loc}" for w, _, loc in SCREENS])
def test_music_upload_and_style_note_do_not_overlap_or_clip(browser, app, width, height, locale):  # noqa: F811
    words = WORDS[locale]
    page = open_sized(browser, app, width, height, locale)
    try:
        panel = visible_tab(page)
        # "…or upload your own music" over "Drop File Here"; 点击上传 below the drop area's edge.
        upload = panel.locator(".block:has(input[type=file][accept*=audio])").first
        upload.scroll_into_view_if_needed()
        label, text = upload.get_by_test_id("block-label"), upload.get_by_test_id("upload-text")
        expect(label).to_contain_text(words["music"])
        assert not page.evaluate(OVERLAP, [label.element_handle(), text.element_handle()]), \
            f"the upload's label covers its drop text: {label.bounding_box()} {text.bounding_box()}"
        drop = upload.locator("button.upload-container").bounding_box()
        inside = text.evaluate("""(el) => { const r = document.createRange(); r.selectNodeContents(el);
            const lines = [...r.getClientRects()]; return Math.max(...lines.map(l => l.bottom)); }""")
        assert inside <= drop["y"] + drop["height"] + 0.5, f"the drop text is cut off: {inside} > {drop}"
        shot(page, f"layout-music-{width}-{locale}", full_page=False)

        # A style's description beside the dropdown: its first line inside its box and row.
        panel.get_by_label(words["style"], exact=True).click()
        page.get_by_role("option").nth(2).click()
        note = panel.locator(".row > .block.prompt-note:has(p)").first
        note.wait_for()
        note.scroll_into_view_if_needed()
        assert_first_line_inside(note, "the style's description")
        assert_no_side_scroll(page, "the page with a style's description")
        shot(page, f"layout-style-{width}-{locale}", full_page=False)
    finally:
        page.context.close()


@pytest.mark.parametrize("width,height,locale", [(1366, 900, "en-US"), (360, 800, "zh-CN")],
                         ids=["1366-en-US", "360-zh-CN"])
def test_the_gif_file_name_shows_whole(browser, app, width, height, locale):  # noqa: F811
    words = WORDS[locale]
    page = open_sized(browser, app, width, height, locale)
    try:
        panel = visible_tab(page)
        panel.get_by_label(words["prompt"]).fill("a paper kite over a green hill")
        fewer_steps(panel, words, 2)
        tap(page, panel.locator(".generate-btn"))
        panel.locator("#t2v-result video").wait_for(state="attached", timeout=RENDER_MS)
        tap(page, panel.get_by_text(words["gif"]))
        tap(page, panel.get_by_role("button", name=words["make_gif"]))
        name = panel.locator(".file-preview .filename").first
        name.wait_for()
        name.scroll_into_view_if_needed()
        full = name.get_attribute("aria-label")
        stem = name.locator(".stem")
        # Gradio's ellipsis: the stem is cut to its box ("2….gif" at a phone's width).
        cut = stem.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert cut[0] <= cut[1] + 1, f"the GIF's name {full!r} is cut off: {cut}"
        shown = name.evaluate("el => el.innerText.replace(/\\s/g, '')")
        assert shown == full, f"the GIF's name shows {shown!r}, not {full!r}"
        size = panel.locator(".row > .block.prompt-note:has(p)").filter(has_text="144").first
        assert_first_line_inside(size, "the GIF's size")
        assert_no_side_scroll(page, "the GIF panel")
        shot(page, f"layout-gif-{width}-{locale}", full_page=False)
    finally:
        page.context.close()


def in_view_within(page, locator, what: str, timeout: float) -> None:
    try:
        page.wait_for_function(IN_VIEW, arg=locator.element_handle(), timeout=timeout)
    except Exception:
        shot(page, f"feedback-not-in-view-{what}", full_page=False)
        raise AssertionError(f"{what} is off screen: {locator.bounding_box()}, scrollY "
                             f"{page.evaluate('scrollY')}, viewport {page.viewport_size}") from None


FEEDBACK = [(390, 844, "zh-CN"), (390, 844, "en-US"), (1366, 900, "en-US")]


@pytest.mark.parametrize("width,height,locale", FEEDBACK, ids=[f"{w}-{loc}" for w, _, loc in FEEDBACK])
def test_after_generate_the_progress_then_the_result_are_on_screen(browser, app, width, height, locale):  # noqa: F811
    """The finger taps Generate at the bottom of the form (on a phone the sticky bar; on a desktop
    below an open 高级设置): the progress comes on screen within seconds, the button itself says
    how far the job is, and the result is on screen when done, the button back as it was."""
    words = WORDS[locale]
    page = open_sized(browser, app, width, height, locale)
    try:
        panel = visible_tab(page)
        panel.get_by_label(words["prompt"]).fill("a red kite over a windy hill")
        # Steps enough for a render of several seconds, so its percentages show on the button.
        fewer_steps(panel, words, 40)
        generate = panel.locator(".generate-btn")
        if width < 800:
            page.evaluate("() => scrollTo(0, 0)")  # the first screen: the sticky bar under the thumb
        else:
            generate.scroll_into_view_if_needed()  # where a desktop user's pointer is, 高级设置 open
        tap(page, generate)
        progress = panel.locator("#t2v-result [data-testid=status-tracker]:not(.hide)").first
        progress.wait_for(timeout=30_000)
        in_view_within(page, progress, "progress", 10_000)
        shot(page, f"feedback-progress-{width}-{locale}", full_page=False)
        expect(generate).to_have_text(words["busy"], timeout=RENDER_MS)
        expect(generate).to_be_disabled()
        video = panel.locator("#t2v-result video").first
        video.wait_for(state="attached", timeout=RENDER_MS)
        in_view_within(page, video, "result", 10_000)
        expect(generate).to_have_text(words["generate"])
        expect(generate).to_be_enabled()
        shot(page, f"feedback-result-{width}-{locale}", full_page=False)
    finally:
        page.context.close()


def test_the_button_shows_the_job_again_after_a_reload(browser, slow_app):  # noqa: F811
    """Reload mid-job: the reattached tab's Generate says 生成中 N% again, and comes back when the
    job ends. The job lasts (150 steps at the slow app's pace: 37 s or more) so the reload cannot
    outlive it; the test ends it by cancelling."""
    words = WORDS["zh-CN"]
    page = open_sized(browser, slow_app, 390, 844, "zh-CN")
    try:
        panel = visible_tab(page)
        panel.get_by_label(words["prompt"]).fill("a lantern drifting over a night river")
        fewer_steps(panel, words, 150, frames=33)
        generate = panel.locator(".generate-btn")
        tap(page, generate)
        expect(generate).to_have_text(words["busy"], timeout=RENDER_MS)
        page.reload()
        page.wait_for_selector("text=🎬")
        generate = visible_tab(page).locator(".generate-btn")
        expect(generate).to_have_text(words["busy"], timeout=15_000)
        expect(generate).to_be_disabled()
        shot(page, "feedback-button-after-reload", full_page=False)
        tap(page, visible_tab(page).get_by_role("button", name="取消", exact=True))
        expect(generate).to_have_text(words["generate"])
        expect(generate).to_be_enabled()
    finally:
        page.context.close()
