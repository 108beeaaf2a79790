"""The admin console in Chromium (issue 24, item 5): ops, an admin made with `users add --admin`,
sees 管理后台 with the users, the line and the plots from the job store, selects a waiting job and
cancels it; bob, signed in without the role, never sees the tab. Chinese on a desktop, English on
a phone. The jobs are rows put in the store at chosen times, as the
service (or a Ray head) would have left them."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from jobs import JobStore
from jobs.job import FAILED, STANDARD, SUCCEEDED, VIP
from tests.conftest import InProcessApp, run_cogvideo
from tests.e2e.test_browser import ARTIFACTS, PATIENCE_MS  # noqa: F401
from tests.e2e.test_codes_ui import signed_in
from tests.e2e.test_passes_ui import DESKTOP, PHONE, browser  # noqa: F401
from tests.test_admin import put


@pytest.fixture(scope="module")
def admin_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin")
    data = str(tmp / "data")
    for name, extra in (("ops", ("--admin",)), ("bob", ())):
        assert run_cogvideo("users", "add", name, *extra, "--password-stdin", "--data-dir", data,
                            stdin=f"{name}-password\n").returncode == 0
    assert run_cogvideo("codes", "make", "--days", "7", "--count", "1", "--data-dir", data).returncode == 0
    store = JobStore(data)
    now = time.time()
    for back, wait, seconds in ((5, 4, 60), (4, 9, 75), (3, 2, 58), (2, 30, 90), (1, 3, 64)):
        put(store, "bob", VIP, SUCCEEDED, now - back * 3600, now - back * 3600 + wait, now - back * 3600 + wait + seconds,
            speed="quality")
        put(store, "ops", STANDARD, SUCCEEDED, now - back * 3600 - 600, now - back * 3600 - 600 + wait * 20,
            now - back * 3600 - 600 + wait * 20 + seconds / 2, speed="fast")
    put(store, "bob", STANDARD, FAILED, now - 7200, now - 7100, now - 7000)
    store.close()
    running = InProcessApp(tmp, data_dir=tmp / "data")
    yield running
    running.close()


@pytest.mark.parametrize("locale, device, words", [
    ("zh-CN", DESKTOP, dict(tab="管理后台", works="我的作品", users="用户", plot="每小时任务数（按通道）",
                            wait="开始前等待时间", cancel="取消选中的任务", stopping="正在停止", told="将在下一步停止",
                            lane="VIP 快速通道")),
    ("en-US", PHONE, dict(tab="Admin", works="My works", users="User", plot="Jobs per hour, by lane",
                          wait="Wait before start", cancel="Cancel the selected job", stopping="stopping",
                          told="stops at its next step", lane="fast lane")),
])
def test_an_admin_sees_the_console_and_cancels_a_job(browser, admin_app, locale, device, words):  # noqa: F811
    # A job rendering on a worker of another machine, as a Ray head would have written it.
    store = JobStore(admin_app.data_dir)
    now = time.time()
    rendering = put(store, "bob", VIP, "running", now - 300, now - 240, worker="node-2/GPU 1")
    store.close()

    page = signed_in(browser, admin_app, "ops", locale, device)
    page.get_by_role("tab", name=words["tab"]).click()
    expect(page.locator("#admin-users")).to_contain_text("bob")
    expect(page.locator("#admin-users")).to_contain_text(words["users"])
    expect(page.locator("#admin-jobs-per-hour")).to_contain_text(words["plot"])
    expect(page.locator("#admin-waits")).to_contain_text(words["wait"])
    expect(page.locator("#admin-waits")).to_contain_text(words["lane"])
    expect(page.locator("#admin-render-times canvas, #admin-render-times svg").first).to_be_visible()
    expect(page.locator("#admin-codes")).to_contain_text("7")
    page.screenshot(path=str(ARTIFACTS / f"admin-{locale}.png"), full_page=True)

    page.locator("#admin-line [role=gridcell]").filter(has_text=rendering).first.click()
    expect(page.locator("#admin-chosen textarea, #admin-chosen input").first).to_have_value(rendering)
    page.get_by_role("button", name=words["cancel"]).click()
    expect(page.locator(".toast-body").last).to_contain_text(words["told"])
    expect(page.locator("#admin-line")).to_contain_text(words["stopping"])
    page.locator("#admin-line").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"admin-cancelled-{locale}.png"))
    page.context.close()

    store = JobStore(admin_app.data_dir)
    assert store.get(rendering).cancel_requested
    store.close()


def test_a_user_without_the_role_never_sees_the_console(browser, admin_app):  # noqa: F811
    page = signed_in(browser, admin_app, "bob", "zh-CN", DESKTOP)
    works = page.get_by_role("tab", name="我的作品")
    works.click()  # the page has loaded its tabs' visibility by now
    expect(page.locator("#works-redeem")).to_be_visible()
    expect(page.get_by_role("tab", name="管理后台")).to_have_count(0)
    expect(page.locator("#admin-users")).to_have_count(0)
    page.context.close()
