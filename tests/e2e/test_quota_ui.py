"""Free videos a day on the page as a person sees it (headless Chromium on a 390 px phone, the tiny
model in a real app with `--free-videos-per-day 2`): the line above Generate says what is left in
the page's language, and goes down once a video is submitted from the same address."""

from __future__ import annotations

import pytest
from gradio_client import Client
from playwright.sync_api import expect

from tests.conftest import InProcessApp
from tests.e2e.test_browser import browser, open_sized, shot, visible_tab  # noqa: F401

FAST = dict(num_inference_steps=2, num_frames=9)


@pytest.fixture(scope="module")
def quota_app(tmp_path_factory):
    running = InProcessApp(tmp_path_factory.mktemp("quota-ui"), extra_args=("--free-videos-per-day", "2"))
    yield running
    running.close()


def test_the_phone_shows_what_is_left_today_and_it_goes_down_after_a_video(browser, quota_app):  # noqa: F811
    page = open_sized(browser, quota_app, 390, 844, locale="zh-CN")
    note = visible_tab(page).locator(".prose.free-left")
    expect(note).to_have_text("今天还可以生成 2 个视频", timeout=60_000)
    # A video from the same address (the browser and this client both connect from 127.0.0.1).
    Client(quota_app.url, verbose=False).predict(prompt="a kite", api_name="/text_to_video", **FAST)
    expect(note).to_have_text("今天还可以生成 1 个视频", timeout=60_000)  # the page's timer: within 10 s
    # On the phone it rides just above the sticky Generate bar, so it is read before the tap.
    page.evaluate("window.scrollTo(0, 0)")
    box, bar = note.bounding_box(), visible_tab(page).locator(".generate-row").bounding_box()
    assert box is not None and bar is not None and box["width"] <= 390
    assert 0 <= bar["y"] - (box["y"] + box["height"]) <= 12 and bar["y"] + bar["height"] <= 844 + 1
    shot(page, "quota-phone-zh", full_page=False)
    english = open_sized(browser, quota_app, 390, 844, locale="en-US")
    expect(visible_tab(english).locator(".prose.free-left")).to_have_text("1 free video left today", timeout=60_000)
