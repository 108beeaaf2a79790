"""A pass on the page (issue 24): the operator grants bob a day in the fast lane from the command
line; bob's header says the lane and when the pass ends, in the page's language, on one line on a
desktop, and never broken inside on a phone; carol, with no pass, reads the header as before."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from jobs import JobStore, Users
from tests.conftest import InProcessApp, run_cogvideo
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, ARGS, PATIENCE_MS  # noqa: F401

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1366, "height": 900}}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=PATIENCE_MS)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def pass_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("passes")
    data = str(tmp / "data")
    for name in ("bob", "carol"):
        assert run_cogvideo("users", "add", name, "--password-stdin", "--data-dir", data,
                            stdin=f"{name}-password\n").returncode == 0
    assert run_cogvideo("users", "grant", "bob", "--lane", "vip", "--days", "1", "--data-dir", data).returncode == 0
    store = JobStore(data)
    end = Users(store).get("bob").lane_until
    store.close()
    running = InProcessApp(tmp, data_dir=tmp / "data")
    running.pass_ends = time.strftime("%m-%d %H:%M", time.localtime(end))
    yield running
    running.close()


def signed_in(browser, app, user: str, locale: str, device: dict):
    """A page of `user` (password NAME-password) in `locale` on `device`, signed in and loaded."""
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale}, **device)
    page = context.new_page()
    page.set_default_timeout(PATIENCE_MS)
    page.goto(app.url)
    page.locator("input[type=password]").wait_for()
    page.locator("input[type=text]").fill(user)
    page.locator("input[type=password]").fill(f"{user}-password")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=🎬")
    return page


def header(browser, app, user: str, locale: str, device: dict):
    page = signed_in(browser, app, user, locale, device)
    first = page.locator("#studio-status p").first
    expect(first).to_contain_text("模型" if locale.startswith("zh") else "Model")
    return page, first


@pytest.mark.parametrize("locale, device, said, one_line", [
    ("zh-CN", DESKTOP, "VIP 通道 · 至 {ends}", True),
    # On a phone, with the tiny model's long name ("tiny + tiny-i2v"), the lane moves down whole;
    # with "5b + 5b-i2v" the Chinese line fits.
    ("zh-CN", PHONE, "VIP 通道 · 至 {ends}", False),
    ("en-US", DESKTOP, "fast lane · until {ends}", True),
])
def test_the_header_says_the_pass_and_its_end(browser, pass_app, locale, device, said, one_line):
    page, first = header(browser, pass_app, "bob", locale, device)
    lane = first.locator(".lane")
    expect(lane).to_have_text(said.format(ends=pass_app.pass_ends))
    page.screenshot(path=str(ARTIFACTS / f"pass-header-{locale}-{device['viewport']['width']}.png"))
    line = first.evaluate("el => parseFloat(getComputedStyle(el).lineHeight) || 20")
    assert lane.bounding_box()["height"] < 1.6 * line, lane.inner_text()  # never "until 12-08 / 14:00"
    if one_line:
        assert first.bounding_box()["height"] < 1.6 * line, first.inner_text()
    page.context.close()


def test_a_user_without_a_pass_reads_the_header_as_before(browser, pass_app):
    page, first = header(browser, pass_app, "carol", "zh-CN", PHONE)
    expect(first).to_contain_text("普通通道")
    assert "至" not in first.inner_text()
    page.context.close()
