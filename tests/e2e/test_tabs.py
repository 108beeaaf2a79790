"""The tab bar keeps its six tabs, in order, whichever tab is clicked (headless Chromium).

Regression: a gr.State placed directly under gr.Tabs (beside the gr.Tab children) shifted the
index at which Gradio's frontend registers each tab when it is first shown, so clicking
图生视频 overwrote the 老照片 label with 图生视频, and 我的作品 added a fifth tab.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import browser, open_page, shot  # noqa: F401  (browser is a fixture)

TABS = {
    "zh-CN": (["文生视频", "图生视频", "老照片", "视频转绘", "视频续写", "我的作品"], "🎬 生成视频", "🔄 刷新"),
    "en-US": (["Text to video", "Image to video", "Old photo", "Restyle a video", "Extend a video", "My works"],
              "🎬 Generate video", "🔄 Refresh"),
}


def tab_bar(page) -> list[tuple[str, str | None]]:
    """(label, aria-selected) of every tab button, in order."""
    return [(tab.inner_text().strip(), tab.get_attribute("aria-selected")) for tab in page.get_by_role("tab").all()]


@pytest.mark.parametrize("locale", list(TABS))
def test_every_tab_keeps_its_labels(browser, app, locale):  # noqa: F811
    labels, generate, refresh = TABS[locale]
    page = open_page(browser, app, locale)
    expect(page.get_by_role("tab")).to_have_count(len(labels))  # the tab bar may render after the header
    assert [label for label, _ in tab_bar(page)] == labels
    for index, label in enumerate(labels):
        page.get_by_role("tab", name=label, exact=True).click()
        # The clicked tab's panel is shown (its own button), which is when its tab registers itself.
        button = generate if index < len(labels) - 1 else refresh
        expect(page.locator("div[role=tabpanel]:visible").get_by_role("button", name=button).first).to_be_visible()
        page.wait_for_timeout(500)  # let the tab bar settle after the tab registered
        bar = tab_bar(page)
        shown = [text for text, _ in bar]
        assert shown == labels, f"after clicking {label!r} the tab bar reads {shown}"
        assert len(set(shown)) == len(labels)
        assert [selected == "true" for _, selected in bar] == [i == index for i in range(len(labels))], (
            f"after clicking {label!r}: {bar}"
        )
    shot(page, f"tabs-{locale}")
    page.context.close()
