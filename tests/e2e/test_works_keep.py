"""Keep what people make (issue 21): reuse starts clean, delete asks first. Headless Chromium."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.test_browser import browser, open_page, open_sized, shot, visible_tab, wait_for_video  # noqa: F401
from tests.e2e.test_works import FAST, assert_readable, cover, find_job, open_works, settled, unique



def test_reuse_clears_the_old_result_in_chinese(browser, app, client):  # noqa: F811
    old_prompt = unique("a lighthouse blinks over a stormy sea")
    prompt = unique("a swan reused")
    client.predict(prompt=prompt, seed=4242, api_name="/text_to_video", **FAST)
    find_job(client, prompt)

    page = open_page(browser, app, "zh-CN")
    t2v = visible_tab(page)
    t2v.get_by_label("描述你想要的视频").fill(old_prompt)
    t2v.get_by_role("button", name="🎬 生成视频").click()
    assert wait_for_video(page, t2v) > 0
    expect(t2v.get_by_label("最终提示词")).to_have_value(old_prompt)
    expect(t2v.get_by_label("实际种子")).not_to_have_value("")

    panel = open_works(page, "我的作品")
    cover(page, prompt).click()
    expect(page.locator("#work-details")).to_contain_text(prompt)
    panel.get_by_role("button", name="♻️ 做同款").click()
    expect(page.get_by_role("tab", name="文生视频", exact=True)).to_have_attribute("aria-selected", "true")
    t2v = visible_tab(page)
    expect(t2v.get_by_label("描述你想要的视频")).to_have_value(prompt)
    # The old result (its video, seed and prompt) no longer sits beside the new settings.
    expect(t2v.get_by_label("最终提示词")).to_have_value("")
    expect(t2v.get_by_label("实际种子")).to_have_value("")
    expect(page.locator("#t2v-result video")).to_have_count(0)
    assert_readable(page)
    shot(page, "works-reuse-clears-zh")
    page.context.close()


def test_delete_asks_first_and_no_other_card_is_outlined_on_a_phone_in_english(browser, app, client):  # noqa: F811
    prompt, neighbour = unique("a kite to delete"), unique("a kite to keep")
    client.predict(prompt=neighbour, seed=5, api_name="/text_to_video", **FAST)
    client.predict(prompt=prompt, seed=6, api_name="/text_to_video", **FAST)
    job = find_job(client, prompt)
    video = app.output_dir / job["video"]

    page = open_sized(browser, app, locale="en-US")
    panel = open_works_on_phone(page, "My works")
    item = cover(page, prompt)
    item.click()
    card = page.locator("#work-details")
    expect(card).to_contain_text(prompt)

    # The first click only asks; left alone, the question goes away and nothing is deleted.
    panel.get_by_role("button", name="🗑 Delete", exact=True).click()
    confirm = panel.get_by_role("button", name="⚠️ Delete for good?", exact=True)
    expect(confirm).to_be_visible()
    assert_readable(page)
    shot(page, "works-delete-asks-phone-en")
    expect(panel.get_by_role("button", name="🗑 Delete", exact=True)).to_be_visible(timeout=30_000)
    assert any(w["job_id"] == job["job_id"] for w in client.predict(api_name="/my_works"))
    assert video.is_file()
    expect(item).to_have_count(1)

    # Asked and confirmed: gone, and no other card takes the selection outline.
    panel.get_by_role("button", name="🗑 Delete", exact=True).click()
    confirm.click()
    page.get_by_test_id("toast-text").filter(has_text="Deleted.").first.wait_for(timeout=30_000)
    expect(item).to_have_count(0)
    expect(cover(page, neighbour)).to_have_count(1)
    expect(page.locator("#works-gallery button.thumbnail-item.selected")).to_have_count(0)
    expect(card).not_to_contain_text(prompt)
    assert all(w["job_id"] != job["job_id"] for w in client.predict(api_name="/my_works"))
    assert not video.exists()
    shot(page, "works-deleted-phone-en")
    page.context.close()


def open_works_on_phone(page, tab_name: str):
    """Every tab sits in the bar on a phone too (no overflow menu): one tap."""
    page.get_by_role("tab", name=tab_name, exact=True).click()
    panel = visible_tab(page)
    panel.locator("#works-gallery button.thumbnail-item").first.wait_for()
    settled(panel.locator("#works-gallery"))
    return panel
