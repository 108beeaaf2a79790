"""A signed-in page whose user the operator removes (headless Chromium, the real CLI in its own process).

The page was open and signed in; `python -m cogvideo users remove` runs; the page's next calls are
refused and it says why, in the page's language; a reload shows the sign-in form.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, RunningApp
from tests.e2e.test_browser import ARTIFACTS, browser  # noqa: F401
from ui.i18n import TEXT


def cogvideo(data_dir, *words: str, stdin: str = "") -> None:
    done = subprocess.run([sys.executable, "-m", "cogvideo", *words, "--data-dir", str(data_dir)], input=stdin,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signed-out")
    cogvideo(tmp / "data", "users", "add", "lin", "--password-stdin", stdin="lin-password\n")
    app = RunningApp(tmp, data_dir=tmp / "data")
    yield app
    app.close()


def test_a_removed_users_open_page_says_so_and_asks_for_a_sign_in(browser, signed_app):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 900},
                                  extra_http_headers={"Accept-Language": "zh-CN"})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(signed_app.url)
    page.locator("input[type=password]").wait_for()
    page.locator("input[type=text]").fill("lin")
    page.locator("input[type=password]").fill("lin-password")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=🎬")
    works, text_to_video = TEXT["tab_works"][1], TEXT["tab_t2v"][1]
    page.get_by_role("tab", name=works, exact=True).click()
    page.get_by_text("当前用户").first.wait_for()  # signed in: the works tab names the user

    cogvideo(signed_app.data_dir, "users", "remove", "lin")

    # The first call after the removal is an unqueued one (the tab's listing), whose error the page
    # does not show; the next, queued, call says why.
    page.get_by_role("tab", name=text_to_video, exact=True).click()
    page.get_by_role("tab", name=works, exact=True).click()
    page.get_by_role("tab", name=text_to_video, exact=True).click()
    page.get_by_role("button", name=TEXT["generate"][1]).first.click()
    toast = page.get_by_test_id("toast-text").filter(has_text="你已退出登录")
    toast.first.wait_for(timeout=30_000)
    assert "请刷新页面后重新登录" in toast.first.inner_text()
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / "signed-out-toast.png"))
    page.reload()
    page.locator("input[type=password]").wait_for()  # the sign-in form, not the studio
    assert page.get_by_text("🎬").count() == 0
    context.close()
