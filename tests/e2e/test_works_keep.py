"""Keep what people make (issue 21): reuse starts clean, delete asks first. Headless Chromium."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.test_browser import browser, open_page, shot, visible_tab, wait_for_video  # noqa: F401
from tests.e2e.test_works import FAST, assert_readable, cover, find_job, open_works, unique

PHONE = {"width": 390, "height": 844}


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
    panel.get_by_role("button", name="♻️ 复用设置").click()
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
