"""我的作品 / My works, as a person uses it (headless Chromium driven by Playwright).

Jobs are made through gradio_client (quicker than the UI), then found in the works gallery by
their unique prompt: the session's app is shared with other tests that make jobs of their own.
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from gradio_client import handle_file
from playwright.sync_api import expect

from tests.conftest import make_photo
from tests.e2e.test_browser import browser, open_page, shot, visible_tab, wait_for_video  # noqa: F401
from ui.i18n import TEXT

FAST = dict(num_inference_steps=2, num_frames=9)
SLOW = dict(num_inference_steps=100, num_frames=33)  # ~15 s each on the tiny CPU model


def unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def find_job(client, prompt: str, timeout: float = 180.0) -> dict:
    """Our job in /my_works, by its unique prompt (it may take a moment to be submitted)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [job for job in client.predict(api_name="/my_works") if job["prompt"] == prompt]
        if jobs:
            assert len(jobs) == 1, jobs
            return jobs[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no job with prompt {prompt!r} in /my_works")
        time.sleep(0.3)


def open_works(page, tab_name: str):
    page.get_by_role("tab", name=tab_name, exact=True).click()
    panel = visible_tab(page)
    panel.locator("#works-gallery button.thumbnail-item").first.wait_for()
    settled(panel.locator("#works-gallery"))
    return panel


def settled(component) -> None:
    """Wait until the component has no update in flight (Gradio fades it out meanwhile)."""
    expect(component.get_by_test_id("status-tracker").first).to_have_class(re.compile(r"\bhide\b"))


def cover(page, prompt: str):
    """The gallery thumbnail whose caption holds `prompt` (not the gallery's "Download all" button)."""
    return page.locator("#works-gallery button.thumbnail-item").filter(has_text=prompt)


def assert_caption_in_view(item) -> None:
    """The caption sits inside the gallery's visible box, not pushed below it by a huge cover."""
    caption = item.locator(".caption-label")
    expect(caption).to_be_visible()
    inside = caption.evaluate(
        """(el) => { const c = el.getBoundingClientRect(), g = el.closest('.grid-wrap').getBoundingClientRect();
                     return c.top >= g.top && c.bottom <= g.bottom + 1 && c.left >= g.left && c.right <= g.right + 1; }"""
    )
    assert inside, "the cover's caption is outside the gallery's visible area"


def assert_readable(page) -> None:
    """No untranslated label key (tab_works, first_frame, ...) or rendering junk on the page."""
    body = page.locator("body").inner_text()
    keys = [key for key in TEXT if "_" in key]
    for junk in ("[object Object]", "__i18n__", "undefined", *keys):
        assert junk not in body, f"{junk!r} shows on the page"


# ------------------------------------------------------------------------------------------------


def test_open_and_reuse_an_image_to_video_work_in_chinese(browser, app, client, tmp_path):  # noqa: F811
    prompt = unique("a red kite rises over a green hill")
    picture = tmp_path / "kite.png"
    make_photo(320, 200).save(picture)
    client.predict(image=handle_file(str(picture)), prompt=prompt, seed=4242, style="anime",
                   api_name="/image_to_video", **FAST)
    job = find_job(client, prompt)
    assert job["status"] == "succeeded" and job["seed"] == 4242 and job["style"] == "anime"

    page = open_page(browser, app, "zh-CN")
    panel = open_works(page, "我的作品")
    item = cover(page, prompt)
    expect(item).to_have_count(1)
    expect(item).to_contain_text("已完成")
    assert_caption_in_view(item)
    expect(item.locator("img")).to_have_attribute("src", re.compile(r"\.jpg$"))  # the real cover
    # Before a work is opened, nothing can be reused, extended, cancelled or deleted.
    for name in ("♻️ 做同款", "➕ 续写这个视频", "取消", "🗑 删除"):
        expect(panel.get_by_role("button", name=name, exact=True)).to_be_disabled()

    item.click()
    card = page.locator("#work-details")
    expect(card).to_contain_text(prompt)
    expect(card).to_contain_text("已完成")
    expect(card).to_contain_text("种子: 4242")
    expect(card).to_contain_text("图生视频")
    expect(card).to_contain_text(job["job_id"])
    style_row = card.locator("p").filter(has_text="风格")
    assert "动漫" in style_row.inner_text() or "anime" in style_row.inner_text(), style_row.inner_text()
    assert wait_for_video(page, panel) > 0
    expect(panel.get_by_role("button", name="♻️ 做同款")).to_be_enabled()
    expect(panel.get_by_role("button", name="取消", exact=True)).to_be_disabled()  # finished: nothing to stop
    expect(panel.get_by_role("button", name="🗑 删除")).to_be_enabled()
    assert_readable(page)
    shot(page, "works-open-zh")

    # Extend: the work's video goes to the Extend tab, which opens; back in My works, it stays open.
    panel.get_by_role("button", name="➕ 续写这个视频").click()
    expect(page.get_by_role("tab", name="视频续写", exact=True)).to_have_attribute("aria-selected", "true")
    source = page.locator("#extend-source video").first
    source.wait_for(state="attached")
    page.wait_for_function("(el) => el.readyState >= 1 && el.duration > 0", arg=source.element_handle())
    page.get_by_role("tab", name="我的作品", exact=True).click()
    expect(card).to_contain_text(prompt)

    panel.get_by_role("button", name="♻️ 做同款").click()
    expect(page.get_by_role("tab", name="图生视频", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="我的作品", exact=True)).to_have_attribute("aria-selected", "false")
    i2v = visible_tab(page)
    expect(i2v.get_by_role("button", name="🎬 生成视频")).to_be_visible()
    expect(i2v.get_by_label("描述你想要的视频")).to_have_value(prompt)
    expect(i2v.get_by_label("风格", exact=True)).to_have_value("动漫")
    # The picture the job started from is loaded in the upload (the examples have pictures too).
    upload = i2v.locator(".block").filter(has=page.get_by_text("以这张图片为第一帧", exact=True)).first
    image = upload.locator("img").first
    expect(image).to_be_visible()
    page.wait_for_function("(el) => el.complete && el.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [320, 200]

    i2v.get_by_text("高级设置", exact=True).click()
    # 做同款 makes one like it, not the same one: the seed goes back to random.
    expect(i2v.get_by_label("种子（-1 为随机）")).to_have_value("-1")
    expect(i2v.get_by_label("每次随机种子")).to_be_checked()
    expect(i2v.get_by_label("number input for 采样步数")).to_have_value("2")
    expect(i2v.get_by_label("range slider for 采样步数")).to_have_value("2")
    expect(i2v.get_by_label("number input for 帧数")).to_have_value("9")
    expect(i2v.get_by_label("number input for 引导系数")).to_have_value("6")
    assert_readable(page)
    shot(page, "works-reuse-zh")
    page.context.close()


def test_delete_a_text_to_video_work_in_english(browser, app, client):  # noqa: F811
    prompt = unique("a paper lantern drifts up into the night sky")
    client.predict(prompt=prompt, seed=77, api_name="/text_to_video", **FAST)
    job = find_job(client, prompt)
    # The API names files, not the server's folders; the files live in the app's output folder.
    assert "/" not in job["video"] and "/" not in job["cover"]
    video, still = app.output_dir / job["video"], app.output_dir / job["cover"]
    assert job["status"] == "succeeded" and video.is_file() and still.is_file()

    page = open_page(browser, app, "en-US")
    panel = open_works(page, "My works")
    item = cover(page, prompt)
    expect(item).to_contain_text("done")
    assert_caption_in_view(item)
    item.click()
    card = page.locator("#work-details")
    expect(card).to_contain_text(prompt)
    expect(card).to_contain_text("Seed: 77")
    expect(card).to_contain_text("Text to video")
    assert wait_for_video(page, panel) > 0
    assert_readable(page)
    shot(page, "works-open-en")

    panel.get_by_role("button", name="🗑 Delete").click()
    panel.get_by_role("button", name="⚠️ Delete for good?").click()  # it asks first
    page.get_by_test_id("toast-text").filter(has_text="Deleted.").first.wait_for()
    expect(item).to_have_count(0)
    expect(card).not_to_contain_text(prompt)
    expect(panel.locator("video")).to_have_count(0)
    for name in ("♻️ Make one like this", "Cancel", "🗑 Delete"):
        expect(panel.get_by_role("button", name=name, exact=True)).to_be_disabled()
    assert all(j["job_id"] != job["job_id"] for j in client.predict(api_name="/my_works"))
    assert not video.exists() and not still.exists()
    shot(page, "works-deleted-en")
    page.context.close()


def test_a_waiting_job_shows_its_status_and_can_be_cancelled(browser, app, client):  # noqa: F811
    # One worker renders one job at a time: a slow job ahead of ours keeps ours waiting or rendering
    # for a good ten seconds, long enough to see it and cancel it.
    ahead_prompt, prompt = unique("a slow job ahead in line"), unique("a snail crosses a leaf")
    calls = [client.submit(prompt=ahead_prompt, seed=1, api_name="/text_to_video", **SLOW)]
    try:
        find_job(client, ahead_prompt)  # in line first
        calls.append(client.submit(prompt=prompt, seed=2, api_name="/text_to_video", **SLOW))
        find_job(client, prompt)
        page = open_page(browser, app, "zh-CN")
        panel = open_works(page, "我的作品")
        item = cover(page, prompt)
        expect(item).to_have_count(1)
        caption = item.inner_text()
        assert "排队中" in caption or "生成中" in caption, caption
        assert "已完成" not in caption and "已取消" not in caption
        assert_caption_in_view(item)
        expect(item.locator("img")).to_have_attribute("src", re.compile(r"(queued|running)\.png$"))
        shot(page, "works-waiting-zh")

        item.click()
        card = page.locator("#work-details")
        expect(card).to_contain_text(prompt)
        expect(card).to_contain_text("状态: ")
        assert "排队中" in card.inner_text() or "生成中" in card.inner_text(), card.inner_text()
        stop = panel.get_by_role("button", name="取消", exact=True)
        expect(stop).to_be_enabled()
        stop.click()
        # A waiting job stops at once, a rendering one at its next step: Refresh until it says so.
        refresh = panel.get_by_role("button", name="🔄 刷新")
        deadline = time.monotonic() + 180  # generous: a loaded machine renders many times slower
        while "已取消" not in item.inner_text():
            assert time.monotonic() < deadline, f"still {item.inner_text()!r} after cancelling"
            page.wait_for_timeout(500)
            refresh.click()
            settled(panel.locator("#works-gallery"))
        expect(item.locator("img")).to_have_attribute("src", re.compile(r"cancelled\.png$"))
        assert find_job(client, prompt)["status"] == "cancelled"
        assert_readable(page)
        shot(page, "works-cancelled-zh")
        page.context.close()
    finally:
        cancel_leftovers(client, (ahead_prompt, prompt), calls)


def cancel_leftovers(client, prompts, calls) -> None:
    """Leave nothing rendering for the tests that come next: cancel the works of `prompts` still
    waiting or rendering, then let their calls end."""
    for work in client.predict(api_name="/my_works"):
        if work["prompt"] in prompts and work["status"] in ("queued", "running"):
            client.predict(job_id=work["job_id"], api_name="/cancel_job")
    for call in calls:
        try:
            call.result(timeout=60)
        except Exception:
            pass  # a cancelled job's call ends without a video
